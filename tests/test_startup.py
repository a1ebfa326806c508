"""What each command imports: start-up is most of a short command's time.

openai (~1.5 s), matplotlib (~1.4 s) and numba (~0.8 s) are loaded only by the
commands that use them. Each case runs in a fresh interpreter, since this
process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("openai", "matplotlib", "numba")
PROBE = """
import contextlib, io, json, sys
import cli.main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        cli.main.main({argv!r})
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(argv: list[str]) -> list[str]:
    code = PROBE.format(argv=argv, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("argv", "allowed"), [
    (["--help"], set()),
    (["spec", "check", "scenarios/specs/platform.toml"], set()),
    (["list", "scenarios"], set()),
    (["run", "trust-network", "--steps", "3", "--json"], set()),
])
def test_commands_import_only_what_they_use(argv: list[str], allowed: set[str]) -> None:
    assert set(_loaded(argv)) <= allowed, argv


def test_the_probe_sees_heavy_imports() -> None:
    # Guards the probe's premise: the plotting module does pull matplotlib in.
    code = "import sys, analysis.plots; print(int('matplotlib' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "1"
