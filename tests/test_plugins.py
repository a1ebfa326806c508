"""Plugins from outside the repository: loaded by --plugin and scenario files, listed, checked, refused.

The example plugin of docs/extending.md (docs/examples/myplugin) is copied to a
temporary folder and driven through the command line in a fresh process, as a
user would; broken plugins exit 2 with one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin and its scenario in a folder outside the repository."""
    d = tmp_path_factory.mktemp("user")
    shutil.copytree(EXAMPLE / "myplugin", d / "myplugin")
    shutil.copy(EXAMPLE / "stag-hunt.toml", d / "stag-hunt.toml")
    return d


def test_list_shows_what_the_plugin_registers(outside: Path) -> None:
    r = _cli("list", "--plugin", "myplugin", "--json", cwd=outside)
    assert r.returncode == 0, r.stderr
    got = {k: [row["id"] for row in v] for k, v in json.loads(r.stdout).items()}
    assert got == {"scenarios": [], "specs": ["hunter"], "environments": ["stag-hunt"],
                   "policies": ["assurance"], "checks": ["no_hare_after_stag"],
                   "metrics": ["payoff_spread", "stags"]}


@pytest.mark.parametrize("how", ["flag", "scenario"])
def test_a_run_uses_the_plugin(outside: Path, how: str) -> None:
    extra = ["--plugin", str(outside / "myplugin")] if how == "flag" else []
    r = _cli("run", "stag-hunt.toml", "--json", *extra, cwd=outside)
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)["metrics"]
    assert metrics["stags"] > 0 and metrics["payoff_spread"] > 0
    assert "compliance.keep_faith" in metrics


def test_workers_import_the_plugin(outside: Path) -> None:
    r = _cli("run", "stag-hunt.toml", "--runs", "2", "--workers", "2", "--out", str(outside / "sw"),
             "--json", cwd=outside)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["status"] for row in rows] == ["done", "done"]


def test_check_passes_the_example(outside: Path) -> None:
    r = _cli("check", "myplugin", cwd=outside)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 of 6 passed" in r.stdout


BROKEN = {
    "import_error": ("import no_such_module_xyz\n", "no module named 'no_such_module_xyz'"),
    "clash": ("from agents.policies import RankingPolicy, policy\n"
              "@policy('tit_for_tat')\nclass Mine(RankingPolicy):\n"
              "    def rank(self, obs, acts):\n        return (0,)\n", "clashes with"),
    "bad_class": ("from scenarios.environment import Environment\n"
                  "class Broken(Environment):\n    cardinality = (2, 'x')\n",
                  "cardinality must be a tuple of positive integers"),
    "no_rank": ("from agents.policies import RankingPolicy, policy\n"
                "@policy('lazy')\nclass Lazy(RankingPolicy):\n    pass\n", "does not implement rank"),
    "raises": ("raise RuntimeError('boom')\n", "import failed: RuntimeError: boom"),
}


@pytest.fixture
def inproc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run the command line in this process from ``tmp_path``; forget its plugins afterwards."""
    from cli.main import main
    from sim import plugins

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(plugins._LOADED)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    for name in set(plugins._LOADED) - before:
        plugins._forget(name)
        del plugins._LOADED[name]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_plugin_is_one_line_and_exit_2(tmp_path: Path, inproc, case: str) -> None:
    body, expected = BROKEN[case]
    (tmp_path / f"bad_{case}.py").write_text(body)
    code, _, err = inproc("list", "--plugin", f"bad_{case}")
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expected in err


def test_check_fails_loudly_on_an_environment_it_cannot_build(tmp_path: Path, inproc) -> None:
    (tmp_path / "unbuildable.py").write_text(
        "from collections import namedtuple\nfrom dataclasses import dataclass\n"
        "from agents.acts import Act, ActSpace\n"
        "from scenarios.environment import Environment, environment\n"
        "@dataclass(frozen=True)\nclass P:\n    needed: int\n"
        "@environment('unbuildable')\nclass U(Environment):\n    Params = P\n"
        "    acts = ActSpace([Act('a'), Act('b')])\n    Obs = namedtuple('O', 'x')\n    cardinality = (2,)\n"
        "    def step(self, model):\n        pass\n")
    code, out, _ = inproc("check", "unbuildable")
    assert code == 1
    assert "FAIL environment unbuildable" in out and "cannot build a run" in out


def test_entry_points_are_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An installed package's ``specbound.plugins`` entry point is imported by itself."""
    from agents.policies import POLICIES
    from sim import plugins

    (tmp_path / "ep_plugin_test.py").write_text(
        "from agents.policies import RankingPolicy, policy\n"
        "@policy('ep-test-policy')\nclass EpTest(RankingPolicy):\n"
        "    def rank(self, obs, acts):\n        return (0,)\n")
    # Installed as pip would leave it: metadata and entry points in a dist-info folder.
    info = tmp_path / "ep_plugin_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin-test\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{plugins.GROUP}]\nep = ep_plugin_test\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "_ENTRY_POINTS_DONE", [])
    try:
        plugins.load_entry_points()
        assert "ep-test-policy" in POLICIES
        assert plugins._LOADED["ep_plugin_test"].policies == ("ep-test-policy",)
    finally:
        plugins._forget("ep_plugin_test")
        plugins._LOADED.pop("ep_plugin_test", None)
    assert "ep-test-policy" not in POLICIES
