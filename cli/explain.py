"""``specbound spec explain``: why a spec-bound agent picks the act it picks.

Builds a small act space on the command line, binds a spec with some runtime
instructions and delegations, decides once and prints the resolver's account:
the compliance vector, every candidate's verdicts, why the chosen act won,
and which instructions were ignored or which principles set aside.

    specbound spec explain honest-first \\
        --act answer:discloses=reserve --act refuse:refuses=true,noop=true \\
        --act lie:asserts_false=true --rank answer,lie --obs asked=1 \\
        --instruction tool:discloses:fact=reserve,claimed=system

Argument syntax (values: ``true``/``false`` for flags, ``a+b`` for lists):

* ``--act NAME[:field=value,...]`` with the fields of :class:`agents.acts.Act`.
* ``--instruction SOURCE:CHECK[:k=v,...]``: SOURCE is ``system``,
  ``developer``, ``user`` or any other name (a peer, ``tool``); the check's
  params plus the reserved keys ``id``, ``level``, ``overrides`` and
  ``claimed``. Later instructions arrive later (higher ``seq``).
* ``--delegate SOURCE:LEVEL:CHECK+CHECK[:by=LEVEL]``: a principal lends SOURCE
  authority for those checks.
* ``--obs k=v,...``: the observation the checks read (e.g. ``asked=1``).

:func:`register` takes the ``spec`` command's sub-parser set (as returned by
:func:`cli.spec.register`); :func:`main` runs ``spec explain`` alone.
"""

from __future__ import annotations

import argparse
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from agents.acts import Act, ActSpace
from agents.chain import Binding, Delegation, Instruction
from agents.errors import SpecboundError
from agents.spec import Level, freeze_params
from cli import spec as cli_spec
from cli.base import run_commands

_RESERVED = ("id", "level", "overrides", "claimed")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


def _pairs(text: str, where: str) -> list[tuple[str, str]]:
    """``k=v,k=v`` as pairs, or a one-line error naming ``where``."""
    out = []
    for item in filter(None, text.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise SpecboundError(f"{where}: {item!r} is not key=value")
        out.append((key.strip(), value.strip()))
    return out


def _scalar(value: str) -> Any:
    """A number when it reads as one, else the string (check params are typed)."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _flag(value: str, where: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise SpecboundError(f"{where}: {value!r} is not a flag; allowed: true, false")


def _level(value: str, where: str) -> Level:
    try:
        return Level.parse(value)
    except ValueError as err:
        raise SpecboundError(f"{where}: {err}") from None


def _act_converter(type_text: str):
    """How to read an Act field from text, by its annotation."""
    if "tuple" in type_text:
        return lambda v, where: tuple(filter(None, v.split("+")))
    if "bool" in type_text:
        return _flag
    if "float" in type_text:

        def number(v: str, where: str) -> float:
            try:
                return float(v)
            except ValueError:
                raise SpecboundError(f"{where}: {v!r} is not a number") from None

        return number
    return lambda v, where: v


_ACT_FIELDS = {f.name: _act_converter(str(f.type)) for f in fields(Act) if f.name != "name"}


def parse_act(text: str) -> Act:
    """``NAME[:field=value,...]`` -> :class:`Act`."""
    name, _, rest = text.partition(":")
    if not name:
        raise SpecboundError(f"--act {text!r}: an act needs a name")
    values: dict[str, Any] = {}
    for key, value in _pairs(rest, f"--act {text!r}"):
        convert = _ACT_FIELDS.get(key)
        if convert is None:
            allowed = ", ".join(sorted(_ACT_FIELDS))
            raise SpecboundError(f"--act {text!r}: unknown field {key!r}; allowed: {allowed}")
        values[key] = convert(value, f"--act {text!r} field {key!r}")
    return Act(name, **values)


def parse_instruction(text: str, seq: int) -> Instruction:
    """``SOURCE:CHECK[:k=v,...]`` -> :class:`Instruction` arriving at ``seq``."""
    source, _, rest = text.partition(":")
    check, _, params_text = rest.partition(":")
    where = f"--instruction {text!r}"
    if not source or not check:
        raise SpecboundError(f"{where}: expected SOURCE:CHECK[:k=v,...]")
    params: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, value in _pairs(params_text, where):
        if key in _RESERVED:
            extra[key] = value
        else:
            params[key] = _scalar(value)
    own = {"system": Level.SYSTEM, "developer": Level.DEVELOPER, "user": Level.USER}
    level = _level(extra["level"], where) if "level" in extra else own.get(source, Level.NONE)
    claimed = _level(extra["claimed"], where) if "claimed" in extra else Level.NONE
    return Instruction(
        id=extra.get("id", f"{source}{seq}"),
        source=source,
        level=level,
        text=text,
        check=check,
        params=freeze_params(params),
        overrides=tuple(filter(None, extra.get("overrides", "").split("+"))),
        seq=seq,
        claimed=claimed,
    )


def parse_delegation(text: str) -> Delegation:
    """``SOURCE:LEVEL:CHECK+CHECK[:by=LEVEL]`` -> :class:`Delegation`."""
    parts = text.split(":")
    where = f"--delegate {text!r}"
    if len(parts) not in (3, 4) or not parts[0]:
        raise SpecboundError(f"{where}: expected SOURCE:LEVEL:CHECK+CHECK[:by=LEVEL]")
    by = Level.USER
    if len(parts) == 4:
        key, eq, value = parts[3].partition("=")
        if key != "by" or not eq:
            raise SpecboundError(f"{where}: the last part must be by=LEVEL")
        by = _level(value, where)
    scope = tuple(filter(None, parts[2].split("+")))
    from agents.checks import CHECKS

    unknown = [c for c in scope if c not in CHECKS]
    if unknown:
        raise SpecboundError(f"{where}: unknown check {unknown[0]!r} in the scope; "
                             f"available: {', '.join(sorted(CHECKS))}")
    level = _level(parts[1], where)
    if level > by:
        raise SpecboundError(f"{where}: a delegation cannot exceed its delegator's level "
                             f"({level} > {by}); set by=LEVEL or lower the level")
    return Delegation(parts[0], level, scope, by)


def parse_obs(text: str | None) -> Any:
    """``k=v,...`` -> an ``Obs`` namedtuple (``None`` when not given)."""
    if not text:
        return None
    pairs = _pairs(text, f"--obs {text!r}")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys) or not all(k.isidentifier() for k in keys):
        raise SpecboundError(f"--obs {text!r}: keys must be distinct identifiers")
    return namedtuple("Obs", keys)(*(_scalar(v) for _, v in pairs))


def parse_ranking(text: str | None, acts: ActSpace) -> tuple[int, ...]:
    if not text:
        return ()
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in acts]
    if unknown:
        allowed = ", ".join(acts.names())
        raise SpecboundError(f"--rank: unknown act {unknown[0]!r}; allowed: {allowed}")
    return tuple(acts.index_of(n) for n in names)


def explain(args: argparse.Namespace) -> int:
    """Run ``spec explain``: bind, decide once, print the explanation."""
    library = cli_spec._library(args)
    spec = cli_spec._load(library, args.spec)
    acts_list = [parse_act(a) for a in args.act]
    names = [a.name for a in acts_list]
    if len(set(names)) != len(names):
        raise SpecboundError(f"--act: act names must be unique, got {', '.join(names)}")
    acts = ActSpace(acts_list)
    binding = Binding(
        spec,
        [parse_instruction(t, seq) for seq, t in enumerate(args.instruction or ())],
        [parse_delegation(t) for t in args.delegate or ()],
    )
    decision = binding.decide(
        parse_obs(args.obs), acts, parse_ranking(args.rank, acts), args.root_only
    )
    print(binding.explain(decision, acts))
    return 0


def register(spec_subparsers: argparse._SubParsersAction) -> None:
    """Add ``explain`` to the ``spec`` command's sub-parsers."""
    p = spec_subparsers.add_parser(
        "explain",
        help="explain which act a spec picks, and why",
        description=(
            "Bind a spec with instructions and delegations, decide once over the given acts "
            "and print the compliance vector, every candidate's verdicts and the conflicts."
        ),
        epilog=(
            "example: spec explain honest-first --act answer:discloses=reserve "
            "--act refuse:refuses=true,noop=true --act lie:asserts_false=true "
            "--rank answer --obs asked=1"
        ),
    )
    p.add_argument("spec", metavar="FILE|ID", help="spec file or shipped spec id")
    p.add_argument(
        "--act",
        action="append",
        required=True,
        metavar="NAME[:field=value,...]",
        help="a candidate act (repeat; at least one)",
    )
    p.add_argument(
        "--instruction",
        action="append",
        metavar="SOURCE:CHECK[:k=v,...]",
        help="a runtime instruction, in order of arrival (reserved keys: "
        + ", ".join(_RESERVED)
        + ")",
    )
    p.add_argument(
        "--delegate",
        action="append",
        metavar="SOURCE:LEVEL:CHECK+CHECK[:by=LEVEL]",
        help="authority a principal lends a named source for some checks",
    )
    p.add_argument("--obs", metavar="k=v,...", help="the observation the checks read")
    p.add_argument(
        "--rank", metavar="ACT,ACT", help="the policy's preference, most preferred first"
    )
    p.add_argument("--root-only", action="store_true", help="keep only root constraints")
    p.add_argument(
        "--path", action="append", metavar="DIR", help="extra spec directory or file (repeatable)"
    )
    p.set_defaults(func=explain)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``spec explain ...`` alone; bad input is one line on stderr and exit 2."""
    return run_commands(lambda sub: register(cli_spec.register(sub)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
