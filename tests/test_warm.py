"""``specbound warm`` (sim/warm.py): every kernel compiled ahead, once per version of the sources."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from agents import kernel_cache
from cli.main import main
from sim import warm as warming


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
    (keyed / warming.MARK).write_text("")
    monkeypatch.setattr(warming, "cache_dir", lambda: keyed)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm cache must not start a pool")

    monkeypatch.setattr(warming, "ProcessPoolExecutor", refuse)
    assert warming.warm().status == "warm"
    assert main(["warm"]) == 0
    assert f"already compiled in {keyed}" in capsys.readouterr().out


def test_without_numba_there_is_nothing_to_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warming, "cache_dir", lambda: tmp_path / "specbound-x")
    monkeypatch.setattr(warming, "numba_missing", lambda: True)
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


def test_a_warming_run_takes_the_compiled_path() -> None:
    """What makes warming work: the declared negotiation run is large enough for its kernel."""
    pytest.importorskip("numba")
    run = next(r for r in warming.RUNS if r.ref == "negotiation-honest-first")
    warming._compile(run)
    from scenarios import negotiation_kernel

    assert negotiation_kernel.settle.signatures  # compiled (or loaded from the cache) by the run


def test_sized_runs_keep_the_group_proportions() -> None:
    assert warming.overrides(warming.Warmup("commons")) == {}
    sized = warming.overrides(warming.Warmup("commons", 1000, (("steps", 3),)))
    assert sized.pop("steps") == 3
    assert 990 <= sum(sized.values()) <= 1010 and len(sized) >= 2


def test_a_cold_kernel_is_announced_before_it_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``specbound run`` on a terminal says a compile follows, rather than looking hung."""
    pytest.importorskip("numba")
    import agents
    from agents import kernel_loader

    keyed = tmp_path / (kernel_cache.PREFIX + "0" * 16)
    (keyed / "agents_x").mkdir(parents=True)
    monkeypatch.setattr(kernel_cache, "cache_dir", lambda: keyed)
    said: list[str] = []
    monkeypatch.setattr(kernel_loader, "on_cold", said.append)
    monkeypatch.setattr(agents, "uniques", agents.uniques)  # restored after the re-import
    monkeypatch.delitem(sys.modules, "agents.uniques")
    assert kernel_loader.optional_module("agents.uniques") is not None
    assert said == ["agents.uniques"]
    assert kernel_loader.optional_module("numba") is not None and said == ["agents.uniques"]

    (keyed / "agents_x" / "uniques.unique-10.py313.nbi").write_text("")  # its code is cached now
    monkeypatch.delitem(sys.modules, "agents.uniques")
    kernel_loader.optional_module("agents.uniques")
    assert said == ["agents.uniques"]
    (keyed / "agents_x" / "uniques.unique-10.py313.nbi").unlink()
    (keyed / warming.MARK).write_text("")  # or the whole cache is marked warm
    monkeypatch.delitem(sys.modules, "agents.uniques")
    kernel_loader.optional_module("agents.uniques")
    assert said == ["agents.uniques"]
