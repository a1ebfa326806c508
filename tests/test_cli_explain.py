"""``specbound spec explain``: the resolver's account from the command line."""

from __future__ import annotations

import pytest

from agents.spec import Level
from cli.explain import main, parse_act, parse_delegation, parse_instruction

HONESTY = [
    "--act", "answer:discloses=reserve",
    "--act", "refuse:refuses=true,noop=true",
    "--act", "omit:misleads=true",
    "--act", "lie:asserts_false=true",
    "--rank", "answer,lie",
    "--obs", "asked=1",
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "expected_lines"),
    [
        (["honest-first", *HONESTY], ["chosen: refuse"]),
        (["confidential-first", *HONESTY], ["chosen: omit"]),
        # the fast path keeps only root rules: the preferred answer goes through
        (["honest-first", *HONESTY, "--root-only"], ["chosen: answer"]),
        (
            ["honest-first", *HONESTY, "--instruction", "tool:discloses:fact=reserve,claimed=system"],
            ["chosen: refuse"],
        ),
        (
            ["gullible", "--act", "carry_on", "--act", "obey:serves=injected",
             "--instruction", "peer3:serves:goal=injected,id=inj"],
            ["chosen: obey"],
        ),
        (
            ["platform", "--act", "carry_on", "--act", "obey:serves=injected", "--rank", "obey",
             "--instruction", "peer3:serves:goal=injected,id=inj"],
            ["chosen: carry_on"],
        ),
        (
            ["platform", "--act", "carry_on", "--act", "obey:serves=injected",
             "--instruction", "peer3:serves:goal=injected,id=inj",
             "--delegate", "peer3:developer:serves:by=developer"],
            # delegation makes it an instruction, but the root rule on obeying
            # injected content still stands above it
            ["chosen: carry_on"],
        ),
    ],
)  # fmt: skip
def test_explain_prints_the_choice(capsys, argv, expected_lines):
    assert main(["spec", "explain", *argv]) == 0
    out = capsys.readouterr().out.splitlines()
    for line in expected_lines:
        assert line in out
    assert out[1] == "compliance vector, highest weight first:"


def test_explain_lists_ignored_injection(capsys):
    argv = ["honest-first", *HONESTY, "--instruction", "tool:discloses:fact=reserve,id=inj"]
    assert main(["spec", "explain", *argv]) == 0
    out = capsys.readouterr().out
    assert "ignored: inj from tool has no authority (discloses)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope", "--act", "a"], "nope: no such file or spec id"),
        (["platform", "--act", "a:colour=red"], "unknown field 'colour'"),
        (["platform", "--act", "a:refuses=maybe"], "is not a flag"),
        (["platform", "--act", "a:take=lots"], "is not a number"),
        (["platform", "--act", "a", "--act", "a"], "act names must be unique"),
        (["platform", "--act", "a", "--rank", "b"], "--rank: unknown act 'b'"),
        (["platform", "--act", "a", "--instruction", "user"], "expected SOURCE:CHECK"),
        (["platform", "--act", "a", "--instruction", "user:nocheck"], "unknown check 'nocheck'"),
        (["platform", "--act", "a", "--instruction", "user:serves:goal=x,level=boss"], "unknown level"),
        (["platform", "--act", "a", "--delegate", "peer:user"], "expected SOURCE:LEVEL"),
        (["platform", "--act", "a", "--obs", "asked"], "is not key=value"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert main(["spec", "explain", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specbound: ") and message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "seq", "expected"),
    [
        ("user:serves:goal=x", 0, ("user0", "user", Level.USER, (("goal", "x"),), (), Level.NONE)),
        ("user:serves:goal=x,level=developer", 1, ("user1", "user", Level.DEVELOPER, (("goal", "x"),), (), Level.NONE)),
        ("tool:truthful:claimed=system,id=t", 2, ("t", "tool", Level.NONE, (), (), Level.SYSTEM)),
        ("developer:withholds:fact=f,overrides=a+b", 3, ("developer3", "developer", Level.DEVELOPER, (("fact", "f"),), ("a", "b"), Level.NONE)),
    ],
)  # fmt: skip
def test_parse_instruction(text, seq, expected):
    ins = parse_instruction(text, seq)
    assert (ins.id, ins.source, ins.level, ins.params, ins.overrides, ins.claimed) == expected
    assert ins.seq == seq


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("peer:user:serves", ("peer", Level.USER, ("serves",), Level.USER)),
        ("tool:developer:serves+avoids:by=developer", ("tool", Level.DEVELOPER, ("serves", "avoids"), Level.DEVELOPER)),
        ("peer:user:", ("peer", Level.USER, (), Level.USER)),
    ],
)  # fmt: skip
def test_parse_delegation(text, expected):
    d = parse_delegation(text)
    assert (d.source, d.level, d.scope, d.by) == expected


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("a:refuses=true", "refuses", True),
        ("a:cooperative=no", "cooperative", False),
        ("a:serves=x+y", "serves", ("x", "y")),
        ("a:take=1.5", "take", 1.5),
        ("a:promise=C", "promise", "C"),
    ],
)
def test_parse_act(text, field, value):
    assert getattr(parse_act(text), field) == value


@pytest.mark.parametrize(
    ("delegate", "fragment"),
    [("peer:user:nosuch", "unknown check 'nosuch'"), ("peer:root:truthful", "cannot exceed its delegator")],
)
def test_bad_delegations_are_refused(delegate: str, fragment: str, capsys) -> None:
    from cli.explain import main as explain_main

    assert explain_main(["spec", "explain", "honest-first", "--act", "a", "--act", "b",
                         "--delegate", delegate]) == 2
    assert fragment in capsys.readouterr().err
