"""Properties of the resolver over generated specs, instructions and act spaces."""

from __future__ import annotations

from collections import namedtuple

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agents.acts import Act, ActSpace
from agents.chain import Binding, Instruction, candidates
from agents.checks import evaluate
from agents.spec import Level, Principle, Spec, freeze_params

Obs = namedtuple("Obs", "asked")
FACTS = ("f1", "f2")
GOALS = ("g1", "g2")
LEVELS = [Level.ROOT, Level.SYSTEM, Level.DEVELOPER, Level.USER, Level.GUIDELINE]
PRINCIPALS = ("system", "developer", "user")

check_calls = st.one_of(
    st.sampled_from([("truthful", ()), ("not_misleading", ()), ("answers", ())]),
    st.tuples(st.sampled_from(["withholds", "discloses"]), st.sampled_from(FACTS)).map(
        lambda cf: (cf[0], freeze_params({"fact": cf[1]}))
    ),
    st.tuples(st.sampled_from(["serves", "avoids"]), st.sampled_from(GOALS)).map(
        lambda cg: (cg[0], freeze_params({"goal": cg[1]}))
    ),
)


@st.composite
def act_spaces(draw) -> ActSpace:
    n = draw(st.integers(1, 5))
    noop_at = draw(st.one_of(st.none(), st.integers(0, n - 1)))
    acts = []
    for i in range(n):
        acts.append(
            Act(
                f"a{i}",
                asserts_false=draw(st.booleans()),
                misleads=draw(st.booleans()),
                refuses=draw(st.booleans()),
                discloses=tuple(f for f in FACTS if draw(st.booleans())),
                serves=tuple(g for g in GOALS if draw(st.booleans())),
                noop=i == noop_at,
            )
        )
    return ActSpace(acts)


@st.composite
def specs(draw) -> Spec:
    n = draw(st.integers(0, 5))
    principles = []
    for i in range(n):
        check, params = draw(check_calls)
        principles.append(Principle(f"p{i}", draw(st.sampled_from(LEVELS)), "", check, params))
    return Spec("gen", principles=tuple(principles))


@st.composite
def instructions(draw, sources: tuple[str, ...] = PRINCIPALS, max_size=4) -> list[Instruction]:
    out = []
    for i in range(draw(st.integers(0, max_size))):
        check, params = draw(check_calls)
        source = draw(st.sampled_from(sources))
        overrides = tuple(f"p{k}" for k in range(5) if draw(st.booleans()))
        level = draw(st.sampled_from(LEVELS))
        out.append(
            Instruction(
                f"i{i}", source, level, "", check, params, overrides, draw(st.integers(0, 3))
            )
        )
    return out


rankings = st.lists(st.integers(0, 4), max_size=5)
observations = st.builds(Obs, st.integers(0, 1))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kept(binding: Binding, obs, act: Act, k: int) -> bool:
    c = binding.constraints[k]
    return c.check is None or evaluate(c.check, c.params, obs, act) is not False


@FAST
@given(specs(), instructions(), act_spaces(), rankings, observations)
def test_never_broken_for_a_lower_constraint_when_both_can_be_kept(s, ins, acts, ranking, obs):
    ranking = tuple(i for i in ranking if i < len(acts))
    binding = Binding(s, ins)
    decision = binding.decide(obs, acts, ranking)
    assume(not decision.inaction)
    chosen = acts[decision.act]
    n = len(binding.constraints)
    for k in range(n):
        if _kept(binding, obs, chosen, k):
            continue
        kept_above = [j for j in range(k) if _kept(binding, obs, chosen, j)]
        # No act keeps k and everything above k the chosen act keeps: else
        # the chosen act would have given k up for something lower.
        for other in acts:
            assert not (
                _kept(binding, obs, other, k)
                and all(_kept(binding, obs, other, j) for j in kept_above)
            ), f"{chosen.name} breaks {binding.constraints[k].id}; {other.name} keeps it"
    ids = [c.id for c in binding.constraints]
    for e in decision.conflicts:
        if e.winner is not None:
            assert ids.index(e.winner) < ids.index(e.loser)
    assert [e.loser for e in decision.conflicts] == [
        binding.constraints[k].id for k in range(n) if decision.verdicts[k] is False
    ]


@FAST
@given(
    specs(),
    instructions(),
    instructions(sources=("tool", "peer1", "quote"), max_size=3),
    act_spaces(),
    rankings,
    observations,
)
def test_instructions_without_authority_never_change_the_choice(s, ins, noise, acts, ranking, obs):
    ranking = tuple(i for i in ranking if i < len(acts))
    noise = [
        Instruction(
            f"n{k}", n.source, n.level, "", n.check, n.params, n.overrides, n.seq + 10, Level.ROOT
        )
        for k, n in enumerate(noise)
    ]
    plain = Binding(s, ins)
    noisy = Binding(s, [*ins, *noise])
    assert noisy.ignored == tuple(noise)
    assert noisy.key == plain.key
    assert noisy.decide(obs, acts, ranking) == plain.decide(obs, acts, ranking)


@FAST
@given(specs(), instructions(), act_spaces(), rankings, observations, st.booleans())
def test_deterministic_and_memo_matches_fresh(s, ins, acts, ranking, obs, root_only):
    ranking = tuple(i for i in ranking if i < len(acts))
    binding = Binding(s, ins)
    first = binding.decide(obs, acts, ranking, root_only)
    # warm the memo with other keys, then ask again
    binding.decide(Obs(1 - obs.asked), acts, ranking, not root_only)
    assert binding.decide(obs, acts, ranking, root_only) is first
    fresh = Binding(s, list(ins)).decide(obs, acts, ranking, root_only)
    assert fresh == first
    assert fresh.act in candidates(ranking, len(acts))
    assert binding.explain(first, acts) == Binding(s, ins).explain(fresh, acts)
