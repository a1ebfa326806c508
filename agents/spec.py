"""Specs: levels of authority, principles and layered rulebooks.

A spec is a versioned document of principles written for humans first, in TOML.
A principle's level is the authority needed to override it (Model Spec chain
of command): ``root > system > developer > user > guideline > none``.

The file format (every key is checked; a typo is an error, never ignored)::

    [spec]                     id (required), version, description,
                               extends = [spec ids], peer_authority = level name
    [[principles]]             id, level, text (required); check, params = {...},
                               examples = [{situation | messages, good, bad, reason}],
                               tags = [...]

Ids are identifiers (``[A-Za-z_][A-Za-z0-9_-]*``) so that dotted paths can name
them; a library file is named after its spec id. Layering: ``extends`` lists
bases from the most basic up; the layers are linearised base first (each base's
own layers, first occurrence kept), and a principle redefined by a later layer
replaces the inherited one and takes that layer's place in the weight order.
``peer_authority`` comes from the most derived layer that sets it.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import Any

from agents.errors import SpecError


class Level(IntEnum):
    """Levels of authority, ordered so that a higher value outranks a lower one."""

    NONE = 0
    GUIDELINE = 1
    USER = 2
    DEVELOPER = 3
    SYSTEM = 4
    ROOT = 5

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(m.name.lower() for m in sorted(cls, reverse=True))

    @classmethod
    def parse(cls, value: str) -> Level:
        """Parse ``"developer"`` and friends; raises ``ValueError`` naming the allowed values."""
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise ValueError(
                f"unknown level {value!r}; allowed: {', '.join(cls.names())}"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


def freeze_params(params: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """Check params as a hashable, order-independent tuple of items."""
    if not params:
        return ()
    return tuple(sorted((str(k), _freeze(v)) for k, v in params.items()))


def _freeze(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


@dataclass(frozen=True, slots=True)
class Principle:
    """One rule of a spec.

    ``check`` names a registered check (see :mod:`agents.checks`); ``None``
    makes the principle text-only: LLM agents read it, audits report it as
    unscored. ``layer`` is the id of the spec that (last) defined it.
    """

    id: str
    level: Level
    text: str = ""
    check: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    examples: tuple[tuple[tuple[str, Any], ...], ...] = ()
    tags: tuple[str, ...] = ()
    layer: str = ""

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class Spec:
    """A resolved spec: all layers of ``extends`` applied.

    ``principles`` is in order of weight, as the resolver reads it: the most
    derived layer first, then the layers it extends; within a layer, file
    order. A principle redefined by a later layer takes that layer's place.
    ``layers`` lists the spec ids from the base up to this spec.
    ``texts`` maps each layer id to its TOML source, for provenance.
    ``peer_authority`` is the authority granted to messages from peers and
    tools: NONE in every sound spec (they are information, not instructions).
    """

    id: str
    version: str = "1"
    description: str = ""
    extends: tuple[str, ...] = ()
    principles: tuple[Principle, ...] = ()
    layers: tuple[str, ...] = ()
    texts: tuple[tuple[str, str], ...] = field(default=(), compare=False, hash=False)
    peer_authority: Level = Level.NONE

    def principle(self, pid: str) -> Principle | None:
        for p in self.principles:
            if p.id == pid:
                return p
        return None

    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.principles)


# --- loading: TOML text -> one validated layer ------------------------------------

#: Identifiers for specs and principles: what dotted paths and ``extends`` can name.
ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

_TOP_KEYS = ("spec", "principles")
_SPEC_KEYS = ("id", "version", "description", "extends", "peer_authority")
_PRINCIPLE_KEYS = ("id", "level", "text", "check", "params", "examples", "tags")
_EXAMPLE_KEYS = ("situation", "messages", "good", "bad", "reason")
#: Roles an example's conversation may use (``agents.spec_examples`` turns them into eval cases).
EXAMPLE_ROLES = ("system", "developer", "user", "assistant", "tool")
#: A principle at level ``none`` would bind nobody, so it is not offered.
PRINCIPLE_LEVELS = tuple(n for n in Level.names() if n != "none")
#: The fields of a principle a dotted path may set.
PRINCIPLE_FIELDS = ("level", "text", "check", "params", "tags")


class _Bad(Exception):
    """A value problem without its location; callers add file, line and key."""


@dataclass(frozen=True, slots=True)
class SpecLayer:
    """One spec file as written, before its ``extends`` are applied.

    ``peer_authority`` is ``None`` when the file does not set it (the layer
    inherits it). ``amendments`` are patches to principles this layer inherits
    but does not redefine: ``(principle id, field, value)``, applied in place so
    that a patch never moves a principle in the weight order.
    """

    id: str
    version: str = "1"
    description: str = ""
    extends: tuple[str, ...] = ()
    principles: tuple[Principle, ...] = ()
    peer_authority: Level | None = None
    amendments: tuple[tuple[str, str, Any], ...] = ()
    source: str = ""
    text: str = field(default="", compare=False, repr=False)

    def own(self, pid: str) -> Principle | None:
        for p in self.principles:
            if p.id == pid:
                return p
        return None


def _type_name(v: Any) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "float", list: "array",
            dict: "table"}.get(type(v), type(v).__name__)


def _as_str(v: Any, what: str = "a string") -> str:
    if not isinstance(v, str):
        raise _Bad(f"must be {what}, got {_type_name(v)} {v!r}")
    return v


def _as_id(v: Any) -> str:
    s = _as_str(v)
    if not ID_PATTERN.match(s):
        raise _Bad(f"{s!r} is not an identifier (letters, digits, '_' and '-', "
                   "starting with a letter or '_')")
    return s


def _as_level(v: Any, allowed: tuple[str, ...] = PRINCIPLE_LEVELS) -> Level:
    if isinstance(v, Level) and str(v) in allowed:
        return v
    if not isinstance(v, str) or v.lower() not in allowed:
        raise _Bad(f"unknown level {v!r}; allowed: {', '.join(allowed)}")
    return Level.parse(v.lower())


def _as_version(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise _Bad(f"must be a string (or integer), got {_type_name(v)} {v!r}")
    return str(v)


def _as_text(v: Any) -> str:
    s = _as_str(v)
    if not s.strip():
        raise _Bad("must not be empty: a principle is written for humans first")
    return s


def _as_check(v: Any) -> str | None:
    if v is None or v == "":
        return None
    name = _as_str(v, "a check name")
    from agents.checks import CHECKS  # agents.checks imports this module's errors only

    if name not in CHECKS:
        raise _Bad(f"unknown check {name!r}; available: {', '.join(sorted(CHECKS)) or 'none'}")
    return name


def _as_tags(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list | tuple) or not all(isinstance(t, str) for t in v):
        raise _Bad(f"must be an array of strings, got {_type_name(v)} {v!r}")
    return tuple(v)


def _as_table(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(f"must be a table, got {_type_name(v)} {v!r}")
    return v


def _params_problem(check: str | None, params: dict[str, Any]) -> str | None:
    if check is None:
        return f"params {sorted(params)} given without a check" if params else None
    from agents.checks import param_problem

    return param_problem(check, params)


def _as_examples(v: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """Examples as frozen (key, value) items: ``situation`` or ``messages``, ``good``, ``bad``.

    ``good`` and ``bad`` are a string or a list of strings; ``messages`` is a list of
    ``{role, content, name}`` tables, frozen as (role, content, name) triples.
    """
    if not isinstance(v, list):
        raise _Bad(f"must be an array of tables, got {_type_name(v)} {v!r}")
    out = []
    for i, ex in enumerate(v):
        if not isinstance(ex, dict):
            raise _Bad(f"[{i}] must be a table with {', '.join(_EXAMPLE_KEYS)}")
        unknown = sorted(set(ex) - set(_EXAMPLE_KEYS))
        if unknown:
            raise _Bad(f"[{i}]: unknown key {unknown[0]!r}; allowed: {', '.join(_EXAMPLE_KEYS)}")
        if "situation" not in ex and "messages" not in ex:
            raise _Bad(f"[{i}]: missing key 'situation' (or 'messages', a conversation)")
        items: list[tuple[str, Any]] = []
        for k in _EXAMPLE_KEYS:
            if k not in ex:
                continue
            x = ex[k]
            if k == "messages":
                items.append((k, _as_messages(x, i)))
            elif k in ("good", "bad") and isinstance(x, list):
                if not all(isinstance(a, str) for a in x):
                    raise _Bad(f"[{i}].{k} must be a string or an array of strings, got {x!r}")
                items.append((k, tuple(x)))
            elif not isinstance(x, str):
                raise _Bad(f"[{i}].{k} must be a string, got {_type_name(x)} {x!r}")
            else:
                items.append((k, x))
        out.append(tuple(items))
    return tuple(out)


def _as_messages(v: Any, i: int) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(v, list) or not v:
        raise _Bad(f"[{i}].messages must be a non-empty array of {{role, content}} tables")
    out = []
    for j, m in enumerate(v):
        where = f"[{i}].messages[{j}]"
        if not isinstance(m, dict) or not {"role", "content"} <= set(m) or set(m) - {
                "role", "content", "name"}:
            raise _Bad(f"{where} must be a table with role, content (and optional name)")
        if m["role"] not in EXAMPLE_ROLES:
            raise _Bad(f"{where}.role {m['role']!r} is not allowed; allowed: "
                       f"{', '.join(EXAMPLE_ROLES)}")
        if not isinstance(m["content"], str) or not isinstance(m.get("name", ""), str):
            raise _Bad(f"{where}.content and name must be strings")
        out.append((m["role"], m["content"], m.get("name", "")))
    return tuple(out)


class _Locator:
    """Finds the line of a key in the TOML text, so errors can point at it.

    tomllib reports lines only for syntax errors; for semantic errors we scan
    the text for the table header and the ``key =`` line (best effort: keys
    written inline or as dotted keys fall back to the table's header line).
    """

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.spec_line: int | None = None
        self.principle_lines: list[int] = []
        self._ends: dict[int, int] = {}
        headers: list[int] = []
        for n, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line)
            if not m:
                continue
            headers.append(n)
            name = m.group(1).replace(" ", "")
            if name == "spec" and not line.lstrip().startswith("[["):
                self.spec_line = self.spec_line or n
            elif name == "principles" and line.lstrip().startswith("[["):
                self.principle_lines.append(n)
        for a, b in zip(headers, [*headers[1:], len(self.lines) + 1], strict=False):
            self._ends[a] = b

    def line(self, table: int | None, key: str | None) -> int | None:
        if table is None:
            return None
        if key is not None:
            pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*[=.]")
            for n in range(table + 1, self._ends.get(table, table + 1)):
                if pat.match(self.lines[n - 1]):
                    return n
        return table

    def error(self, where: str, problem: str, table: int | None = None,
              key: str | None = None) -> SpecError:
        n = self.line(table, key)
        at = f"{self.source}:{n}" if n else self.source
        return SpecError(f"{at}: {where}: {problem}" if where else f"{at}: {problem}")


def _decode(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"{source}: not UTF-8 text (byte {e.start}); a spec is a TOML file") from None


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = " ".join(str(e).split())
        m = _TOML_AT.search(msg)
        if m:
            msg = f"{source}:{m.group(1)}: not valid TOML: {msg[: m.start()]} (column {m.group(2)})"
        else:
            msg = f"{source}: not valid TOML: {msg}"
        raise SpecError(msg) from None
    except RecursionError:
        raise SpecError(f"{source}: not valid TOML: nested too deeply") from None


def parse_layer(data: bytes | str, source: str) -> SpecLayer:
    """Parse and validate one spec file (without resolving ``extends``).

    Args:
        data: the file's bytes or text.
        source: the file name used in error messages.

    Raises:
        SpecError: one line naming ``source``, the line where known, the key and
            what is allowed. Nothing else escapes, whatever the input.
    """
    from agents.checks import CHECKS

    return _parse_cached(_decode(data, source), source, tuple(sorted(CHECKS)))


@functools.lru_cache(maxsize=256)
def _parse_cached(text: str, source: str, _checks: tuple[str, ...]) -> SpecLayer:
    # Keyed on the registered check names: a check registered later may make a
    # previously invalid file valid. Values are immutable, so sharing is safe.
    if not text.strip():
        raise SpecError(f"{source}: empty file; a spec needs a [spec] table with an id")
    doc = _toml(text, source)
    loc = _Locator(source, text)
    if not doc:
        raise SpecError(f"{source}: no [spec] table (the file holds only comments)")
    unknown = sorted(set(doc) - set(_TOP_KEYS))
    if unknown:
        raise loc.error("", f"unknown key {unknown[0]!r}; allowed: {', '.join(_TOP_KEYS)}",
                        *_top_line(loc, unknown[0]))
    if "spec" not in doc:
        raise loc.error("", "missing [spec] table (with id, version, description, extends)")
    head = doc["spec"]
    if not isinstance(head, dict):
        raise loc.error("spec", f"must be a table, got {_type_name(head)}", *_top_line(loc, "spec"))
    sid, version, description, extends, peer = _spec_head(head, loc)
    raw = doc.get("principles", [])
    if not isinstance(raw, list):
        raise loc.error("principles", "must be an array of tables ([[principles]])",
                        *_top_line(loc, "principles"))
    principles: list[Principle] = []
    seen: dict[str, int] = {}
    # Header lines map to principles only when the counts agree (a "[[principles]]"
    # inside a multi-line string, or an inline array, would shift them).
    tables = loc.principle_lines if len(loc.principle_lines) == len(raw) else [None] * len(raw)
    for i, item in enumerate(raw):
        table = tables[i]
        p = _principle(item, i, sid, loc, table)
        if p.id in seen:
            raise loc.error(f"principles.{p.id}",
                            f"duplicate principle id (first defined as principles[{seen[p.id]}])",
                            table, "id")
        seen[p.id] = i
        principles.append(p)
    return SpecLayer(sid, version, description, extends, tuple(principles), peer,
                     source=source, text=text)


def _top_line(loc: _Locator, key: str) -> tuple[int | None, str | None]:
    for n, line in enumerate(loc.lines, 1):
        if re.match(rf"^\s*\[*\s*{re.escape(key)}\b", line):
            return n, None
    return None, None


def _spec_head(
    head: dict[str, Any], loc: _Locator
) -> tuple[str, str, str, tuple[str, ...], Level | None]:
    t = loc.spec_line
    unknown = sorted(set(head) - set(_SPEC_KEYS))
    if unknown:
        raise loc.error(f"spec.{unknown[0]}",
                        f"unknown key; allowed: {', '.join(_SPEC_KEYS)}", t, unknown[0])
    if "id" not in head:
        raise loc.error("spec", "missing key 'id'", t)
    try:
        key = "id"
        sid = _as_id(head["id"])
        key = "version"
        version = _as_version(head.get("version", "1"))
        key = "description"
        description = _as_str(head.get("description", ""))
        key = "extends"
        ext = head.get("extends", [])
        if not isinstance(ext, list):
            raise _Bad(f"must be an array of spec ids, got {_type_name(ext)} {ext!r}")
        extends = tuple(_as_id(e) for e in ext)
        if sid in extends:
            raise _Bad(f"spec {sid!r} extends itself")
        if len(set(extends)) != len(extends):
            raise _Bad(f"lists a spec twice: {list(extends)}")
        key = "peer_authority"
        peer = head.get("peer_authority")
        peer_level = None if peer is None else _as_level(peer, Level.names())
    except _Bad as e:
        raise loc.error(f"spec.{key}", str(e), t, key) from None
    return sid, version, description, extends, peer_level


def _principle(item: Any, i: int, layer: str, loc: _Locator, table: int | None) -> Principle:
    if not isinstance(item, dict):
        raise loc.error(f"principles[{i}]", f"must be a table, got {_type_name(item)}", table)
    if "id" not in item:
        raise loc.error(f"principles[{i}]", "missing key 'id'", table)
    try:
        pid = _as_id(item["id"])
    except _Bad as e:
        raise loc.error(f"principles[{i}].id", str(e), table, "id") from None
    where = f"principles.{pid}"
    unknown = sorted(set(item) - set(_PRINCIPLE_KEYS))
    if unknown:
        raise loc.error(f"{where}.{unknown[0]}",
                        f"unknown key; allowed: {', '.join(_PRINCIPLE_KEYS)}", table, unknown[0])
    for required in ("level", "text"):
        if required not in item:
            raise loc.error(where, f"missing key {required!r}", table)
    key = "level"
    try:
        level = _as_level(item["level"])
        key = "text"
        text = _as_text(item["text"])
        key = "check"
        check_name = _as_check(item.get("check"))
        key = "params"
        params = _as_table(item.get("params", {}))
        problem = _params_problem(check_name, params)
        if problem:
            raise _Bad(problem)
        key = "examples"
        examples = _as_examples(item.get("examples", []))
        key = "tags"
        tags = _as_tags(item.get("tags", []))
    except _Bad as e:
        raise loc.error(f"{where}.{key}", str(e), table, key) from None
    return Principle(pid, level, text, check_name, freeze_params(params), examples, tags, layer)


# --- patches: dotted paths into a layer or a resolved spec -------------------------

_SPEC_FIELDS = ("version", "description", "peer_authority")


def _set_principle_field(p: Principle, name: str, value: Any) -> Principle:
    """``p`` with field ``name`` (``level``, ``params.fact``...) set.

    The value is validated on its own; whether check and params still fit
    together is for :func:`_checked`, once every patch to ``p`` is in (a patch
    may change the check and its params in two steps).
    """
    if name == "level":
        return replace(p, level=_as_level(value))
    if name == "text":
        return replace(p, text=_as_text(value))
    if name == "tags":
        return replace(p, tags=_as_tags(value))
    if name == "check":
        return replace(p, check=_as_check(value))
    if name == "params":
        return replace(p, params=freeze_params(_as_table(value)))
    if name.startswith("params.") and len(name) > len("params."):
        params = p.param_dict
        params[name[len("params."):]] = value
        return replace(p, params=freeze_params(params))
    raise _Bad(f"unknown field {name!r}; allowed: {', '.join(PRINCIPLE_FIELDS)}, params.<name>")


def _checked(p: Principle) -> Principle:
    problem = _params_problem(p.check, p.param_dict)
    if problem:
        raise _Bad(problem)
    return p


def _split_path(dotted: Any) -> tuple[str, str | None, str | None]:
    """``"principles.x.level"`` -> ``("principles", "x", "level")``; spec fields -> (field, None, None)."""
    if not isinstance(dotted, str):
        raise _Bad(f"a patch path must be a string, got {dotted!r}")
    if dotted in _SPEC_FIELDS:
        return dotted, None, None
    parts = dotted.split(".", 2)
    if parts[0] == "principles" and len(parts) == 3 and parts[1]:
        return "principles", parts[1], parts[2]
    raise _Bad(f"unknown path; allowed: {', '.join(_SPEC_FIELDS)}, "
               f"principles.<id>.<{'|'.join(PRINCIPLE_FIELDS)}|params.<name>>")


def _set_spec_field(obj: Any, name: str, value: Any) -> Any:
    if name == "version":
        return replace(obj, version=_as_version(value))
    if name == "description":
        return replace(obj, description=_as_str(value))
    return replace(obj, peer_authority=_as_level(value, Level.names()))


def _patch_note(dotted: str, value: Any) -> str:
    return f"\n# patched: {dotted} = {value!r}\n"


def patch_spec(spec: Spec, patches: Mapping[str, Any]) -> Spec:
    """Apply runtime patches (``{"principles.do_not_lie.level": "root"}``) to a resolved spec.

    Principles are addressed by id and keep their place in the weight order, so
    a patch changes exactly what it names. Used by ``patch_spec`` script events.

    Raises:
        SpecError: ``<spec id>: <dotted path> = <value>: <problem>``.
    """
    principles = list(spec.principles)
    out = spec
    touched: dict[int, tuple[str, Any]] = {}  # principle index -> last patch to it
    for dotted, value in patches.items():
        try:
            head, pid, name = _split_path(dotted)
            if pid is None:
                out = _set_spec_field(out, head, value)
                continue
            idx = next((i for i, p in enumerate(principles) if p.id == pid), None)
            if idx is None:
                raise _Bad(f"no principle {pid!r}; known: {', '.join(spec.ids()) or 'none'}")
            principles[idx] = _set_principle_field(principles[idx], name or "", value)
            touched[idx] = (dotted, value)
        except _Bad as e:
            raise SpecError(f"spec {spec.id}: {dotted} = {value!r}: {e}") from None
    for idx, (dotted, value) in touched.items():
        try:
            _checked(principles[idx])
        except _Bad as e:
            raise SpecError(f"spec {spec.id}: {dotted} = {value!r}: {e}") from None
    notes = "".join(_patch_note(d, v) for d, v in patches.items())
    texts = tuple((lid, t + notes if lid == spec.id else t) for lid, t in spec.texts)
    return replace(out, principles=tuple(principles), texts=texts)


def _patch_layer(layer: SpecLayer, inherited: Spec, dotted: str, value: Any) -> SpecLayer:
    """``layer`` with one patch applied; ``inherited`` is the resolved spec of that layer.

    A principle the layer defines is edited in place; one it only inherits gets
    an amendment, so every spec extending this layer sees the change.
    """
    head, pid, name = _split_path(dotted)
    if pid is None:
        return _set_spec_field(layer, head, value)
    own = layer.own(pid)
    if own is not None:
        new = _set_principle_field(own, name or "", value)
        return replace(layer, principles=tuple(new if p.id == pid else p
                                               for p in layer.principles))
    base = inherited.principle(pid)
    if base is None:
        raise _Bad(f"no principle {pid!r}; known: {', '.join(inherited.ids()) or 'none'}")
    _set_principle_field(base, name or "", value)  # validate the value now, where it is named
    return replace(layer, amendments=(*layer.amendments, (pid, name or "", value)))


def _resolve(sid: str, layers: Mapping[str, SpecLayer], known: Iterable[str],
             memo: dict[str, Spec], stack: tuple[str, ...] = ()) -> Spec:
    if sid in memo:
        return memo[sid]
    layer = layers[sid]
    order: list[str] = []
    for base in layer.extends:
        if base in stack or base == sid:
            cycle = [*stack[stack.index(base):], sid, base] if base in stack else [sid, base]
            raise SpecError(f"{layer.source}: spec.extends: cycle {' -> '.join(cycle)}")
        if base not in layers:
            raise SpecError(f"{layer.source}: spec.extends: unknown spec {base!r}; "
                            f"known: {', '.join(sorted(known)) or 'none'}")
        for lid in _resolve(base, layers, known, memo, (*stack, sid)).layers:
            if lid not in order:
                order.append(lid)
    order.append(sid)
    # The winning definition of each principle and the layer whose place it takes.
    winner: dict[str, Principle] = {}
    peer = Level.NONE
    for lid in order:
        lay = layers[lid]
        for p in lay.principles:
            winner[p.id] = p
        for pid, name, value in lay.amendments:
            if pid not in winner:  # a base layer changed under the patch
                raise SpecError(f"{lay.source}: patch principles.{pid}.{name}: no such principle")
            try:
                winner[pid] = _set_principle_field(winner[pid], name, value)
            except _Bad as e:
                raise SpecError(f"{lay.source}: patch principles.{pid}.{name}: {e}") from None
        if lay.peer_authority is not None:
            peer = lay.peer_authority
    principles = tuple(
        winner[p.id] for lid in reversed(order) for p in layers[lid].principles
        if winner[p.id].layer == lid
    )
    spec = Spec(sid, layer.version, layer.description, layer.extends, principles,
                tuple(order), tuple((lid, layers[lid].text) for lid in order), peer)
    memo[sid] = spec
    return spec


# --- the library: where specs are found, parsed once and resolved ------------------


def shipped_specs_dir() -> Path:
    """The ``scenarios/specs`` directory shipped with the package.

    Found without importing ``scenarios`` (``agents`` never imports it).
    """
    found = importlib.util.find_spec("scenarios")
    if found is not None and found.submodule_search_locations:
        return Path(next(iter(found.submodule_search_locations))) / "specs"
    return Path(__file__).resolve().parent.parent / "scenarios" / "specs"


class SpecLibrary:
    """The specs a run can name: shipped ones plus extra directories and files.

    Files are indexed by name (``<id>.toml``; the file's ``spec.id`` must match)
    and parsed on first use; resolved specs are cached per library. Two files
    defining one id are an error rather than a silent shadowing.

    Args:
        paths: extra directories (every ``*.toml`` in them) or single files.
        shipped: include the shipped ``scenarios/specs`` directory (first).
    """

    def __init__(self, paths: Iterable[str | Path] = (), *, shipped: bool = True) -> None:
        self._files: dict[str, Path] = {}
        self._layers: dict[str, SpecLayer] = {}
        self._specs: dict[str, Spec] = {}
        self._patched: dict[str, SpecLayer] = {}
        roots = [shipped_specs_dir()] if shipped else []
        roots += [Path(p) for p in paths]
        for root in roots:
            if root.is_dir():
                files = [root / name for name in _toml_names(root)]
            elif root.is_file():
                files = [root]
            else:
                raise SpecError(f"{root}: no such spec file or directory")
            for f in files:
                self._index(f)

    def _index(self, path: Path) -> None:
        sid = path.stem
        other = self._files.get(sid)
        if other is not None and other.resolve() != path.resolve():
            raise SpecError(f"{path}: spec id {sid!r} is already defined by {other}")
        self._files[sid] = path

    def ids(self) -> list[str]:
        """Every spec id the library can resolve, sorted."""
        return sorted(set(self._files) | set(self._layers))

    def __contains__(self, sid: object) -> bool:
        return sid in self._files or sid in self._layers

    def source(self, sid: str) -> str:
        """Where the spec ``sid`` comes from (a path)."""
        return self.layer(sid).source

    def layer(self, sid: str) -> SpecLayer:
        """The layer ``sid`` as written (patches applied), without its bases."""
        if sid in self._patched:
            return self._patched[sid]
        if sid not in self._layers:
            path = self._files.get(sid)
            if path is None:
                raise SpecError(f"unknown spec {sid!r}; known: {', '.join(self.ids()) or 'none'}")
            layer = _parse_file(path)
            if layer.id != sid:
                raise SpecError(f"{path}: spec.id: {layer.id!r} does not match the file name; "
                                f"rename the file to {layer.id}.toml or set id = {sid!r}")
            self._layers[sid] = layer
        return self._layers[sid]

    def _all_layers(self, needed: str) -> dict[str, SpecLayer]:
        out: dict[str, SpecLayer] = {}
        todo = [needed]
        while todo:
            sid = todo.pop()
            if sid in out or sid not in self:
                continue
            out[sid] = self.layer(sid)
            todo.extend(out[sid].extends)
        return out

    def get(self, sid: str) -> Spec:
        """The resolved spec ``sid`` (all layers of ``extends`` applied)."""
        if sid not in self._specs:
            if sid not in self:
                raise SpecError(f"unknown spec {sid!r}; known: {', '.join(self.ids()) or 'none'}")
            _resolve(sid, self._all_layers(sid), self.ids(), self._specs)
        return self._specs[sid]

    def text(self, sid: str) -> str:
        """The TOML source of layer ``sid`` (as written; patches are appended as comments)."""
        return self.layer(sid).text

    def load_text(self, data: bytes | str, source: str = "<string>") -> Spec:
        """Parse a spec from text, add it to this library and return it resolved.

        The text may extend any spec of the library; its id must be new.
        """
        layer = parse_layer(data, source)
        if layer.id in self:
            old = self.layer(layer.id)
            if old.source != source or old.text != layer.text:
                raise SpecError(f"{source}: spec.id: {layer.id!r} is already defined by "
                                f"{old.source}; choose another id (and extend it)")
        self._layers[layer.id] = layer
        return self.get(layer.id)

    def load_file(self, path: str | Path) -> Spec:
        """Load a spec file, inside the library or not, and return it resolved."""
        path = Path(path)
        for sid, known in self._files.items():
            if known.resolve() == path.resolve():
                return self.get(sid)
        return self.load_text(_read(path), str(path))

    def patched(self, patches: Mapping[str, Mapping[str, Any]]) -> SpecLibrary:
        """A copy of this library with layers patched: ``{spec_id: {dotted: value}}``.

        A patch to a base layer is seen by every spec extending it. Parsed files
        are shared with this library, so a sweep pays only for the patch.

        Raises:
            SpecError: ``specs.<id>.<dotted path> = <value>: <problem>``.
        """
        new = SpecLibrary.__new__(SpecLibrary)
        new._files = dict(self._files)
        new._layers = dict(self._layers)
        new._patched = dict(self._patched)
        new._specs = {}
        touched: dict[str, dict[str, tuple[str, Any]]] = {}  # spec -> principle -> last patch
        for sid, changes in patches.items():
            if not isinstance(changes, Mapping):
                raise SpecError(f"specs.{sid}: a patch must map dotted paths to values, "
                                f"got {changes!r}")
            layer = new.layer(sid)
            inherited = new.get(sid)
            for dotted, value in changes.items():
                try:
                    layer = _patch_layer(layer, inherited, dotted, value)
                    pid = _split_path(dotted)[1]
                except _Bad as e:
                    raise SpecError(f"specs.{sid}.{dotted} = {value!r}: {e}") from None
                if pid is not None:
                    touched.setdefault(sid, {})[pid] = (dotted, value)
                layer = replace(layer, text=layer.text + _patch_note(dotted, value))
            new._patched[sid] = layer
            new._specs = {}
        # Check and params are validated together once every patch is in, in every
        # patched layer: a patch to a base may not break an amendment built on it.
        for sid, layer in new._patched.items():
            spec = new.get(sid)
            mine = touched.get(sid, {})
            for pid in {*mine, *(a[0] for a in layer.amendments)}:
                dotted, value = mine.get(pid, (f"principles.{pid}", "(earlier patch)"))
                try:
                    _checked(spec.principle(pid))  # type: ignore[arg-type]
                except _Bad as e:
                    raise SpecError(f"specs.{sid}.{dotted} = {value!r}: {e}") from None
        return new


def _toml_names(root: Path) -> tuple[str, ...]:
    """The ``*.toml`` file names in directory ``root``, sorted; listed once per version of it."""
    st = root.stat()
    return _toml_names_cached(str(root.resolve()), st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _toml_names_cached(root: str, mtime_ns: int) -> tuple[str, ...]:
    # A directory's mtime changes when a file is added, removed or renamed into it,
    # which is all a listing depends on. Every scenario load builds a library.
    del mtime_ns
    return tuple(sorted(p.name for p in Path(root).glob("*.toml")))


def _parse_file(path: Path) -> SpecLayer:
    """The parsed layer of a spec file, read again only when its mtime or size changed."""
    try:
        st = path.stat()
    except OSError:
        return parse_layer(_read(path), str(path))  # the one-line "cannot read" error
    from agents.checks import CHECKS

    return _parse_file_cached(str(path.resolve()), st.st_mtime_ns, st.st_size, str(path),
                              tuple(sorted(CHECKS)))


@functools.lru_cache(maxsize=256)
def _parse_file_cached(resolved: str, mtime_ns: int, size: int, source: str,
                       checks: tuple[str, ...]) -> SpecLayer:
    # Layers are frozen, so one parse is shared by every library. ``source`` is the
    # path as the library names it: error messages and provenance keep it.
    del mtime_ns, size, checks
    return parse_layer(_read(Path(resolved)), source)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SpecError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
