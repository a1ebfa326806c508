"""``trust-game``: the investment game of Berg, Dickhaut and McCabe (1995) over a network.

Every step, every edge plays one game, its roles drawn at random
(``model.rng_match``): the *investor* holds an endowment ``E`` and sends a
share of it (``send_0``, ``send_half``, ``send_all``); the amount sent is
multiplied by ``k`` on its way; the *trustee* then returns a share of what
it received (``return_0``, ``return_third``, ``return_half``).

    investor payoff = E - s + r          s = share sent x E
    trustee payoff  = k s - r            r = share returned x k s

Nothing sent leaves the pair at ``E`` (the welfare baseline); everything
sent makes ``k E`` (the social optimum). Returning a third gives an investor
who sent at ``k = 3`` its money back; returning half shares the surplus.

Promises (``promises = true``): before the investor moves, the trustee may
promise to return at least a third (``promise``) or stay silent. The
investor sees the promise and its trust in the trustee. A trustee who
promised then chooses among *promise-bearing* return acts, so
``return_0`` after a promise is a broken word: it fails the generic
``keeps_promise`` check (and so the platform's ``keep_promises``) and counts
as a deception; ``honours_promise`` scores the same from the observation.

Decision phases: 0 the trustee's promise, 1 the investor's share, 2 the
return after a promise, 3 the return without one. A trustee decides only
when something was sent: with nothing sent there is nothing to return.

Trust: an investor who sent adds Beta evidence about the trustee (kept when
it returned something, broken when it kept all; a broken promise, when
detected with probability ``detect_prob``, adds ``lie_penalty`` more broken
evidence). A trustee adds evidence about the investor (kept when it sent
something). Trust is visible twice: as beliefs (``trust_mean``) and as
money (``sent_share``). Partner choice: ``[network.rewire]`` lets agents cut
ties whose trust fell below a threshold and find new partners.

Observation (per decision, about the partner): ``stage`` (0 promise, 1 send,
2 return), ``promised`` (0/1), ``sent`` (0 nothing, 1 half, 2 all; for the
return), the pair memory the classic strategies read (``my_last``,
``partner_last``, ``partner_last2``, ``partner_defected``,
``my_last_payoff_good``, ``parity``: a move is cooperative when it sent or
returned something), ``trust`` in twentieths and ``coin``.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from agents.acts import Act, ActSpace
from agents.checks import check
from agents.kernel_loader import worth_loading
from agents.policies import COIN_SIDES, TRUST_BUCKETS
from agents.policies.beliefs import FictitiousPlay
from scenarios.environment import Environment, engine_learning, environment, out_of_range
from scenarios.ipd import needs_coin
from scenarios.metric_registry import Metric
from scenarios.stretch import Stretch

PROMISE_LEVEL = 1.0 / 3.0  # what a promise commits to: return at least this share

PROMISE = ActSpace([
    Act("promise", promise="C", text="I promise to return at least a third of what I receive."),
    Act("silent", noop=True, text="(says nothing)"),
])
SEND = ActSpace([
    Act("send_0", cooperative=False, gives=0.0, noop=True, text="I keep my endowment."),
    Act("send_half", cooperative=True, gives=0.5, text="I send half of my endowment."),
    Act("send_all", cooperative=True, gives=1.0, text="I send all of my endowment."),
])


def _returns(promised: bool) -> ActSpace:
    """Return acts; after a promise each carries it, so keeping or breaking it is visible."""
    word = "C" if promised else None
    return ActSpace([
        Act("return_0", cooperative=False, gives=0.0, promise=word, noop=True, text="I keep everything."),
        Act("return_third", cooperative=True, gives=PROMISE_LEVEL, promise=word,
            text="I return a third of what I received."),
        Act("return_half", cooperative=True, gives=0.5, promise=word, text="I return half of what I received."),
    ])


RETURN_PROMISED = _returns(True)
RETURN_SILENT = _returns(False)
PHASE_PROMISE, PHASE_SEND, PHASE_RETURN_PROMISED, PHASE_RETURN_SILENT = range(4)
STAGE_PROMISE, STAGE_SEND, STAGE_RETURN = range(3)

TrustGameObs = namedtuple(
    "TrustGameObs",
    "stage promised sent my_last partner_last partner_last2 partner_defected "
    "my_last_payoff_good parity trust coin",
)


@dataclass(frozen=True)
class TrustGameParams:
    """Parameters of the investment game.

    Attributes:
        endowment: what the investor holds before sending (``E``).
        multiplier: what every unit sent becomes in the trustee's hands (``k``).
        promises: whether the trustee may promise a return before the investor moves.
        detect_prob: probability that an investor sees a broken promise for what it is.
        lie_penalty: extra broken evidence a detected broken promise adds.
    """

    endowment: float = 10.0
    multiplier: float = 3.0
    promises: bool = True
    detect_prob: float = 1.0
    lie_penalty: float = 1.0

    def validate(self) -> str | None:
        if self.endowment <= 0:
            return f"endowment must be positive, got {self.endowment}"
        if self.multiplier <= 1:
            return f"multiplier must be above 1 (sending must create value), got {self.multiplier}"
        return out_of_range(self, unit=("detect_prob",), nonneg=("lie_penalty",))


def settle(endowment: float, multiplier: float, send: np.ndarray, ret: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Payoffs (investor, trustee) of games with these shares sent and returned."""
    sent = np.asarray(send, dtype=np.float64) * endowment
    grown = multiplier * sent
    back = np.asarray(ret, dtype=np.float64) * grown
    return endowment - sent + back, grown - back


@check("honours_promise")
def honours_promise(obs: Any, act: Act) -> bool | None:
    """After promising a return, return at least a third (applies to returns after a promise)."""
    if act.gives is None or getattr(obs, "stage", None) != STAGE_RETURN or not getattr(obs, "promised", 0):
        return None
    return act.gives >= PROMISE_LEVEL - 1e-9


@check("fair_return", params={"share": (int, float)}, optional=("share",))
def fair_return(obs: Any, act: Act, share: float = PROMISE_LEVEL) -> bool | None:
    """As a trustee, return at least ``share`` of what was received (applies to returns)."""
    if act.gives is None or getattr(obs, "stage", None) != STAGE_RETURN:
        return None
    return act.gives >= share - 1e-9


def mirrored_learners(model: Any) -> bool:
    """Whether the model's learners are what the compiled loop mirrors: one group of greedy
    fictitious play, the engine's own learning, and no other say over decisions (deliberation,
    slips, language models, ``steer``); and no self-play tie (a pair's moves would mix roles)."""
    lr = model.learning
    if lr is None or len(lr.groups) != 1:
        return False
    gl = next(iter(lr.groups.values()))
    e = model.edges
    return (engine_learning(lr) and type(gl.policy) is FictitiousPlay and gl.policy.temperature == 0
            and type(model).steer.__qualname__ == "SpecModel.steer"
            and not (model._any_fast or model._any_error or model.llm_groups)
            and not bool((e[:, 0] == e[:, 1]).any()))


@environment("trust-game")
class TrustGame(Environment):
    Params = TrustGameParams
    acts = SEND
    Obs = TrustGameObs
    cardinality = (3, 2, 3, 3, 3, 3, 2, 2, 2, TRUST_BUCKETS + 1, COIN_SIDES)
    offset = (0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0)
    pairwise = True
    books_in_blocks = True  # the kernel's summarised stretches without a partial counter (``Stretch.one_block``)
    supplies = (
        Metric("sent_share", "share sent", "share of the endowment", aggregate="ratio"),
        Metric("return_share", "share returned", "share of what arrived", aggregate="ratio"),
        Metric("promise_rate", "promise rate", "share of trustees", aggregate="ratio"),
        Metric("promise_kept_rate", "promises kept", "share of promises", per_step=False, aggregate="final"),
        Metric("promises_made", "promises made", "count"),
        Metric("promises_broken", "promises broken", "count"),
        Metric("rewired", "partners dropped by rewiring", "count"),
    )
    checks: ClassVar[tuple[str, ...]] = (
        "honours_promise", "fair_return", "keeps_promise", "cooperates", "truthful",
    )
    description = "Investment game of Berg, Dickhaut and McCabe on a network, with promises and partner choice."

    def __init__(self, params: TrustGameParams, model: Any) -> None:
        super().__init__(params, model)
        self.phases = (PROMISE, SEND, RETURN_PROMISED, RETURN_SILENT)
        self._gives = [np.array([a.gives or 0.0 for a in space]) for space in self.phases]
        self._promises = np.array([a.promise == "C" for a in PROMISE])
        # What the compiled stretch reads (scenarios.trust_game_kernel): gives per (phase, act),
        # promise per act of the promise phase, and its key hash, kept across stretches.
        self.gives_table = np.stack([np.pad(g, (0, 3 - len(g))) for g in self._gives])
        self.promise_table = self._promises.astype(np.int64)
        self.kernel_keys: Any = None
        self.setup(model)

    def setup(self, model: Any) -> None:
        self._step: dict[str, float] = {}
        self._run = {"games": 0.0, "sent": 0.0, "invested": 0.0, "returned": 0.0, "trustees": 0.0,
                     "promised": 0.0}
        # A model whose run will fuse gets the loop's set-up (edges, the decision table's cells,
        # the key hash) when it is built: set-up like the agents, not play. The same cells as
        # the first stretch would compute, in the same order.
        if getattr(model, "env", None) is self and self.can_fast_forward(model):
            kernel = self._kernel(model, model.spec_scenario.steps)
            if kernel is not None:
                kernel.prepare(self, model)

    # --- stretches of steps in one compiled loop -------------------------------------------------
    def fast_forward(self, model: Any, limit: int) -> Stretch | None:
        """Stretches of steps play in a numba loop (``scenarios.trust_game_kernel``), which
        rewires after a step at which rewiring may cut ties, as ``SpecModel.step`` does."""
        if limit <= 0 or not self.can_fast_forward(model):
            return None
        kernel = self._kernel(model, limit)
        return None if kernel is None else kernel.fast_forward(self, model, limit)

    def _kernel(self, model: Any, limit: int) -> Any:
        """The compiled loop's module, when ``limit`` steps are worth numba's import (~0.8 s)
        while it is not loaded and numba is installed; else None (stepping gives the same)."""
        trust_game_kernel = worth_loading("scenarios.trust_game_kernel", limit * 3 * len(model.edges))
        if trust_game_kernel is None:
            return None
        if self.kernel_keys is None:
            self.kernel_keys = trust_game_kernel.Keys()
        return trust_game_kernel

    def can_fast_forward(self, model: Any) -> bool:
        """Whether the model's steps are what the kernel mirrors (asked before each stretch).

        Learners are mirrored when they are one group of greedy fictitious play
        (``trust-game-learning``; ``scenarios.trust_game_learners``); others step.
        """
        cls = type(self)
        return (
            all(getattr(cls, name) is getattr(TrustGame, name)
                for name in ("step", "_observe", "_learn", "_tally", "metrics"))
            and len(model.phases) == len(self.phases)
            and (model.deterministic_decisions or mirrored_learners(model))
            and model.fixed_deciders
            and model.memory is None
            and not needs_coin(model)
            and not model.script.has_triggers
            and bool(model.alive.all())
        )

    # --- the step --------------------------------------------------------------------------
    def step(self, model: Any) -> None:
        prm = self.params
        e = model.edges
        games = len(e)
        self.bounds = (prm.endowment * games, prm.multiplier * prm.endowment * games)
        self._step = {"games": float(games), "sent": 0.0, "invested": 0.0, "returned": 0.0,
                      "trustees": 0.0, "promised": 0.0}
        if not games:
            return
        # The pair table lays out rows (i, j) of all edges, then (j, i): positions, not look-ups.
        model.pairs.align(model.graph_version, e[:, 0], e[:, 1])
        ra, rb = np.arange(games), np.arange(games, 2 * games)
        flip = model.rng_match.random(games) < 0.5
        inv, tru = np.where(flip, e[:, 1], e[:, 0]), np.where(flip, e[:, 0], e[:, 1])
        inv_rows, tru_rows = np.where(flip, rb, ra), np.where(flip, ra, rb)
        coin = needs_coin(model)

        promised = np.zeros(games, dtype=bool)
        if prm.promises:
            codes = self._observe(model, tru_rows, inv_rows, STAGE_PROMISE, promised, 0, coin)
            said = model.decide(tru, codes, inv, phase=PHASE_PROMISE)
            promised = self._promises[said]

        codes = self._observe(model, inv_rows, tru_rows, STAGE_SEND, promised, 0, coin)
        send = self._gives[PHASE_SEND][model.decide(inv, codes, tru, phase=PHASE_SEND)]

        ret = np.zeros(games)
        acted = np.flatnonzero(send > 0)
        for phase, mask in ((PHASE_RETURN_PROMISED, promised[acted]), (PHASE_RETURN_SILENT, ~promised[acted])):
            k = acted[mask]
            if len(k):
                sent_bucket = np.where(send[k] >= 1.0, 2, 1)
                codes = self._observe(model, tru_rows[k], inv_rows[k], STAGE_RETURN, promised[k],
                                      sent_bucket, coin)
                ret[k] = self._gives[phase][model.decide(tru[k], codes, inv[k], phase=phase)]

        pay_inv, pay_tru = settle(prm.endowment, prm.multiplier, send, ret)
        model.add_payoff(np.concatenate([inv, tru]), np.concatenate([pay_inv, pay_tru]))
        self._learn(model, inv, tru, inv_rows, tru_rows, send, ret, promised, acted)
        self._tally(model, send, ret, promised, acted)

    def _observe(self, model: Any, mine: np.ndarray, theirs: np.ndarray, stage: int,
                 promised: np.ndarray, sent: np.ndarray | int, coin: bool) -> np.ndarray:
        p = model.pairs
        trust = np.floor(p.trust(mine) * TRUST_BUCKETS + 1e-9).astype(np.int64)
        draws = model.rng_env.integers(0, COIN_SIDES, len(mine)) if coin else 0
        return self.codec.encode(
            stage=stage, promised=promised.astype(np.int64), sent=sent,
            my_last=p["last"][mine], partner_last=p["last"][theirs], partner_last2=p["last2"][theirs],
            partner_defected=p["defected"][theirs], my_last_payoff_good=p["good"][mine],
            parity=p["turns"][mine] % 2, trust=trust, coin=draws,
        )

    def _learn(self, model: Any, inv: np.ndarray, tru: np.ndarray, inv_rows: np.ndarray,
               tru_rows: np.ndarray, send: np.ndarray, ret: np.ndarray, promised: np.ndarray,
               acted: np.ndarray) -> None:
        """Pair memory, Beta evidence and ground truth of one step's games."""
        prm = self.params
        pairs = model.pairs
        invested = send > 0
        repaid = ret > 0
        # A move counts as cooperative when it sent or returned something; a good round is
        # one in which the partner did.
        pairs.record_moves(inv_rows, invested.astype(np.int8), (invested & repaid).astype(np.int8))
        pairs.record_moves(tru_rows[acted], repaid[acted].astype(np.int8), np.ones(len(acted), dtype=np.int8))
        broken_word = promised[acted] & ~repaid[acted]
        seen = np.zeros(len(acted), dtype=bool)
        if broken_word.any():
            seen = broken_word & (model.rng_detect.random(len(acted)) < prm.detect_prob)
        pairs.observe(inv_rows[acted], repaid[acted].astype(float),
                      (~repaid[acted]).astype(float) + prm.lie_penalty * seen)
        pairs.observe(tru_rows, invested.astype(float), (~invested).astype(float))
        model.record_truth(np.concatenate([inv, tru[acted]]), np.concatenate([invested, repaid[acted]]))
        model.count("promises_broken", float(broken_word.sum()))

    def _tally(self, model: Any, send: np.ndarray, ret: np.ndarray, promised: np.ndarray, acted: np.ndarray) -> None:
        s = self._step
        s["sent"] = float(send.sum())
        s["invested"] = float(len(acted))
        s["returned"] = float(ret[acted].sum())
        s["trustees"] = float(len(promised)) if self.params.promises else 0.0
        s["promised"] = float(promised.sum())
        for k, v in s.items():
            self._run[k] += v
        model.count("promises_made", s["promised"])

    # --- metrics ---------------------------------------------------------------------------
    @staticmethod
    def _shares(t: dict[str, float]) -> dict[str, float]:
        nan = float("nan")
        return {
            "sent_share": t["sent"] / t["games"] if t["games"] else nan,
            "return_share": t["returned"] / t["invested"] if t["invested"] else nan,
            "promise_rate": t["promised"] / t["trustees"] if t["trustees"] else nan,
        }

    def metrics(self, model: Any) -> dict[str, float]:
        """Per step: mean share sent, mean share returned (of games with an investment), promise rate."""
        return self._shares(self._step) if self._step else {}

    def final_metrics(self, model: Any) -> dict[str, float]:
        """Over the run: the same shares, and the share of promises kept."""
        out = self._shares(self._run)
        made = model.totals.cumulative("promises_made")
        broken = model.totals.cumulative("promises_broken")
        out["promise_kept_rate"] = 1.0 - broken / made if made else float("nan")
        out["promises_made"], out["promises_broken"] = made, broken
        return out

    def render(self, obs: Any) -> str:
        trust = f"Your trust in this partner is {obs.trust / TRUST_BUCKETS:.2f}."
        if obs.stage == STAGE_PROMISE:
            return (f"You are the trustee. Your partner will decide how much of {self.params.endowment:g} "
                    f"to send you; it arrives multiplied by {self.params.multiplier:g}. "
                    f"You may promise to return at least a third. {trust}")
        if obs.stage == STAGE_SEND:
            word = "promised to return at least a third" if obs.promised else "made no promise"
            return (f"You are the investor with {self.params.endowment:g}. Whatever you send is multiplied "
                    f"by {self.params.multiplier:g} and your partner, who {word}, decides what to return. {trust}")
        amount = {1: "half", 2: "all"}.get(obs.sent, "part")
        word = " You promised to return at least a third." if obs.promised else ""
        return (f"You are the trustee. Your partner sent {amount} of its endowment, multiplied by "
                f"{self.params.multiplier:g} in your hands.{word} {trust}")
