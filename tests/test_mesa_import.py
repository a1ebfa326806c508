"""``agents.mesa_import``: mesa imported the light way is mesa as its own import leaves it."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What mesa's import derives from the stack: its module loggers' names, and the class name each
# ``method_logger`` wrapper logs (read back from the calls a DEBUG logger records).
PROBE = """
import io, json, logging, sys
if sys.argv[1] == "light":
    from agents.mesa_import import mesa
else:
    import mesa
import mesa.mesa_logging as L
out = io.StringIO()
logger = logging.getLogger("MESA")
logger.addHandler(logging.StreamHandler(out))
logger.setLevel(logging.DEBUG)
mesa.Model(rng=0)
print(json.dumps({"loggers": sorted((k, v.name) for k, v in L._module_loggers.items()),
                  "calls": [ln for ln in out.getvalue().splitlines() if ln.startswith("calling ")]}))
"""


def _probe(mode: str) -> dict[str, list]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                          cwd=ROOT)
    return json.loads(done.stdout)


def test_light_import_names_loggers_and_classes_as_mesa_does() -> None:
    light, plain = _probe("light"), _probe("plain")
    assert light == plain
    assert ["mesa.model", "MESA.mesa.model"] in light["loggers"]  # named from the stack
    assert any(call.startswith("calling Model.__init__") for call in light["calls"]), light["calls"]


def test_inspect_is_left_as_it_was() -> None:
    import agents.mesa_import

    assert agents.mesa_import.load() is sys.modules["mesa"]
    assert inspect.stack.__module__ == "inspect" and inspect.getouterframes.__module__ == "inspect"


def test_light_frames_match_inspects_own() -> None:
    from agents.mesa_import import stack

    def fields(frames: list[inspect.FrameInfo]) -> list[tuple]:
        return [(f.frame, f.filename, f.lineno, f.function) for f in frames]

    here, theirs = stack(), inspect.stack()
    # The two calls sit on different lines of this frame; every outer frame is the same.
    assert fields(here)[1:] == fields(theirs)[1:]
    assert here[0].frame is theirs[0].frame and here[0].function == "test_light_frames_match_inspects_own"
