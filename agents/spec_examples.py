"""A spec's worked examples as eval cases: conversations with labelled answers.

The Model Spec illustrates its principles with ``<comparison>`` blocks: a
conversation (system, developer, user, assistant and tool messages) followed by
answers marked GOOD, BAD or OK, each with an optional reason. Each comparison
becomes one :class:`EvalCase` of the principle whose section holds it, at that
principle's authority level. A block may hold several comparisons (a
conversation that goes on after one): later ones see the earlier turns with
the first GOOD answer as what the assistant said.

A user's spec carries examples the same way, as TOML::

    [[principles.examples]]
    messages = [{ role = "developer", content = "..." }, { role = "user", content = "..." }]
    good = ["..."]          # a string or a list of strings
    bad = ["..."]
    reason = "..."          # optional: why the bad answers are bad

Only examples with ``messages`` are eval cases; an old-style
``{situation, good, bad}`` example describes acts for a simulation and is
counted as skipped. An eval case needs at least one GOOD and one BAD answer:
the judge grades against both and is calibrated on both.
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import SpecError
from agents.spec import Level, Spec

ROLES = ("system", "developer", "user", "assistant", "tool")
#: The SOURCE name of the Model Spec, and where to find its markdown.
MODEL_SPEC = "model-spec"
MODEL_SPEC_ENV = "SPECBOUND_MODEL_SPEC"
LABELS = ("good", "bad", "ok")
#: Characters of a principle's prose a judge reads (examples removed); bounds judge cost.
PRINCIPLE_CHARS = 3000

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*(?:\{#([^}]*)\})?[ \t]*$")
_OPEN = re.compile(r"^<(system|developer|user|assistant|tool|comparison)\b([^>]*)>(.*)$")
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')
_LABEL = re.compile(
    r"<!--\s*(GOOD|BAD|OK)\s*(?:\[#([\w-]+)\])?\s*[:,]?\s*(.*?)\s*-->", re.IGNORECASE
)
_CAPTION = re.compile(r"^\*\*Example\*\*:?\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a case's conversation.

    ``name`` is a tool's name on a tool message, or the recipient of an
    assistant message addressed to a tool (``functions.lookup``).
    """

    role: str
    content: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Reference:
    """A labelled answer: ``good``, ``bad`` or ``ok`` (acceptable, neither anchor).

    ``violates`` names another principle a BAD answer breaks (``BAD[#id]``);
    ``recipient`` marks an answer addressed to a tool.
    """

    label: str
    text: str
    reason: str = ""
    violates: str = ""
    recipient: str = ""


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One conversation to answer and the labelled answers it is judged against."""

    id: str
    principle: str
    level: Level
    messages: tuple[Message, ...]
    references: tuple[Reference, ...]
    title: str = ""
    source: str = ""

    def labelled(self, label: str) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.label == label)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (stored with the results)."""
        return {
            "id": self.id, "principle": self.principle, "level": str(self.level),
            "title": self.title, "source": self.source,
            "messages": [{"role": m.role, "content": m.content, "name": m.name}
                         for m in self.messages],
            "references": [{"label": r.label, "text": r.text, "reason": r.reason,
                            "violates": r.violates, "recipient": r.recipient}
                           for r in self.references],
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class PrincipleInfo:
    """What a judge needs to know of a principle: id, level, title and prose."""

    id: str
    level: Level
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class EvalSet:
    """The eval cases of one source document, with the principles they illustrate.

    ``skipped`` counts examples that are not eval cases (old-style situation
    examples of a spec).
    """

    name: str
    cases: tuple[EvalCase, ...]
    principles: tuple[PrincipleInfo, ...]
    skipped: int = 0

    def principle(self, pid: str) -> PrincipleInfo:
        for p in self.principles:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def select(self, ids: Sequence[str] | None) -> EvalSet:
        """Only the cases of the principles ``ids`` (all when empty or None).

        Raises:
            SpecError: an id that names no principle with cases, with the allowed ids.
        """
        if not ids:
            return self
        having = sorted({c.principle for c in self.cases})
        for pid in ids:
            if pid not in having:
                close = [h for h in having if pid.lower() in h.lower()][:5]
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise SpecError(
                    f"--principle {pid!r}: no eval case in {self.name} illustrates it{hint} "
                    f"(`specbound eval list {self.name}` shows the {len(having)} principles)"
                )
        wanted = set(ids)
        cases = tuple(c for c in self.cases if c.principle in wanted)
        return EvalSet(self.name, cases, self.principles, self.skipped)

    def by_principle(self) -> dict[str, int]:
        """Case counts per principle, in document order."""
        return dict(Counter(c.principle for c in self.cases))

    def by_level(self) -> dict[str, int]:
        """Case counts per authority level, highest first."""
        counts = Counter(str(c.level) for c in self.cases)
        return {name: counts[name] for name in Level.names() if counts[name]}


# --- the Model Spec's markdown ------------------------------------------------------


@dataclass
class _Section:
    depth: int
    id: str | None
    level: Level | None
    title: str
    prose: list[str]


def parse_model_spec(text: str, source: str) -> EvalSet:
    """Every ``<comparison>`` of a Model Spec-style markdown document as eval cases.

    A comparison belongs to the innermost enclosing heading that carries an
    ``authority=`` (a principle); one outside any principle is skipped.

    Raises:
        SpecError: a comparison with no labelled answer, or an unknown label
            (one line naming the file and line).
    """
    lines = text.splitlines()
    stack: list[_Section] = []
    sections: dict[str, _Section] = {}
    order: list[str] = []
    cases: list[EvalCase] = []
    per_principle: Counter[str] = Counter()
    caption = ""
    skipped = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            end = _fence_end(lines, i, fence.group(1))
            owner = next((s for s in reversed(stack) if s.level is not None), None)
            if fence.group(2).strip() == "xml":
                blocks = _comparisons(lines[i + 1 : end], source, i + 2)
                for title_suffix, line_no, messages, refs in blocks:
                    if owner is None:
                        skipped += 1
                        continue
                    assert owner.id is not None and owner.level is not None
                    per_principle[owner.id] += 1
                    title = caption + (f" ({title_suffix})" if title_suffix else "")
                    cases.append(EvalCase(f"{owner.id}/{per_principle[owner.id]}", owner.id,
                                          owner.level, messages, refs, title,
                                          f"{source}:{line_no}"))
            i = end + 1
            continue
        heading = _HEADING.match(line)
        if heading:
            depth = len(heading.group(1))
            stack = [s for s in stack if s.depth < depth]
            hid, level = _heading_attrs(heading.group(3) or "", source, i + 1)
            section = _Section(depth, hid, level, heading.group(2), [])
            stack.append(section)
            if hid and level is not None and hid not in sections:
                sections[hid] = section
                order.append(hid)
        else:
            cap = _CAPTION.match(line.strip())
            if cap:
                caption = cap.group(1).strip()
            owner = next((s for s in reversed(stack) if s.level is not None), None)
            if owner is not None and not cap:
                owner.prose.append(line)
        i += 1
    principles = tuple(
        PrincipleInfo(pid, sections[pid].level or Level.NONE, sections[pid].title,
                      _prose(sections[pid]))
        for pid in order
    )
    return EvalSet(_set_name(source), tuple(cases), principles, skipped)


def _set_name(source: str) -> str:
    stem = source.replace("\\", "/").rsplit("/", 1)[-1]
    return "model-spec" if stem == "model_spec.md" else stem


def _prose(section: _Section) -> str:
    text = "\n".join(section.prose).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > PRINCIPLE_CHARS:
        text = text[:PRINCIPLE_CHARS].rsplit(" ", 1)[0] + " [...]"
    return f"{section.title}\n\n{text}".strip()


def _heading_attrs(raw: str, source: str, line: int) -> tuple[str | None, Level | None]:
    parts = raw.split()
    if not parts:
        return None, None
    attrs = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    authority = attrs.get("authority")
    if authority is None:
        return parts[0], None
    try:
        return parts[0], Level.parse(authority)
    except ValueError as err:
        raise SpecError(f"{source}:{line}: {parts[0]}: {err}") from None


def _fence_end(lines: list[str], start: int, mark: str) -> int:
    """Index of the line closing the fence opened at ``start`` (or the last line)."""
    for j in range(start + 1, len(lines)):
        m = _FENCE.match(lines[j])
        if m and m.group(1)[0] == mark[0] and len(m.group(1)) >= len(mark) and not m.group(2).strip():
            return j
    return len(lines) - 1


_Block = tuple[str, int, tuple[Message, ...], tuple[Reference, ...]]


def _comparisons(body: list[str], source: str, first_line: int) -> list[_Block]:
    """The comparisons of one example block, each with the conversation before it."""
    history: list[Message] = []
    out: list[_Block] = []
    j = 0
    while j < len(body):
        m = _OPEN.match(body[j])
        if not m:
            j += 1
            continue
        tag, attrs, rest = m.group(1), dict(_ATTR.findall(m.group(2))), m.group(3)
        if tag == "comparison":
            end = _closing(body, j, "comparison")
            refs = _references(body[j + 1 : end], source, first_line + j)
            if not refs:
                raise SpecError(f"{source}:{first_line + j}: a <comparison> with no labelled "
                                "<assistant> answer (GOOD, BAD or OK)")
            turn = len(out) + 1
            out.append(("" if turn == 1 else f"turn {turn}", first_line + j, tuple(history),
                        tuple(refs)))
            shown = next((r for r in refs if r.label == "good"), None) or next(
                (r for r in refs if r.label == "ok"), refs[0])
            history.append(Message("assistant", shown.text, shown.recipient))
            j = end + 1
            continue
        end = _closing(body, j, tag)
        content = _content(body[j + 1 : end], rest)
        name = attrs.get("name", "") if tag == "tool" else attrs.get("recipient", "")
        history.append(Message(tag, content, name))
        j = end + 1
    return out


def _closing(body: list[str], start: int, tag: str) -> int:
    """Index of the line closing the tag opened at ``start`` (tags open and close on own lines)."""
    closing = f"</{tag}>"
    for k in range(start + 1, len(body)):
        if body[k].strip() == closing:
            return k
    return len(body)


def _content(lines: list[str], rest: str) -> str:
    # The document escapes markup inside messages (&lt;form&gt;); a model should see the text.
    text = "\n".join(lines)
    label_free = _LABEL.sub("", rest).strip()
    if label_free:
        text = label_free + ("\n" + text if text else "")
    return html.unescape(text).strip("\n")


def _references(lines: list[str], source: str, first_line: int) -> list[Reference]:
    refs: list[Reference] = []
    k = 0
    while k < len(lines):
        m = _OPEN.match(lines[k])
        if not m or m.group(1) != "assistant":
            k += 1
            continue
        attrs = dict(_ATTR.findall(m.group(2)))
        label = _LABEL.search(m.group(3))
        if label is None:
            raise SpecError(f"{source}:{first_line + k + 1}: an answer in a <comparison> "
                            "without a <!-- GOOD -->, <!-- BAD --> or <!-- OK --> label")
        end = _closing(lines, k, "assistant")
        text = _content(lines[k + 1 : end], m.group(3))
        refs.append(Reference(label.group(1).lower(), text, label.group(3).strip(),
                              label.group(2) or "", attrs.get("recipient", "")))
        k = end + 1
    return refs


def find_model_spec() -> Path:
    """The Model Spec markdown: ``$SPECBOUND_MODEL_SPEC``, else ``shared/reference/model_spec.md``
    in a folder above the working directory or this checkout (``../shared`` of a checkout).

    Raises:
        SpecError: not found (the document is not shipped with specbound).
    """
    env = os.environ.get(MODEL_SPEC_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise SpecError(f"{MODEL_SPEC_ENV}={env}: no such file")
        return path
    here = Path(__file__).resolve().parents[1]
    for base in (Path.cwd().resolve(), here):
        for folder in base.parents:
            path = folder / "shared" / "reference" / "model_spec.md"
            if path.is_file():
                return path
    raise SpecError(f"{MODEL_SPEC}: the Model Spec's markdown was not found; set "
                    f"{MODEL_SPEC_ENV}=PATH or give the path as SOURCE")


def load_markdown(ref: str) -> tuple[EvalSet, str]:
    """The eval set of ``model-spec`` or a Model Spec-style ``.md`` path, and the text.

    Raises:
        SpecError: no such file, or no ``<comparison>`` in it.
    """
    path = find_model_spec() if ref == MODEL_SPEC else Path(ref)
    if not path.is_file():
        raise SpecError(f"{ref}: no such file")
    text = path.read_text(encoding="utf-8")
    cases = parse_model_spec(text, str(path))
    if ref == MODEL_SPEC:
        cases = EvalSet(MODEL_SPEC, cases.cases, cases.principles, cases.skipped)
    if not cases.cases:
        raise SpecError(f"{path}: no <comparison> example found")
    return cases, text


# --- a spec's own examples ------------------------------------------------------------


def spec_eval_set(spec: Spec, source: str = "") -> EvalSet:
    """The eval cases of a spec's examples that carry ``messages``.

    Raises:
        SpecError: an example with messages but no GOOD or no BAD answer, naming
            the source, principle and example index.
    """
    where = source or f"spec {spec.id}"
    cases: list[EvalCase] = []
    skipped = 0
    for p in spec.principles:
        n = 0
        for i, example in enumerate(p.examples):
            ex = dict(example)
            if "messages" not in ex:
                skipped += 1
                continue
            good, bad = _answers(ex.get("good")), _answers(ex.get("bad"))
            for label, answers in (("good", good), ("bad", bad)):
                if not answers:
                    raise SpecError(
                        f"{where}: principles.{p.id}.examples[{i}]: no {label.upper()} answer; "
                        f"an eval case needs at least one good and one bad (set {label} = "
                        "\"...\" or a list of strings)"
                    )
            reason = str(ex.get("reason", ""))
            refs = tuple(Reference("good", t) for t in good) + tuple(
                Reference("bad", t, reason) for t in bad)
            messages = tuple(Message(str(r), str(c), str(nm)) for r, c, nm in ex["messages"])
            n += 1
            cases.append(EvalCase(f"{p.id}/{n}", p.id, p.level, messages, refs,
                                  str(ex.get("situation", "")), f"{where}: {p.id} example {i}"))
    principles = tuple(PrincipleInfo(p.id, p.level, p.id, p.text) for p in spec.principles)
    return EvalSet(spec.id, tuple(cases), principles, skipped)


def _answers(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    return tuple(str(v) for v in value if str(v).strip())


def transcript(messages: Iterable[Message]) -> str:
    """A conversation as plain text with roles, for a judge to read."""
    parts = []
    for m in messages:
        who = m.role + (f" to {m.name}" if m.role == "assistant" and m.name else "")
        who = f"tool {m.name}" if m.role == "tool" and m.name else who
        parts.append(f"[{who}]\n{m.content}")
    return "\n\n".join(parts)
