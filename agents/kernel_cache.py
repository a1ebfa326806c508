"""Where compiled kernels are cached: a directory keyed on the kernels' sources.

Why a module of its own: ``agents.jit`` imports numba (~0.8 s), and the commands that only
ask where the cache is (``specbound warm`` finding its mark, pruning old directories) should
not pay for that. ``agents.jit`` points numba here before any kernel is decorated.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: The project root (the directory holding ``agents/``).
ROOT = Path(__file__).resolve().parents[1]

#: Every file a compiled kernel is built from: the modules that define jitted functions, and
#: the modules that define what they import (constants are frozen into machine code).
KERNEL_SOURCES: tuple[str, ...] = (
    "agents/hashing.py",
    "agents/jit.py",  # the njit options kernels compile with
    "agents/kernel_entry.py",
    "agents/pair_align.py",
    "agents/pair_runs.py",
    "agents/policies/base.py",
    "agents/policies/contributors.py",
    "agents/policies/fp_kernel.py",
    "agents/policies/q_kernel.py",
    "agents/uniques.py",
    "scenarios/beliefs_kernel.py",
    "scenarios/commons_kernel.py",
    "scenarios/commons_table.py",
    "scenarios/draw_block.py",
    "scenarios/environment.py",
    "scenarios/injection_kernel.py",
    "scenarios/injection_rules.py",
    "scenarios/ipd_agents.py",
    "scenarios/ipd_classes.py",
    "scenarios/ipd_kernel.py",
    "scenarios/ipd_learners.py",
    "scenarios/ipd_replays.py",
    "scenarios/ipd_rows.py",
    "scenarios/kernel_sums.py",
    "scenarios/mailbox.py",
    "scenarios/negotiation_kernel.py",
    "scenarios/pairwise.py",
    "scenarios/pairwise_tree.py",
    "scenarios/public_goods_fg_kernel.py",
    "scenarios/public_goods_kernel.py",
    "scenarios/spatial_kernel.py",
    "scenarios/stretch.py",
    "scenarios/tooth_fairy_kernel.py",
    "scenarios/tooth_fairy_rules.py",
    "scenarios/trust_game_kernel.py",
    "scenarios/trust_game_learners.py",
    "sim/moves_kernel.py",
    "sim/rewire_kernel.py",
    "sim/summary_kernel.py",
)

#: Prefix of a keyed cache directory's name.
PREFIX = "specbound-"


def sources_key(root: Path = ROOT, sources: tuple[str, ...] = KERNEL_SOURCES) -> str:
    """A hash of the declared sources' names and contents (a missing file hashes as absent)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sources:
        digest.update(name.encode() + b"\0")
        try:
            digest.update((root / name).read_bytes())
        except OSError:
            digest.update(b"\0absent\0")
    return digest.hexdigest()


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where this process's kernels are cached: ``<base>/specbound-<key>``.

    The base is the user's ``NUMBA_CACHE_DIR`` if set (a keyed directory set by a parent
    process counts as its base's), else ``.numba-cache`` at the project root, else the
    temporary directory's (an installed, read-only tree).
    """
    given = environ.get("NUMBA_CACHE_DIR", "")
    if given:
        base = Path(given)
        if base.name.startswith(PREFIX):
            base = base.parent
    else:
        base = ROOT / ".numba-cache"
        if not _writable(base):
            base = Path(tempfile.gettempdir()) / "specbound-numba-cache"
    return base / (PREFIX + sources_key())


def configure() -> Path:
    """Point numba's cache at :func:`cache_dir` (before any kernel is decorated)."""
    path = cache_dir()
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    # Stamped at each use: ``stale`` tells a directory in use from one of sources long gone.
    with contextlib.suppress(OSError):
        path.mkdir(parents=True, exist_ok=True)
        os.utime(path)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba already loaded: its config read the environment already
        config.CACHE_DIR = str(path)  # type: ignore[attr-defined]
    return path


#: Seconds a keyed directory for other sources stays untouched before ``stale`` lists it: a
#: process started before the sources changed may still be loading from it.
STALE_AFTER = 3600.0


def stale(current: Path, now: float, after: float = STALE_AFTER) -> list[Path]:
    """Keyed directories beside ``current`` (other sources' caches) no process has used for
    ``after`` seconds (``configure`` stamps a directory at each use).

    Each holds ~10-20 MB of machine code no process of today's sources can load.
    """
    if not current.parent.is_dir():
        return []
    return sorted(p for p in current.parent.iterdir()
                  if p.is_dir() and p.name.startswith(PREFIX) and p != current
                  and now - p.stat().st_mtime >= after)
