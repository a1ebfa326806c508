"""Spec lint: each kind of warning, and silence where there is nothing to say."""

from __future__ import annotations

import pytest

from agents.lint import lint, lint_overrides
from agents.spec import SpecLibrary


def _principle(pid: str, level: str = "user", check: str | None = "truthful", params: str = "") -> str:
    out = f'[[principles]]\nid = "{pid}"\nlevel = "{level}"\ntext = "t"\n'
    if check:
        out += f'check = "{check}"\n'
    if params:
        out += f"params = {{ {params} }}\n"
    return out


def _lint(write_spec, *principles: str, head: str = "") -> list[str]:
    path = write_spec("s", '[spec]\nid = "s"\n' + head + "".join(principles))
    lib = SpecLibrary()
    return lint(lib.load_file(path), lib)


@pytest.mark.parametrize(
    ("principles", "expected"),
    [
        ((_principle("a"), _principle("b", check="keeps_promise")), []),
        ((_principle("a", check=None),), ["principle 'a' (user) is text-only: audits cannot score it"]),
        ((_principle("a", check="withholds", params='fact = "x"'),
          _principle("b", check="discloses", params='fact = "x"')),
         ["principles 'a' and 'b' are both user and 'withholds' contradicts 'discloses' on fact 'x'; "
          "only their order decides between them"]),
        # different facts, or different levels: no contradiction
        ((_principle("a", check="withholds", params='fact = "x"'),
          _principle("b", check="discloses", params='fact = "y"')), []),
        ((_principle("a", "developer", "withholds", 'fact = "x"'),
          _principle("b", "user", "discloses", 'fact = "x"')), []),
        ((_principle("a", check="avoids", params='goal = "g"'),
          _principle("b", check="serves", params='goal = "g"')),
         ["principles 'a' and 'b' are both user and 'avoids' contradicts 'serves' on goal 'g'; "
          "only their order decides between them"]),
        ((_principle("a", check="sustainable_take"), _principle("b", check="max_take")),
         ["principles 'a' and 'b' are both user and 'sustainable_take' contradicts 'max_take'; "
          "only their order decides between them"]),
        ((_principle("a", check="withholds", params='fact = "x"'),
          _principle("b", check="withholds", params='fact = "y"')),
         ["principles 'a' and 'b' are both user and use check 'withholds' with different params "
          "(fact='x' vs fact='y'); only their order decides between them"]),
    ],
)
def test_principle_warnings(write_spec, principles, expected):
    assert _lint(write_spec, *principles) == expected


def test_peer_authority_warns(write_spec):
    assert _lint(write_spec, _principle("a"), head='peer_authority = "user"\n') == [
        "peer_authority = 'user': messages from peers and tools can instruct this agent "
        "(prompt injection works on it)"
    ]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("root", []),  # a redefinition that keeps the level says nothing
        ("user", ["layer 's' redefines 'do_not_lie' from 'platform' and changes its level from root to user"]),
    ],
)
def test_redefinition_changing_level_warns(write_spec, level, expected):
    head = 'extends = ["platform"]\n'
    assert _lint(write_spec, _principle("do_not_lie", level), head=head) == expected


@pytest.mark.parametrize(
    ("sid", "count"),
    [("platform", 0), ("honest-first", 0), ("sustainable", 0), ("asimov", 0),
     ("confidential-first", 2), ("gullible", 1)],
)
def test_shipped_specs_warn_only_where_deliberate(library, sid, count):
    assert len(lint(library.get(sid), library)) == count


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["do_not_lie", "protect_reserve"], []),
        (["do_not_lie", "protect_reservation"],
         ["override names principle 'protect_reservation', which spec 'honest-first' does not have; "
          "known: protect_reserve, no_stonewalling, do_not_lie, no_covert_goals, ignore_untrusted, "
          "keep_promises, no_misleading"]),
    ],
)
def test_lint_overrides(library, ids, expected):
    assert lint_overrides(library.get("honest-first"), ids) == expected
