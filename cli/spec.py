"""The ``spec`` sub-commands: ``check``, ``show`` and ``import``.

``sim/cli.py`` calls :func:`register` to add ``spec`` to its parser; every parsed
namespace carries ``func`` (``args.func(args) -> exit code``). :func:`register`
returns the ``spec`` command's own sub-parser set, so another module can add
more ``spec`` sub-commands (``spec explain``). :func:`main` runs these commands
alone (tests, and before the main CLI wires them in).

Exit codes: 0 done; 2 bad input (one line on stderr: the first error);
``check --strict`` exits 1 when a spec loads but lint has warnings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.errors import SpecError
from agents.lint import lint
from agents.spec import Level, Spec, SpecLibrary
from agents.spec_import import import_model_spec
from cli.base import run_commands


def _library(args: argparse.Namespace) -> SpecLibrary:
    import scenarios  # noqa: F401  (environments register their checks on import)

    return SpecLibrary(args.path or ())


def _load(library: SpecLibrary, ref: str) -> Spec:
    """A spec by file path, or by id when no such file exists."""
    path = Path(ref)
    if path.is_file():
        return library.load_file(path)
    if ref in library:
        return library.get(ref)
    raise SpecError(f"{ref}: no such file or spec id; known ids: {', '.join(library.ids())}")


def _check(args: argparse.Namespace) -> int:
    warned = False
    for ref in args.files:
        library = _library(args)  # one per file: unrelated files may reuse an id
        # Files checked together may extend each other (b.toml extends c.toml): each sees
        # the others whose ids the library does not already hold.
        siblings = [Path(f) for f in args.files
                    if f != ref and Path(f).is_file() and Path(f).stem not in library]
        if siblings:
            library = SpecLibrary([*(args.path or ()), *siblings])
        spec = _load(library, ref)
        chain = " > ".join(spec.layers)
        print(f"{ref}: ok: {spec.id} v{spec.version}, {len(spec.principles)} principles ({chain})")
        if args.lint or args.strict:
            for warning in lint(spec, library):
                warned = True
                print(f"{ref}: warning: {warning}")
    return 1 if args.strict and warned else 0


def spec_json(spec: Spec) -> dict[str, Any]:
    """The resolved spec as plain JSON data (``spec show --json``)."""
    return {
        "id": spec.id,
        "version": spec.version,
        "description": spec.description,
        "extends": list(spec.extends),
        "layers": list(spec.layers),
        "peer_authority": str(spec.peer_authority),
        "principles": [
            {
                "id": p.id,
                "level": str(p.level),
                "text": p.text,
                "check": p.check,
                "params": dict(p.params),
                "tags": list(p.tags),
                "layer": p.layer,
                "examples": [dict(e) for e in p.examples],
            }
            for p in spec.principles
        ],
    }


def _short(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def spec_table(spec: Spec) -> str:
    """The resolved spec as a readable table grouped by level, in weight order."""
    head = [f"{spec.id} v{spec.version}: {spec.description}".rstrip(": ")]
    head.append(f"layers: {' > '.join(spec.layers)}")
    if spec.peer_authority > Level.NONE:
        head.append(f"peer_authority: {spec.peer_authority} (peers and tools can instruct)")
    if not spec.principles:
        return "\n".join([*head, "(no principles)"])
    rows = [
        (p.id, p.check + _params(p.params) if p.check else "(text only)", p.layer, p.text)
        for p in spec.principles
    ]
    w_id = max(len(r[0]) for r in rows)
    w_check = max(len(r[1]) for r in rows)
    w_layer = max(len(r[2]) for r in rows)
    lines = head
    for level in sorted(Level, reverse=True):
        here = [r for p, r in zip(spec.principles, rows, strict=True) if p.level == level]
        if not here:
            continue
        lines.append(f"{level}:")
        for pid, check, layer, text in here:
            lines.append(
                f"  {pid:<{w_id}}  {check:<{w_check}}  {layer:<{w_layer}}  {_short(text, 60)}"
            )
    return "\n".join(lines)


def _params(params: tuple[tuple[str, Any], ...]) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in params) + ")" if params else ""


def _show(args: argparse.Namespace) -> int:
    spec = _load(_library(args), args.spec)
    print(json.dumps(spec_json(spec), indent=2) if args.json else spec_table(spec))
    return 0


def _import(args: argparse.Namespace) -> int:
    src = Path(args.markdown)
    try:
        text = src.read_bytes().decode("utf-8")
    except OSError as e:
        raise SpecError(f"{src}: cannot read ({e.strerror or type(e).__name__})") from None
    except UnicodeDecodeError as e:
        raise SpecError(f"{src}: not UTF-8 text (byte {e.start})") from None
    toml_text, spec = import_model_spec(text, src.name)
    if args.output in (None, "-"):
        sys.stdout.write(toml_text)
        return 0
    try:
        Path(args.output).write_text(toml_text, encoding="utf-8")
    except OSError as e:
        raise SpecError(f"{args.output}: cannot write ({e.strerror or type(e).__name__})") from None
    counts = ", ".join(
        f"{level} {n}"
        for level in sorted(Level, reverse=True)
        if (n := sum(p.level == level for p in spec.principles))
    )
    print(f"{args.output}: {spec.id} with {len(spec.principles)} principles ({counts})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add ``spec`` (check, show, import); returns its sub-parser set for more sub-commands."""
    spec = subparsers.add_parser(
        "spec",
        help="check, show and import specs",
        description="Validate spec files, show resolved specs, import the Model Spec.",
    )
    sub = spec.add_subparsers(dest="spec_command", required=True)
    paths = argparse.ArgumentParser(add_help=False)
    paths.add_argument(
        "--path", action="append", metavar="DIR", help="extra spec directory or file (repeatable)"
    )

    p = sub.add_parser(
        "check",
        parents=[paths],
        help="validate spec files (exit 2 on the first error)",
        description="Load each spec with all its layers; report the first error as one line.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="spec file (or shipped spec id)")
    p.add_argument("--lint", action="store_true", help="also print lint warnings")
    p.add_argument("--strict", action="store_true", help="lint, and exit 1 on any warning")
    p.set_defaults(func=_check)

    p = sub.add_parser(
        "show",
        parents=[paths],
        help="show a resolved spec",
        description="Print a spec with every layer of extends applied, by level in weight order.",
    )
    p.add_argument("spec", metavar="FILE|ID")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_show)

    p = sub.add_parser(
        "import",
        help="import the Model Spec's markdown into a spec file",
        description="Headings '{#id authority=level}' become text-only principles at that level.",
    )
    p.add_argument("markdown", metavar="MODEL_SPEC.md")
    p.add_argument("-o", "--output", metavar="FILE.toml", help="output file (default: stdout)")
    p.set_defaults(func=_import)
    return sub


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``spec`` sub-command; bad input is one line on stderr and exit 2."""
    return run_commands(register, argv)


if __name__ == "__main__":
    raise SystemExit(main())
