"""``specbound warm`` (sim/warm.py): every kernel compiled ahead, once per version of the sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agents import kernel_cache
from cli.main import main
from sim import warm as warming

ROOT = Path(__file__).resolve().parent.parent


def _shipped() -> set[str]:
    import scenarios

    return {p.stem for p in Path(scenarios.__file__).parent.glob("*.toml")}


def test_the_runs_cover_every_shipped_scenario_but_the_declared_ones() -> None:
    refs = {run.ref for run in warming.RUNS}
    assert refs | set(warming.LEFT_OUT) == _shipped()
    assert not set(refs) & set(warming.LEFT_OUT)


def test_a_marked_cache_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    keyed = tmp_path / (kernel_cache.PREFIX + "0" * 16)
    keyed.mkdir()
    monkeypatch.setattr(warming, "cache_dir", lambda: keyed)
    monkeypatch.setattr(warming, "compiler", lambda: "numba 1, python 3\n")
    (keyed / warming.MARK).write_text("numba 1, python 3\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm cache must not start a pool")

    monkeypatch.setattr(warming, "ProcessPoolExecutor", refuse)
    assert warming.warm().status == "warm"
    assert main(["warm"]) == 0
    assert f"already compiled in {keyed}" in capsys.readouterr().out


def test_without_numba_there_is_nothing_to_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warming, "cache_dir", lambda: tmp_path / "specbound-x")
    monkeypatch.setattr(warming, "compiler", lambda: None)
    done = warming.warm()
    assert (done.status, done.ran) == ("no numba", ())
    assert not (tmp_path / "specbound-x" / warming.MARK).exists()


def test_old_caches_of_other_sources_are_pruned_and_nothing_else(tmp_path: Path) -> None:
    current = tmp_path / (kernel_cache.PREFIX + "a" * 16)
    old, recent = tmp_path / (kernel_cache.PREFIX + "b" * 16), tmp_path / (kernel_cache.PREFIX + "c" * 16)
    other = tmp_path / "someone-elses"
    for path in (current, old, recent, other):
        path.mkdir()
    now = time.time()
    for path in (current, old, other):
        os.utime(path, (now - 2 * kernel_cache.STALE_AFTER,) * 2)
    assert kernel_cache.stale(current, now) == [old]
    assert kernel_cache.stale(tmp_path / "absent" / "specbound-x", now) == []


def test_a_mark_of_another_numba_is_no_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyed = tmp_path / (kernel_cache.PREFIX + "0" * 16)
    keyed.mkdir()
    (keyed / warming.MARK).write_text("numba 0.1, python 3.0\n")
    monkeypatch.setattr(warming, "cache_dir", lambda: keyed)
    monkeypatch.setattr(warming, "compiler", lambda: "numba 1, python 3\n")
    monkeypatch.setattr(warming, "RUNS", ())  # nothing to run: the point is that it would run
    monkeypatch.setattr(warming, "ProcessPoolExecutor", lambda max_workers, mp_context: ThreadPoolExecutor(max_workers))
    assert warming.warm().status == "compiled"
    assert (keyed / warming.MARK).read_text() == "numba 1, python 3\n"


def test_a_warming_run_takes_the_compiled_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes warming work: the declared negotiation run is large enough for its kernel."""
    pytest.importorskip("numba")
    from scenarios import negotiation_kernel

    calls: list[int] = []
    real = negotiation_kernel.settle

    def spy(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(negotiation_kernel, "settle", spy)
    warming._compile(next(r for r in warming.RUNS if r.ref == "negotiation-honest-first"))
    assert calls


def test_sized_runs_keep_the_group_proportions() -> None:
    assert warming.overrides(warming.Warmup("commons")) == {}
    sized = warming.overrides(warming.Warmup("commons", 1000, (("steps", 3),)))
    assert sized.pop("steps") == 3
    assert 990 <= sum(sized.values()) <= 1010 and len(sized) >= 2


def test_a_cold_compile_is_announced_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``specbound run`` on a terminal says a compile follows, rather than looking hung; a
    function loaded from the cache raises no compile event, so a warm cache says nothing."""
    numba = pytest.importorskip("numba")
    import agents.jit  # noqa: F401  (numba loaded: the listener registers at once)
    from agents import kernel_loader

    said: list[str] = []
    monkeypatch.setattr(kernel_loader, "on_cold", None)
    kernel_loader.announce_compiles(said.append)
    try:
        assert numba.njit(lambda x: x + 1)(1) == 2  # compiled now: never cached
        assert numba.njit(lambda x: x + 2)(1) == 3
    finally:
        kernel_loader.announce_compiles(None)
    assert said == [__name__]


#: Plays every warming run in a fresh process, then names the kernel sources it never imported.
_UNIMPORTED = """
import json, sys
import numba  # noqa: F401  (loaded first, as in a warming worker)
from agents.kernel_cache import KERNEL_SOURCES
from sim import warm
for run in warm.RUNS:
    warm._compile(run)
print(json.dumps([m for m in (s[:-3].replace("/", ".") for s in KERNEL_SOURCES) if m not in sys.modules]))
"""


# A few seconds on the cache `make test` warms first; cold, every kernel compiles here.
@pytest.mark.timeout(1200)
def test_the_runs_import_every_kernel_module() -> None:
    """A kernel that only some paths load (a learner's update, reached only when the run steps;
    one behind a work threshold) is compiled by whichever run first needs it, in ``make test``
    or the bench, unless a warming run reaches it: every module kernels compile from
    (``KERNEL_SOURCES``, which ``test_jit_cache`` keeps complete) must be imported by them."""
    pytest.importorskip("numba")
    proc = subprocess.run([sys.executable, "-c", _UNIMPORTED], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=1100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
