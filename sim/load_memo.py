"""Scenarios loaded from files, remembered per process while nothing they were built from changed.

Why: a sweep's or a benchmark's runs load the same scenario file with the same
overrides again and again; validating it (groups, policies, specs, events,
metric names) costs about a millisecond, as much as a 12-agent round robin's
whole simulation. A loaded :class:`sim.scenario.Scenario` is a frozen value
that runs only read (``run_model`` already reuses one given to it), so a load
may hand out the one an earlier identical load built.

An entry is used only while its *stamp* holds: the scenario file's and every
spec layer file's modification time and size, the spec folders' listings, and
the sizes of the registries a load consults (a plugin that registers a policy
or a metric changes them). Scenarios that load plugins or spec folders of their
own are never remembered (their imports have effects of their own).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping
from typing import Any

#: Loaded scenarios kept per process (the oldest goes first).
MAX_ENTRIES = 16


#: Scalar types frozen as (type name, value); looked up by exact type before the ABC checks,
#: which cost a microsecond each (a round robin's overrides are a dozen integers).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def frozen(value: Any) -> Hashable | None:
    """A hashable, order-preserving form of TOML-like override values; None if not one."""
    if type(value) in _PLAIN:
        return (type(value).__name__, value)
    if type(value) is dict and all(type(v) in _PLAIN for v in value.values()):
        # Flat overrides (a sweep point, a round robin's group counts): the general case's
        # output, without a call per value.
        return ("{", tuple([(k, (type(v).__name__, v)) for k, v in value.items()]))
    if isinstance(value, Mapping):
        items = tuple((k, frozen(v)) for k, v in value.items())
        return None if any(v is None and value[k] is not None for k, v in items) else ("{", items)
    if isinstance(value, (list, tuple)):
        items = tuple(frozen(v) for v in value)
        return None if any(f is None and v is not None for f, v in zip(items, value, strict=True)) \
            else ("[", type(value).__name__, items)
    if value is None or isinstance(value, (str, int, float, bool)):
        return (type(value).__name__, value)
    return None


def file_stamp(paths: tuple[str, ...]) -> tuple[tuple[int, ...], ...] | None:
    """(modification time, size) of each path; None when one cannot be read."""
    return _stamp(paths, False)


def identity_stamp(paths: tuple[str, ...]) -> tuple[tuple[int, ...], ...] | None:
    """``file_stamp`` with each file's (device, inode) first, as the parse cache keys a file: a
    file replaced by another of the same time and size is then a different file."""
    return _stamp(paths, True)


def _stamp(paths: tuple[str, ...], identity: bool) -> tuple[tuple[int, ...], ...] | None:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            return None
        out.append((st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size) if identity
                   else (st.st_mtime_ns, st.st_size))
    return tuple(out)


class LoadMemo:
    """Loaded scenarios by (file, overrides, flags), each with the paths and stamp it depends on."""

    def __init__(self, limit: int = MAX_ENTRIES,
                 stamp: Callable[[tuple[str, ...]], Hashable | None] = file_stamp) -> None:
        self.limit = limit
        self.stamp = stamp
        self._items: dict[Hashable, tuple[Any, tuple[str, ...], Hashable]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, registries: Hashable) -> Any:
        """The scenario filed under ``key`` if its files and the registries are as they were."""
        hit = self._items.get(key)
        if hit is None:
            return None
        scenario, paths, stamp = hit
        if stamp != (registries, self.stamp(paths)):
            del self._items[key]
            return None
        return scenario

    def put(self, key: Hashable, registries: Hashable, scenario: Any, paths: tuple[str, ...]) -> None:
        """File ``scenario``, built from the files ``paths`` (stamped now)."""
        stamp = self.stamp(paths)
        if stamp is None:
            return
        self._items.pop(key, None)
        if len(self._items) >= self.limit:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (scenario, paths, (registries, stamp))

    def clear(self) -> None:
        self._items.clear()

    def holds(self, key: Hashable, scenario: Any) -> bool:
        """Whether ``scenario`` is what is filed under ``key`` (its stamp not checked)."""
        hit = self._items.get(key)
        return hit is not None and hit[0] is scenario

    def find(self, key: Hashable, registries: Callable[[], Hashable]) -> Any:
        """``get``, the registries read only when ``key`` is filed (a miss costs one look-up)."""
        return None if key not in self._items else self.get(key, registries())


#: The process's memo of loaded scenarios (see the module doc).
LOADED = LoadMemo()
#: Shipped scenarios by the id a caller named (``sim.scenario.load_scenario``'s short cut), each
#: with its key in ``LOADED``: the same scenarios, found without resolving the id again.
BY_ID = LoadMemo(stamp=identity_stamp)


def remembered(key: Hashable | None, registries: Callable[[], Hashable], load: Callable[[], Any],
               paths_of: Callable[[Any], tuple[str, ...]]) -> Any:
    """``load()``, or the scenario an identical earlier load built; ``key`` None: always load.

    The registries are read after a load, since loading may import what registers more.
    """
    if key is None:
        return load()
    found = LOADED.get(key, registries())
    if found is not None:
        return found
    scenario = load()
    LOADED.put(key, registries(), scenario, paths_of(scenario))
    return scenario
