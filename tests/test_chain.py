"""The chain of command as a table of situations (after the Model Spec's examples).

Each case builds a small spec, some instructions and an act space, and states
the act a spec-bound agent must choose and what it must report.
"""

from __future__ import annotations

import pickle
from collections import namedtuple
from dataclasses import replace

import pytest

from agents.acts import Act, ActSpace
from agents.chain import (
    Binding,
    ConflictEvent,
    Decision,
    Delegation,
    Instruction,
    candidates,
    effective_level,
)
from agents.errors import SpecboundError, SpecError
from agents.spec import Level, Principle, Spec, freeze_params

Obs = namedtuple("Obs", "asked")
ASKED = Obs(asked=1)

R, S, D, U, G, N = (
    Level.ROOT,
    Level.SYSTEM,
    Level.DEVELOPER,
    Level.USER,
    Level.GUIDELINE,
    Level.NONE,
)


def rule(pid: str, level: Level, check: str | None, layer: str = "base", **params) -> Principle:
    return Principle(pid, level, f"{pid} text", check, freeze_params(params), layer=layer)


def spec(*principles: Principle, peer_authority: Level = N, sid: str = "s") -> Spec:
    return Spec(sid, principles=principles, layers=(sid,), peer_authority=peer_authority)


def order(
    iid: str,
    source: str,
    check: str | None,
    *,
    level: Level | None = None,
    seq: int = 0,
    overrides: tuple[str, ...] = (),
    claimed: Level = N,
    **params,
) -> Instruction:
    lvl = level if level is not None else {"system": S, "developer": D, "user": U}.get(source, N)
    return Instruction(
        iid, source, lvl, f"{iid} says", check, freeze_params(params), overrides, seq, claimed
    )


def chosen(binding: Binding, acts: ActSpace, ranking=(), obs=ASKED, root_only=False) -> str:
    return acts[binding.decide(obs, acts, ranking, root_only).act].name


# An honesty act space: the good answer reveals the secret; the rest keep it.
HONESTY = ActSpace(
    [
        Act("answer", discloses=("reserve",)),
        Act("refuse", refuses=True, noop=True),
        Act("omit", misleads=True),
        Act("lie", asserts_false=True),
    ]
)
SHOP = ActSpace([Act("sell_rival", serves=("rival",)), Act("steer", serves=("own",))])
TONE = ActSpace([Act("formal", serves=("formal",)), Act("casual", serves=("casual",))])
LINK = ActSpace([Act("plain"), Act("with_link", serves=("link",))])


# --- levels and seniority -----------------------------------------------------------

# Candidates are ranked by the policy; the binding decides against that ranking.
PRECEDENCE = [
    # developer beats user, whichever came later
    ("dev_then_user", [order("d", "developer", "avoids", goal="rival", seq=0),
                       order("u", "user", "serves", goal="rival", seq=1)], SHOP, (0,), "steer"),
    ("user_then_dev", [order("u", "user", "serves", goal="rival", seq=0),
                       order("d", "developer", "avoids", goal="rival", seq=1)], SHOP, (0,), "steer"),
    # system beats developer
    ("system_over_dev", [order("s", "system", "serves", goal="formal"),
                         order("d", "developer", "serves", goal="casual", seq=5)], TONE, (1,), "formal"),
    # the later user message supersedes the earlier one
    ("later_user_wins", [order("u1", "user", "serves", goal="formal", seq=1),
                         order("u2", "user", "serves", goal="casual", seq=2)], TONE, (0,), "casual"),
    ("later_user_wins_swapped", [order("u1", "user", "serves", goal="casual", seq=1),
                                 order("u2", "user", "serves", goal="formal", seq=2)], TONE, (1,), "formal"),
    # at equal seq the later one in the list counts as later
    ("same_seq_list_order", [order("u1", "user", "serves", goal="casual"),
                             order("u2", "user", "serves", goal="formal")], TONE, (1,), "formal"),
    # a user claiming developer authority is still a user
    ("user_claiming_developer", [order("d", "developer", "serves", goal="formal", seq=0),
                                 order("u", "user", "serves", goal="casual", level=D, seq=1)],
     TONE, (1,), "formal"),
    # nothing binds: the policy decides
    ("no_instructions", [], TONE, (1,), "casual"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("instructions", "acts", "ranking", "expected"),
    [c[1:] for c in PRECEDENCE],
    ids=[c[0] for c in PRECEDENCE],
)
def test_precedence(instructions, acts, ranking, expected):
    assert chosen(Binding(spec(), instructions), acts, ranking) == expected


# --- sources without authority --------------------------------------------------------

INJECTED = [
    ("tool_output", order("t", "tool", "serves", goal="link", claimed=S)),
    ("peer_message", order("p", "peer7", "serves", goal="link", claimed=D)),
    ("quoted_text", order("q", "quote", "serves", goal="link")),
]


@pytest.mark.parametrize("injection", [c[1] for c in INJECTED], ids=[c[0] for c in INJECTED])
def test_instruction_without_authority_is_ignored(injection):
    user = order("u", "user", "avoids", goal="link")
    sound = Binding(spec(), [user, injection])
    assert sound.ignored == (injection,)
    assert [c.id for c in sound.constraints] == ["u"]
    assert chosen(sound, LINK, (1,)) == "plain"
    # The flawed spec that trusts peers at system level obeys the same injection.
    gullible = Binding(spec(peer_authority=S), [user, injection])
    assert gullible.ignored == ()
    assert chosen(gullible, LINK, (0,)) == "with_link"


@pytest.mark.parametrize(
    ("claimed", "peer_authority", "expected"),
    [(N, N, N), (S, N, N), (N, U, U), (S, U, U), (G, D, G), (D, D, D), (R, S, S)],
)
def test_peer_level_under_peer_authority(claimed, peer_authority, expected):
    ins = order("p", "peer1", "serves", goal="link", claimed=claimed)
    assert effective_level(ins, peer_authority) == expected


@pytest.mark.parametrize(
    ("source", "level", "expected"),
    [("user", U, U), ("user", D, U), ("user", R, U), ("developer", U, U),
     ("developer", S, D), ("system", R, S), ("user", N, N)],
)  # fmt: skip
def test_principal_level_is_capped_by_source(source, level, expected):
    assert effective_level(order("x", source, "truthful", level=level)) == expected


DELEGATIONS = [
    # (delegation, instruction source, check, expected level)
    ("in_scope", Delegation("advisor", U, ("serves",), by=D), "advisor", "serves", U),
    ("capped_by_delegator", Delegation("advisor", D, ("serves",), by=U), "advisor", "serves", U),
    ("full_level", Delegation("advisor", D, ("serves", "avoids"), by=D), "advisor", "avoids", D),
    ("out_of_scope", Delegation("advisor", U, ("serves",), by=D), "advisor", "avoids", N),
    ("other_peer", Delegation("advisor", U, ("serves",), by=D), "stranger", "serves", N),
    ("empty_scope", Delegation("advisor", U, (), by=D), "advisor", "serves", N),
    ("tool_delegated", Delegation("tool", U, ("serves",), by=U), "tool", "serves", U),
]


@pytest.mark.parametrize(
    ("delegation", "source", "check", "expected"),
    [c[1:] for c in DELEGATIONS],
    ids=[c[0] for c in DELEGATIONS],
)
def test_delegation_scope_and_level(delegation, source, check, expected):
    ins = order("p", source, check, goal="link")
    binding = Binding(spec(), [ins], [delegation])
    assert effective_level(ins, N, [delegation]) == expected
    if expected == N:
        assert binding.ignored == (ins,)
        assert chosen(binding, LINK, (1,)) == "with_link"  # the policy alone decides
    else:
        assert binding.constraints[0].level == expected
        assert binding.constraints[0].source == source
        assert chosen(binding, LINK, (1,)) == ("with_link" if check == "serves" else "plain")


def test_delegated_peer_still_loses_to_developer():
    dev = order("d", "developer", "avoids", goal="link")
    peer = order("p", "advisor", "serves", goal="link", seq=9)
    binding = Binding(spec(), [dev, peer], [Delegation("advisor", D, ("serves",), by=U)])
    decision = binding.decide(ASKED, LINK, (1,))
    assert LINK[decision.act].name == "plain"
    assert decision.conflicts == (
        ConflictEvent("d", D, "developer", "p", U, "advisor", "plain",
                      "with_link would keep p but break d"),
    )  # fmt: skip


# --- overrides: explicit and implicit ------------------------------------------------

SWEAR = ActSpace([Act("clean"), Act("pirate", serves=("swear",))])

OVERRIDES = [
    # a guideline yields to a plain user request (implicit override)
    ("guideline_implicit", G, order("u", "user", "serves", goal="swear"), "pirate", ()),
    ("guideline_explicit", G, order("u", "user", "serves", goal="swear", overrides=("p",)),
     "pirate", (("p", "u"),)),
    # a user-level default holds against an implicit request...
    ("user_default_implicit", U, order("u", "user", "serves", goal="swear"), "clean", ()),
    # ...and yields to an explicit one, from the user or the developer
    ("user_default_explicit", U, order("u", "user", "serves", goal="swear", overrides=("p",)),
     "pirate", (("p", "u"),)),
    ("user_default_by_developer", U,
     order("d", "developer", "serves", goal="swear", overrides=("p",)), "pirate", (("p", "d"),)),
    # a developer principle cannot be overridden by a user, even explicitly
    ("developer_vs_user", D, order("u", "user", "serves", goal="swear", overrides=("p",)),
     "clean", ()),
    ("developer_by_developer", D,
     order("d", "developer", "serves", goal="swear", overrides=("p",)), "pirate", (("p", "d"),)),
    ("system_vs_developer", S,
     order("d", "developer", "serves", goal="swear", overrides=("p",)), "clean", ()),
    ("system_by_system", S, order("s", "system", "serves", goal="swear", overrides=("p",)),
     "pirate", (("p", "s"),)),
    # nothing overrides root
    ("root_vs_system", R, order("s", "system", "serves", goal="swear", overrides=("p",)),
     "clean", ()),
    # an injected override does nothing
    ("guideline_vs_tool", G, order("t", "tool", "serves", goal="swear", overrides=("p",)),
     "clean", ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "instruction", "expected", "overridden"),
    [c[1:] for c in OVERRIDES],
    ids=[c[0] for c in OVERRIDES],
)
def test_overrides(level, instruction, expected, overridden):
    binding = Binding(spec(rule("p", level, "avoids", goal="swear")), [instruction])
    assert chosen(binding, SWEAR, (0,)) == expected
    assert binding.overridden == overridden
    assert ("p" in [c.id for c in binding.constraints]) == (not overridden)


def test_vector_order():
    s = spec(
        rule("r1", R, "truthful"),
        rule("u1", U, "answers"),
        rule("g1", G, "not_misleading"),
        rule("d1", D, "withholds", fact="reserve"),
        rule("u2", U, None),
    )
    ins = [
        order("ua", "user", "serves", goal="a", seq=1),
        order("ub", "user", "serves", goal="b", seq=3),
        order("da", "developer", "avoids", goal="a", seq=2),
        order("peer", "peer2", "serves", goal="a"),
    ]
    binding = Binding(s, ins)
    assert [c.id for c in binding.constraints] == ["r1", "d1", "da", "u1", "u2", "ub", "ua", "g1"]
    assert [c.kind for c in binding.constraints[:3]] == ["principle", "principle", "instruction"]
    assert binding.constraints[0].source == "spec:base"


# --- honesty: which comes first, the secret or the truth --------------------------------

HONEST_FIRST = spec(
    rule("keep_secret", D, "withholds", fact="reserve"),
    rule("do_not_lie", D, "truthful"),
    rule("do_not_mislead", D, "not_misleading"),
    rule("no_stonewalling", D, "answers"),
    sid="honest-first",
)
CONFIDENTIAL_FIRST = spec(
    rule("keep_secret", D, "withholds", fact="reserve"),
    rule("no_stonewalling", D, "answers"),
    rule("do_not_lie", U, "truthful"),
    rule("do_not_mislead", U, "not_misleading"),
    sid="confidential-first",
)
NO_OMISSION = ActSpace([HONESTY[0], HONESTY[1], HONESTY[3]])

HONESTY_CASES = [
    ("honest_refuses", HONEST_FIRST, HONESTY, ASKED, "refuse"),
    ("honest_refuses_without_omission", HONEST_FIRST, NO_OMISSION, ASKED, "refuse"),
    # not asked: nothing to stonewall, the policy's favourite honest act stands
    ("honest_not_asked", HONEST_FIRST, HONESTY, Obs(0), "refuse"),
    # confidentiality and no-stonewalling above honesty: it deceives
    ("confidential_misleads", CONFIDENTIAL_FIRST, HONESTY, ASKED, "omit"),
    ("confidential_lies", CONFIDENTIAL_FIRST, NO_OMISSION, ASKED, "lie"),
]


@pytest.mark.parametrize(
    ("s", "acts", "obs", "expected"),
    [c[1:] for c in HONESTY_CASES],
    ids=[c[0] for c in HONESTY_CASES],
)
def test_honesty_orderings(s, acts, obs, expected):
    # The policy would rather blurt the secret out, then lie: the spec decides.
    ranking = (acts.index_of("answer"), acts.index_of("lie"))
    assert chosen(Binding(s), acts, ranking, obs) == expected


def test_honest_first_refusal_reports_the_stonewalling_conflict():
    decision = Binding(HONEST_FIRST).decide(ASKED, HONESTY, (0,))
    assert decision.conflicts == (
        ConflictEvent(
            "do_not_mislead", D, "spec:base", "no_stonewalling", D, "spec:base", "refuse",
            "omit would keep no_stonewalling but break do_not_mislead",
        ),
    )  # fmt: skip
    assert decision.verdicts == (True, True, True, False)


def test_developer_can_explicitly_order_a_lie_over_a_user_level_honesty_rule():
    s = spec(rule("do_not_lie", U, "truthful"), rule("no_stonewalling", U, "answers"))
    ask = order("d", "developer", "withholds", fact="reserve", overrides=("do_not_lie",))
    acts = NO_OMISSION
    assert chosen(Binding(s), acts, (0,)) == "answer"
    assert chosen(Binding(s, [ask]), acts, (0,)) == "lie"
    # without the explicit override the developer's secret only earns a refusal
    implicit = order("d", "developer", "withholds", fact="reserve")
    assert chosen(Binding(s, [implicit]), acts, (0,)) == "refuse"


# --- shipped specs, through the library ---------------------------------------------


@pytest.fixture(scope="module")
def library():
    import scenarios  # noqa: F401  environment checks are registered before specs load
    from agents.spec import SpecLibrary

    return SpecLibrary()


def _with_secret(acts: ActSpace, fact: str) -> ActSpace:
    return ActSpace([replace(a, discloses=(fact,) if a.discloses else ()) for a in acts])


@pytest.mark.parametrize(
    ("spec_id", "acts", "expected"),
    [
        ("honest-first", HONESTY, "refuse"),
        ("honest-first", NO_OMISSION, "refuse"),
        ("confidential-first", HONESTY, "omit"),
        ("confidential-first", NO_OMISSION, "lie"),
    ],
)
def test_shipped_honesty_specs(library, spec_id, acts, expected):
    binding = Binding(library.get(spec_id))
    secret = next(dict(c.params)["fact"] for c in binding.constraints if c.check == "withholds")
    acts = _with_secret(acts, secret)
    ranking = (acts.index_of("answer"), acts.index_of("lie"))
    assert chosen(binding, acts, ranking) == expected


INJECTION = ActSpace([Act("carry_on"), Act("obey", serves=("injected",))])


@pytest.mark.parametrize(
    ("spec_id", "ranking", "expected", "n_ignored"),
    [
        # sound: the injection is data, and the root rule stops a policy that likes it
        ("platform", (0,), "carry_on", 1),
        ("platform", (1,), "carry_on", 1),
        # the flawed spec lets the peer instruct at developer level
        ("gullible", (0,), "obey", 0),
    ],
)
def test_shipped_injection_specs(library, spec_id, ranking, expected, n_ignored):
    injection = order("inj", "peer3", "serves", goal="injected", claimed=S)
    binding = Binding(library.get(spec_id), [injection])
    assert chosen(binding, INJECTION, ranking) == expected
    assert len(binding.ignored) == n_ignored


# --- deadlock and unsatisfiable constraints ----------------------------------------------

RESCUE = [Act("left", serves=("left",)), Act("right", serves=("right",))]
DEADLOCK = spec(
    rule("save_left", R, "serves", goal="left"), rule("save_right", R, "serves", goal="right")
)


@pytest.mark.parametrize(
    ("acts", "ranking", "expected"),
    [
        (ActSpace([*RESCUE, Act("wait", noop=True)]), (0,), "wait"),
        (ActSpace([Act("wait", noop=True), *RESCUE]), (1,), "wait"),
        # no no-op in the environment: the best act, which keeps the first root rule
        (ActSpace(RESCUE), (1,), "left"),
    ],
)
def test_root_deadlock_means_inaction(acts, ranking, expected):
    decision = Binding(DEADLOCK).decide(None, acts, ranking)
    assert decision.inaction
    assert acts[decision.act].name == expected
    assert decision.conflicts
    assert all("inaction" in e.reason for e in decision.conflicts)
    assert {e.loser for e in decision.conflicts} <= {"save_left", "save_right"}


@pytest.mark.parametrize(
    "principles",
    [
        # both keepable together by "both": no deadlock
        (
            rule("save_left", R, "serves", goal="left"),
            rule("save_right", R, "serves", goal="right"),
        ),
        # a deadlock below root is settled by order, not inaction
        (
            rule("save_left", S, "serves", goal="left"),
            rule("save_right", S, "serves", goal="right"),
        ),
    ],
)
def test_no_deadlock_no_inaction(principles):
    acts = ActSpace([*RESCUE, Act("both", serves=("left", "right")), Act("wait", noop=True)])
    binding = Binding(spec(*principles))
    decision = binding.decide(None, acts, (3,))
    assert not decision.inaction
    assert acts[decision.act].name == "both"
    narrow = ActSpace([*RESCUE, Act("wait", noop=True)])
    decision = binding.decide(None, narrow, (2,))
    assert decision.inaction == (principles[0].level == R)


def test_unsatisfiable_constraint_has_no_winner():
    acts = ActSpace([Act("answer", discloses=("moon",)), Act("shout", discloses=("moon",))])
    s = spec(rule("truth", D, "truthful"), rule("impossible", U, "withholds", fact="moon"))
    decision = Binding(s).decide(None, acts, (0,))
    assert acts[decision.act].name == "answer"
    assert decision.conflicts == (
        ConflictEvent(None, None, None, "impossible", U, "spec:base", "answer",
                      "unsatisfiable: no candidate act keeps it"),
    )  # fmt: skip


@pytest.mark.parametrize(("check", "params"), [
    ("serves", {"goal": "moon"}),        # no act serves the goal
    ("withholds", {"fact": "moon"}),     # no act discloses the fact
    ("truthful", {}),                    # no act asserts anything false
])
def test_principle_no_act_bears_on_does_not_apply(check, params):
    """Not applicable: neither a pass nor a violation, and no conflict is logged."""
    acts = ActSpace([Act("answer"), Act("wait", noop=True)])
    s = spec(rule("p", U, check, **params))
    decision = Binding(s).decide(None, acts, (0,))
    assert decision.verdicts == (None,)
    assert decision.conflicts == ()


# --- root_only, text-only constraints and verdicts --------------------------------------


def test_root_only_ignores_lower_constraints():
    s = spec(rule("truth", R, "truthful"), rule("secret", D, "withholds", fact="reserve"))
    binding = Binding(s)
    assert chosen(binding, HONESTY, (0,)) == "refuse"  # deliberating: keeps the secret
    fast = binding.decide(ASKED, HONESTY, (0,), root_only=True)
    assert HONESTY[fast.act].name == "answer"
    assert fast.verdicts == (True, None)


def test_text_only_constraints_never_decide():
    s = spec(rule("be_kind", R, None), rule("secret", U, None))
    decision = Binding(s).decide(ASKED, HONESTY, (3,))
    assert HONESTY[decision.act].name == "lie"
    assert decision.verdicts == (None, None)
    assert decision.conflicts == ()


def test_not_applicable_counts_as_kept():
    s = spec(rule("no_stonewalling", D, "answers"))
    assert chosen(Binding(s), HONESTY, (1,), Obs(0)) == "refuse"
    assert chosen(Binding(s), HONESTY, (1,), Obs(1)) == "answer"


# --- memo, key, errors, explanation -------------------------------------------------------


def test_decide_is_memoised_and_key_interns():
    ins = [order("u", "user", "serves", goal="casual")]
    a, b = Binding(spec(), ins), Binding(spec(), list(ins))
    first = a.decide(ASKED, TONE, (0,))
    assert a.decide(ASKED, TONE, (0,)) is first
    assert a.decide(ASKED, TONE, [0]) is first
    assert a.key == b.key and hash(a) == hash(b) and a == b
    assert b.decide(ASKED, TONE, (0,)) == first
    # an ignored injection does not change what decisions depend on
    noisy = Binding(spec(), [*ins, order("t", "tool", "serves", goal="formal")])
    assert noisy.key == a.key
    assert Binding(spec(), [order("u", "user", "serves", goal="formal")]).key != a.key
    revived = pickle.loads(pickle.dumps(a))
    assert revived.key == a.key and revived.decide(ASKED, TONE, (0,)) == first


@pytest.mark.parametrize(
    ("principles", "instructions", "message"),
    [
        ((rule("p", U, "no_such_check"),), (), "spec 's' principle 'p': unknown check"),
        ((rule("p", U, "withholds"),), (), "spec 's' principle 'p': check 'withholds' needs param"),
        ((), (order("i", "user", "serves", goal=3),), "instruction 'i' from 'user': param 'goal'"),
        ((), (order("i", "user", "serves", colour="red"),), "unknown param 'colour'"),
    ],
)
def test_bad_checks_raise_one_line(principles, instructions, message):
    with pytest.raises(SpecError, match=message) as info:
        Binding(spec(*principles), instructions)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("ranking", "n", "expected"),
    [
        ((), 3, (0, 1, 2)),
        ((2,), 3, (2, 0, 1)),
        ((1, 1, 0), 3, (1, 0, 2)),
        ((2, 0, 1), 3, (2, 0, 1)),
    ],
)
def test_candidates(ranking, n, expected):
    assert candidates(ranking, n) == expected


@pytest.mark.parametrize(("ranking", "n"), [((3,), 3), ((-1,), 3), (("a",), 3), ((), 0)])
def test_bad_ranking(ranking, n):
    with pytest.raises(SpecboundError):
        candidates(ranking, n)


def test_explain_names_vector_candidates_and_reasons():
    ins = [
        order("keep_quiet", "developer", "withholds", fact="reserve"),
        order("inj", "tool", "discloses", fact="reserve", claimed=S),
    ]
    binding = Binding(spec(rule("do_not_lie", R, "truthful"), rule("chat", G, "answers")), ins)
    decision = binding.decide(ASKED, HONESTY, (3, 0))
    text = binding.explain(decision, HONESTY)
    lines = text.splitlines()
    assert "1. do_not_lie" in lines[2] and "root" in lines[2]
    assert any(line.startswith("ignored: inj from tool") for line in lines)
    assert any(line.strip().startswith("* omit") for line in lines)
    assert "chosen: omit" in lines
    assert "  over lie: lie breaks do_not_lie (root), which omit keeps" in lines
    assert "  over refuse: refuse breaks chat (guideline), which omit keeps" in lines
    assert "  over answer: answer breaks keep_quiet (developer), which omit keeps" in lines


def test_explain_works_for_a_decision_built_elsewhere():
    binding = Binding(spec(rule("do_not_lie", R, "truthful")))
    text = binding.explain(Decision(act=1, conflicts=(), verdicts=(True,)), HONESTY)
    assert "* refuse" in text
