"""Observation proxies that record which fields a computation reads.

A decision is a pure function of the observation, but most policies and checks
look at only a few of its fields (``tit_for_tat`` reads ``partner_last``, a
generic check reads only the act). Run a decision on a :class:`RecordingObs`
and the fields it read are known; any observation agreeing on those fields
takes the same path and gets the same decision, so the engine can share the
result between them instead of computing it again (see ``sim/model.py``).

The proxy must never under-record: reading a field by name records that field;
anything that could see every value (iteration, indexing, hashing, equality,
``repr``, ``_asdict``, ``_replace``...) records every field. Names the
observation does not have raise ``AttributeError`` as on the real namedtuple,
so ``getattr(obs, "asked", None)`` keeps working and records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: Non-field attributes that reveal no field value (the field names themselves).
_VALUE_FREE = frozenset({"_fields", "_field_defaults"})

#: The tuple protocol, which bypasses ``__getattr__``: each one may see every value.
_WHOLE = (
    "__iter__", "__reversed__", "__getitem__", "__len__", "__contains__",
    "__hash__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
    "__add__", "__radd__", "__mul__", "__rmul__", "__repr__", "__str__",
    "__format__", "__reduce__", "__reduce_ex__", "__getnewargs__",
)  # fmt: skip


class RecordingObs:
    """Wraps an observation namedtuple; records the names of the fields read.

    The proxy's own state lives in underscore slots, names no namedtuple field
    can take. It reports the observation's class as its ``__class__`` so a
    policy's ``isinstance(obs, SomeObs)`` answers as it would without the proxy.
    """

    __slots__ = ("_obs", "_read")

    def __init__(self, obs: Any, read: set[str] | None = None) -> None:
        self._obs = obs
        self._read: set[str] = set() if read is None else read

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the proxy does not define itself.
        obs = self._obs
        value = getattr(obs, name)  # an unknown name raises AttributeError, recording nothing
        if name in obs._fields:
            self._read.add(name)
        elif name not in _VALUE_FREE:
            # A method of the tuple (_asdict, _replace, count, index): it may see any field.
            self._read.update(obs._fields)
        return value

    def __bool__(self) -> bool:
        # A namedtuple's truth depends on its length alone, never on a value.
        return bool(self._obs)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._obs)


def _whole(name: str) -> Callable[..., Any]:
    """A dunder that records every field, then forwards to the real observation."""

    def forward(self: RecordingObs, *args: Any) -> Any:
        self._read.update(self._obs._fields)
        return getattr(self._obs, name)(*(unwrap(a) for a in args))

    forward.__name__ = name
    return forward


for _name in _WHOLE:
    setattr(RecordingObs, _name, _whole(_name))


def recording(obs: Any) -> RecordingObs:
    """A proxy of ``obs`` (a real observation) with an empty record."""
    return RecordingObs(unwrap(obs))


def unwrap(obs: Any) -> Any:
    """The real observation behind a proxy (anything else is returned as it is)."""
    return obs._obs if type(obs) is RecordingObs else obs


def is_recording(obs: Any) -> bool:
    return type(obs) is RecordingObs


def fields_read(obs: RecordingObs) -> frozenset[str]:
    """The fields read through ``obs`` so far."""
    return frozenset(obs._read)


def fork(obs: RecordingObs) -> RecordingObs:
    """A proxy of the same observation with its own, empty record (reads of one sub-computation)."""
    return RecordingObs(obs._obs)


def note(obs: RecordingObs, fields: Iterable[str]) -> None:
    """Record ``fields`` as read through ``obs`` (replaying a memoised sub-computation's reads)."""
    obs._read.update(fields)
