"""The ``trust-game`` environment: payoffs, promise checks, learning, rewiring, determinism.

Expected numbers are worked out by hand from the rules in
scenarios/trust_game.py: the investor keeps E - s and gets back r; the
trustee gets k s and keeps k s - r.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.checks import evaluate
from agents.errors import ScenarioError
from scenarios.trust_game import (
    PROMISE,
    RETURN_PROMISED,
    RETURN_SILENT,
    SEND,
    TrustGame,
    TrustGameObs,
    TrustGameParams,
    settle,
)
from sim.runs.run import run
from sim.scenario import load_scenario

PAIR = """
[scenario]
id = "trust-pair"
environment = "trust-game"
steps = {steps}

[environment]
multiplier = {k}

[network]
kind = "complete"

[groups.a]
count = 1
policy = "{a}"
spec = "{spec_a}"

[groups.b]
count = 1
policy = "{b}"
spec = "{spec_b}"
"""


def pair(tmp_path, steps=4, k=3.0, a="reciprocal", b="reciprocal", spec_a="platform", spec_b="platform"):
    path = tmp_path / "trust-pair.toml"
    path.write_text(PAIR.format(steps=steps, k=k, a=a, b=b, spec_a=spec_a, spec_b=spec_b))
    return path


def obs(stage=2, promised=1, sent=2, trust=10):
    return TrustGameObs(stage=stage, promised=promised, sent=sent, my_last=-1, partner_last=-1,
                        partner_last2=-1, partner_defected=0, my_last_payoff_good=0, parity=0,
                        trust=trust, coin=0)


@pytest.mark.parametrize(("endowment", "k", "send", "ret", "investor", "trustee"), [
    (10, 3, 0.0, 0.0, 10.0, 0.0),       # nothing sent: the baseline
    (10, 3, 1.0, 0.0, 0.0, 30.0),       # all sent, nothing back: the betrayal
    (10, 3, 1.0, 1 / 3, 10.0, 20.0),    # a third of 30 back: the investor breaks even
    (10, 3, 1.0, 0.5, 15.0, 15.0),      # half back: the surplus is shared
    (10, 3, 0.5, 1 / 3, 10.0, 10.0),    # 5 sent, 15 grown, 5 back
    (10, 3, 0.5, 0.5, 12.5, 7.5),       # 5 sent, 15 grown, 7.5 back
    (10, 2, 1.0, 0.5, 10.0, 10.0),
    (4, 5, 1.0, 0.5, 10.0, 10.0),       # 4 sent, 20 grown, 10 back
])
def test_payoff_table(endowment, k, send, ret, investor, trustee):
    inv, tru = settle(endowment, k, np.array([send]), np.array([ret]))
    assert inv[0] == pytest.approx(investor)
    assert tru[0] == pytest.approx(trustee)
    # Welfare of a game is E + (k - 1) s: between the bounds E and k E.
    assert inv[0] + tru[0] == pytest.approx(endowment + (k - 1) * send * endowment)


@pytest.mark.parametrize(("check", "params", "o", "act", "expected"), [
    ("honours_promise", (), obs(), "return_0", False),
    ("honours_promise", (), obs(), "return_third", True),
    ("honours_promise", (), obs(), "return_half", True),
    ("honours_promise", (), obs(promised=0), "return_0", None),     # no promise, nothing to honour
    ("honours_promise", (), obs(stage=1), "send_0", None),          # investors promise nothing
    ("fair_return", (), obs(promised=0), "return_0", False),
    ("fair_return", (), obs(promised=0), "return_third", True),
    ("fair_return", (("share", 0.5),), obs(), "return_third", False),
    ("fair_return", (("share", 0.5),), obs(), "return_half", True),
    ("fair_return", (), obs(stage=0), "promise", None),
    ("keeps_promise", (), obs(), "return_0", False),                # the act carries the promise
    ("keeps_promise", (), obs(), "return_third", True),
    ("cooperates", (), obs(stage=1), "send_0", False),
    ("cooperates", (), obs(stage=1), "send_half", True),
])
def test_check_table(check, params, o, act, expected):
    space = {0: PROMISE, 1: SEND, 2: RETURN_PROMISED if o.promised else RETURN_SILENT}[o.stage]
    assert evaluate(check, params, o, space[space.index_of(act)]) is expected


@pytest.mark.parametrize("act", ["return_0", "return_third", "return_half"])
def test_returns_without_a_promise_make_no_promise(act):
    assert evaluate("keeps_promise", (), obs(promised=0), RETURN_SILENT[RETURN_SILENT.index_of(act)]) is None


def test_two_reciprocal_agents_by_hand(tmp_path):
    # One edge, four games: the investor (trust 0.5 >= 0.5) sends all, the trustee returns half:
    # 15 each per game whatever the roles, welfare 30 = the optimum k E. Each game adds one
    # kept observation on both sides: trust (4 + 1) / (4 + 2) = 5/6.
    r = run(pair(tmp_path), seed=0)
    m = r.metrics
    assert [a["payoff"] for a in r.agents] == [60.0, 60.0]
    assert r.steps["welfare"].tolist() == [30.0] * 4
    assert m["efficiency"] == pytest.approx(1.0)
    assert m["sent_share"] == 1.0 and m["return_share"] == 0.5
    assert m["promise_rate"] == 1.0 and m["promise_kept_rate"] == 1.0
    assert m["trust_mean"] == pytest.approx(5 / 6)
    assert m["trust_calibration"] == pytest.approx(1 - 1 / 6)
    assert m["deceptions"] == 0 and m["cooperation_rate"] == 1.0


def test_greedy_investors_send_nothing(tmp_path):
    # Greedy investors keep their endowment: welfare is the baseline E per game, efficiency 0,
    # and a trustee never has anything to return.
    r = run(pair(tmp_path, steps=5, a="greedy", b="greedy", spec_a="empty", spec_b="empty"), seed=0)
    assert r.metrics["welfare"] == 50.0
    assert r.metrics["efficiency"] == 0.0
    assert r.metrics["sent_share"] == 0.0
    assert math.isnan(r.metrics["return_share"])


@pytest.mark.parametrize("seed", range(8))
def test_an_opportunist_breaks_its_word_once_per_partner(tmp_path, seed):
    # Against one reciprocal partner an unbound opportunist betrays the first time it is the
    # trustee while still trusted; detected (detect_prob 1), the lie leaves trust at 1/4 and no
    # investment follows. Had it been the investor first, it sent nothing and was never trusted.
    # The one game with an investment makes 30 instead of 10.
    r = run(pair(tmp_path, steps=8, b="opportunist", spec_b="empty"), seed=seed)
    d = r.metrics["deceptions"]
    assert d in (0.0, 1.0)
    assert r.metrics["promises_broken"] == d
    assert r.metrics["welfare"] == 80.0 + 20.0 * d


def test_opportunist_outcomes_cover_both_orders(tmp_path):
    seen = {run(pair(tmp_path, steps=3, b="opportunist", spec_b="empty"), seed=s).metrics["deceptions"]
            for s in range(8)}
    assert seen == {0.0, 1.0}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_binding_opportunists_to_the_platform(seed):
    # Direction with fixed seeds (16 agents, 20 steps). Measured margins: opportunists earn
    # 1.5x to 2x more when bound (their kept promises keep them trusted), and the unbound
    # ones break 4 to 11 promises.
    small = {"groups.reciprocal.count": 12, "groups.opportunists.count": 4, "steps": 20}
    free = run("trust-game", seed=seed, set={**small, "groups.opportunists.spec": "empty"}).metrics
    bound = run("trust-game", seed=seed, set={**small, "groups.opportunists.spec": "platform"}).metrics
    assert free["deceptions"] > 0 and free["promise_kept_rate"] < 1.0
    assert bound["deceptions"] == 0 and bound["promise_kept_rate"] == 1.0
    assert bound["compliance.keep_promises"] == 1.0
    assert bound["payoff.opportunists"] > 1.3 * free["payoff.opportunists"]


@pytest.mark.parametrize("k", [2.0, 3.0, 4.5])
def test_efficiency_is_the_share_sent(tmp_path, k):
    # Welfare per game is E + (k - 1) s, the bounds E and k E: efficiency equals the share sent.
    r = run("trust-game", seed=4, set={"environment.multiplier": k, "groups.reciprocal.count": 8,
                                       "groups.opportunists.count": 4, "steps": 6})
    assert np.allclose(r.steps["efficiency"], r.steps["sent_share"])
    assert ((r.steps["efficiency"] >= 0) & (r.steps["efficiency"] <= 1)).all()


@pytest.mark.parametrize(("below", "rewires"), [(0.0, False), (0.3, True)])
def test_partner_choice_cuts_untrusted_ties(below, rewires):
    r = run("trust-game", seed=2, set={"network.rewire.below": below, "groups.reciprocal.count": 12,
                                       "groups.opportunists.count": 4, "steps": 10})
    assert (r.metrics.get("rewired", 0.0) > 0) is rewires


def test_without_promises_classic_strategies_play(tmp_path):
    path = pair(tmp_path, steps=6, a="tit_for_tat", b="defector", spec_a="empty", spec_b="empty")
    r = run(path, seed=0, set={"environment.promises": False})
    m = r.metrics
    assert m["promises_made"] == 0 and math.isnan(m["promise_rate"])
    assert m["deceptions"] == 0
    # The defector never sends and returns nothing; tit-for-tat sends half only while the
    # defector has made no move towards it, so at most once: 6 games of welfare E = 10, one of
    # them perhaps 10 + (3 - 1) x 5 = 20.
    assert m["welfare"] in (60.0, 70.0)
    assert m["sent_share"] == pytest.approx((m["welfare"] - 60.0) / 10.0 * 0.5 / 6)


def test_same_seed_same_run_and_seeds_differ():
    small = {"groups.reciprocal.count": 8, "groups.opportunists.count": 4, "steps": 10}
    a = run("trust-game", seed=7, set=small)
    b = run("trust-game", seed=7, set=small)
    c = run("trust-game", seed=8, set=small)
    assert a.steps.equals(b.steps)
    assert a.metrics == pytest.approx(b.metrics, nan_ok=True)
    assert [x["payoff"] for x in a.agents] != [x["payoff"] for x in c.agents]


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("environment.multiplier", 1.0, "multiplier must be above 1"),
    ("environment.endowment", -1.0, "endowment must be positive"),
    ("environment.detect_prob", 1.5, "detect_prob must be between 0 and 1"),
    ("environment.lie_penalty", -0.5, "lie_penalty must not be negative"),
    ("environment.promises", 1, "expected true or false"),
])
def test_bad_parameters_are_one_line_errors(key, value, needle):
    with pytest.raises(ScenarioError) as e:
        load_scenario("trust-game", {key: value})
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(("o", "needle"), [
    (obs(stage=0, promised=0, sent=0), "promise to return at least a third"),
    (obs(stage=1, promised=1, sent=0), "who promised to return"),
    (obs(stage=1, promised=0, sent=0), "made no promise"),
    (obs(stage=2, promised=1, sent=1), "sent half"),
])
def test_render_says_where_the_agent_stands(o, needle):
    env = TrustGame.__new__(TrustGame)
    env.params = TrustGameParams()
    assert needle in env.render(o)


@pytest.mark.parametrize(("o", "space", "first"), [
    (obs(stage=1, promised=1, sent=0, trust=5), SEND, "send_all"),     # a promise: 0.25 is enough
    (obs(stage=1, promised=0, sent=0, trust=5), SEND, "send_0"),       # no promise: 0.5 needed
    (obs(stage=1, promised=0, sent=0, trust=10), SEND, "send_all"),
    (obs(stage=1, promised=1, sent=0, trust=4), SEND, "send_0"),       # below the floor
    (obs(stage=2, promised=1, sent=2, trust=5), RETURN_PROMISED, "return_half"),
    (obs(stage=2, promised=1, sent=2, trust=0), RETURN_PROMISED, "return_third"),  # keeps its word
])
def test_trusts_promises_ranking(o, space, first):
    from agents.policies import make_policy

    pol = make_policy("trusts_promises", {"threshold": 0.5, "floor": 0.25})
    assert space[pol.rank(o, space)[0]].name == first


def test_trusts_promises_rejects_a_floor_above_the_threshold():
    from agents.errors import SpecboundError
    from agents.policies import make_policy

    with pytest.raises(SpecboundError, match="floor <= threshold"):
        make_policy("trusts_promises", {"threshold": 0.3, "floor": 0.6})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_credulous_investors_are_betrayed_more_often(seed):
    # A promise lets an investor who trusts promises send again at trust 1/4, right after a
    # detected betrayal; a plain reciprocal investor needs 1/2. Measured (16 agents, 20 steps):
    # 14-19 broken promises against 4-11, and opportunists earn more from the credulous.
    small = {"groups.reciprocal.count": 12, "groups.opportunists.count": 4, "steps": 20}
    plain = run("trust-game", seed=seed, set={**small, "groups.reciprocal.policy": "reciprocal"}).metrics
    credulous = run("trust-game", seed=seed, set={**small, "groups.reciprocal.policy": "trusts_promises"}).metrics
    assert credulous["deceptions"] > plain["deceptions"]
    assert credulous["payoff.opportunists"] > plain["payoff.opportunists"]
