"""Import the Model Spec's own markdown into a spec of text-only principles.

The Model Spec marks each rule with an attribute block on its heading::

    ### Do not lie {#do_not_lie authority=user}

How this module reads the document:

- A heading at any depth (``#`` to ``######``) whose block has an ``authority=``
  is a principle: its id, its level, its heading as the first line of the text,
  and ``tags=`` (comma-separated) as tags.
- A heading with an id but no authority is a section grouping; the ids of the
  groupings a principle sits in become its tags (``section:<id>``), so the
  document's structure is not lost.
- A principle's text is its heading plus the body up to the next heading of the
  same or a higher level, or the next principle heading at any depth (a nested
  principle is its own principle; nested headings without authority, such as
  example subsections, stay in the text).
- Lines inside fenced code blocks (``` or ~~~) are never headings.

The principles are text-only (no check): LLM agents read them; to score them,
extend the imported spec and redefine principles with checks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePath

from agents.errors import SpecError
from agents.spec import ID_PATTERN, Level, Spec, SpecLibrary

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*\{#([^}]*)\}[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ANY_HEADING = re.compile(r"^(#{1,6})[ \t]")


@dataclass(frozen=True, slots=True)
class _Heading:
    line: int  # 0-based index into the document's lines
    depth: int
    title: str
    id: str
    authority: str | None
    tags: tuple[str, ...]


def _attributes(raw: str, source: str, line: int) -> tuple[str, dict[str, str]]:
    parts = raw.split()
    if not parts or "=" in parts[0]:
        raise SpecError(f"{source}:{line}: heading attributes {{#{raw}}} must start with an id")
    attrs = {}
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        if not eq:
            raise SpecError(f"{source}:{line}: heading attribute {part!r} is not key=value")
        attrs[key] = value
    return parts[0], attrs


def _headings(lines: list[str], source: str) -> tuple[list[_Heading], set[int]]:
    """Every attributed heading, and the line indexes of all headings outside code."""
    fence: str | None = None
    found: list[_Heading] = []
    all_headings: set[int] = set()
    for i, line in enumerate(lines):
        m = _FENCE.match(line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and not line.strip()[len(mark):]:
                fence = None
            continue
        if fence is not None or not _ANY_HEADING.match(line):
            continue
        all_headings.add(i)
        h = _HEADING.match(line)
        if not h:
            continue
        hid, attrs = _attributes(h.group(3), source, i + 1)
        tags = tuple(t for t in attrs.get("tags", "").split(",") if t)
        found.append(_Heading(i, len(h.group(1)), h.group(2), hid, attrs.get("authority"), tags))
    return found, all_headings


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip("#"))


def _section(lines: list[str], h: _Heading, headings: set[int], principles: set[int]) -> str:
    end = len(lines)
    for j in range(h.line + 1, len(lines)):
        if j in headings and (_depth(lines[j]) <= h.depth or j in principles):
            end = j
            break
    body = "\n".join(lines[h.line + 1 : end]).strip("\n")
    return f"{h.title}\n\n{body}".rstrip() if body.strip() else h.title


def toml_string(s: str) -> str:
    """``s`` as a TOML basic string (multi-line when it has line breaks)."""
    if "\n" not in s:
        # JSON escapes are valid TOML escapes, except that TOML also wants DEL escaped.
        return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n" or ch == "\t":
            out.append(ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"""\n' + "".join(out) + '"""'


def _spec_id(source_name: str) -> str:
    stem = PurePath(source_name).stem or "imported"
    sid = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "imported"
    return sid if ID_PATTERN.match(sid) else f"spec-{sid}"


def import_model_spec(markdown_text: str, source_name: str) -> tuple[str, Spec]:
    """Turn a Model Spec-style markdown document into a spec.

    Args:
        markdown_text: the document.
        source_name: its file name: names errors and gives the spec id (the stem).

    Returns:
        The spec as TOML text and the spec parsed back from that text (so the
        two always agree).

    Raises:
        SpecError: no heading with ``authority=``, an unknown authority, a
            malformed or duplicate id (one line naming the file and line).
    """
    lines = markdown_text.splitlines()
    found, all_headings = _headings(lines, source_name)
    principle_lines = {h.line for h in found if h.authority is not None}
    if not principle_lines:
        raise SpecError(
            f"{source_name}: no principle headings; expected headings such as "
            "'## Title {#some_id authority=user}'"
        )
    allowed = tuple(n for n in Level.names() if n != "none")
    groups: list[_Heading] = []
    seen: dict[str, int] = {}
    blocks = []
    for h in found:
        where = f"{source_name}:{h.line + 1}"
        if not ID_PATTERN.match(h.id):
            raise SpecError(f"{where}: heading id {h.id!r} is not an identifier")
        if h.id in seen:
            raise SpecError(f"{where}: duplicate heading id {h.id!r} (first at line {seen[h.id]})")
        seen[h.id] = h.line + 1
        groups = [g for g in groups if g.depth < h.depth]
        if h.authority is None:
            groups.append(h)
            continue
        if h.authority not in allowed:
            raise SpecError(
                f"{where}: {h.id}: unknown authority {h.authority!r}; allowed: {', '.join(allowed)}"
            )
        tags = (*h.tags, *(f"section:{g.id}" for g in groups))
        text = _section(lines, h, all_headings, principle_lines)
        blocks.append(
            "\n[[principles]]\n"
            f"id = {toml_string(h.id)}\n"
            f"level = {toml_string(h.authority)}\n"
            f"tags = [{', '.join(toml_string(t) for t in tags)}]\n"
            f"text = {toml_string(text)}\n"
        )
    sid = _spec_id(source_name)
    head = (
        f"# Imported from {source_name} by `specbound spec import`: text-only principles\n"
        "# with the document's own levels. Extend this spec to add checks.\n"
        "[spec]\n"
        f"id = {toml_string(sid)}\n"
        'version = "1"\n'
        f"description = {toml_string(f'Imported from {source_name}: {len(blocks)} principles')}\n"
    )
    toml_text = head + "".join(blocks)
    # Parsing the text back guarantees the file and the returned spec agree.
    spec = SpecLibrary(shipped=False).load_text(toml_text, f"{source_name} (imported)")
    return toml_text, spec
