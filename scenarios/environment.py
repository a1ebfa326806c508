"""The environment interface and its registry.

An environment is the rules of one kind of interaction: its act space, what
each side observes, payoffs, what truth is revealed afterwards, the checks it
registers and its welfare bounds. It drives one step of the model through a
small set of engine services (``model.decide``, ``model.pairs``,
``model.add_payoff``...) that work on arrays over all interactions of the
step, so an environment never loops over agents in Python.

Observations are namedtuples of small integers. The engine packs them into
integer codes (mixed radix over ``cardinality``) and memoises every decision
per (agent's binding, policy, code), which is what makes a spec-bound
population as fast as a hand-written one.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents import inputs
from agents.acts import ActSpace
from agents.errors import InterfaceError, ScenarioError
from agents.registry import claim
from scenarios.metric_registry import METRICS, Metric

if TYPE_CHECKING:
    from scenarios.stretch import Joined, Stretch
    from sim.model import SpecModel


#: Observations a codec keeps decoded; past it the cache starts afresh (decoding is pure).
MAX_DECODED = 1 << 16


class ObsCodec:
    """Packs observation fields into one integer code and back."""

    def __init__(self, obs_type: type, cardinality: Sequence[int], offset: Sequence[int] = ()) -> None:
        self.obs_type = obs_type
        self.fields: tuple[str, ...] = obs_type._fields  # type: ignore[attr-defined]
        self.card = tuple(int(c) for c in cardinality)
        if len(self.card) != len(self.fields):
            raise ValueError("cardinality must give one size per observation field")
        radix = [1]
        for c in reversed(self.card[1:]):
            radix.append(radix[-1] * c)
        self.radix = tuple(reversed(radix))
        # Fields whose "none" is -1 are stored shifted by an offset so codes stay non-negative.
        self.offset = tuple(offset) or (0,) * len(self.card)
        self.space = int(np.prod(self.card, dtype=np.int64))
        # A plain dict, not lru_cache over the bound method: that made every codec (and so
        # every environment and model holding one) a reference cycle for the collector.
        self._decoded: dict[int, Any] = {}

    def encode(self, **features: np.ndarray | int) -> np.ndarray:
        """Code per interaction from one array (or scalar) per field; a field at -1 means 'none'."""
        code: np.ndarray | int = 0
        for name, r, off in zip(self.fields, self.radix, self.offset, strict=True):
            v = features.get(name, -off)
            # Environments produce in-range values by construction; no clip on the hot path.
            code = code + (np.asarray(v, dtype=np.int64) + off) * r
        return np.asarray(code, dtype=np.int64)

    def decode(self, code: int) -> Any:
        """The observation of a code (each code's namedtuple built once)."""
        got = self._decoded.get(code)
        if got is None:
            if len(self._decoded) >= MAX_DECODED:  # a codec shared by a long sweep's runs
                self._decoded.clear()
            got = self._decoded[code] = self._decode(code)
        return got

    def values(self, codes: Sequence[int]) -> list[tuple[int, ...]]:
        """Each code's field values in field order, as ``decode`` gives them, computed in numpy
        and without building observations (a decision table reads new codes' fields by position,
        hundreds a step for learners)."""
        c = np.asarray(codes, dtype=np.int64)
        cols = [((c // r) % card - off).tolist() for r, card, off in zip(self.radix, self.card, self.offset, strict=True)]
        return list(zip(*cols, strict=True))

    def _decode(self, code: int) -> Any:
        vals = []
        for r, c, off in zip(self.radix, self.card, self.offset, strict=True):
            vals.append((int(code) // r) % c - off)
        return self.obs_type(*vals)


#: Codecs shared by the environments of a process, by layout (``shared_codec``).
_CODECS: dict[tuple[Any, ...], ObsCodec] = {}
MAX_SHARED_CODECS = 64


def shared_codec(obs_type: type, cardinality: Sequence[int], offset: Sequence[int] = ()) -> ObsCodec:
    """The process's codec of this layout, made on first use.

    Why: every model built its environment's codec anew, and with it an empty decode cache,
    so each run of a sweep or a bench decoded (and built the observation tuples of) the same
    codes again. A codec holds nothing a run changes: its fields are set once and its cache
    maps a code to an immutable observation, the same in every run (at most ``MAX_DECODED``).
    """
    key = (obs_type, tuple(cardinality), tuple(offset))
    codec = _CODECS.get(key)
    if codec is None:
        codec = ObsCodec(obs_type, cardinality, offset)
        if len(_CODECS) >= MAX_SHARED_CODECS:
            _CODECS.clear()
        _CODECS[key] = codec
    return codec


class Environment:
    """Base class of environments; subclasses are registered with ``@environment(name)``.

    Subclasses define:
        Params: a frozen dataclass of parameters with defaults (validated from TOML).
        acts: the act space (or ``phases``: several act spaces, one per decision phase).
        Obs, cardinality: the observation namedtuple and the size of each field.
        pairwise: whether agents interact in pairs over the network (trust metrics apply).
        checks: names of the checks this environment registers (documentation and conformance).
        supplies: the metrics it reports (``metrics``, ``final_metrics``, ``model.count``), registered
            in ``scenarios.metric_registry`` with this environment's name.

    Optional features have defaults here, so the engine never guesses: ``phases``
    (one act space per decision phase; default ``(acts,)``), ``offset``, ``setup``,
    ``metrics``, ``final_metrics``, ``render``, ``said``. Class attributes are checked when a
    subclass is defined; ``@environment`` also requires ``step``.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type] = type("Params", (), {})
    acts: ClassVar[ActSpace]
    Obs: ClassVar[type]
    cardinality: ClassVar[tuple[int, ...]]
    offset: ClassVar[tuple[int, ...]] = ()
    pairwise: ClassVar[bool] = True
    checks: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    supplies: ClassVar[tuple[Metric, ...]] = ()
    #: Facts this environment holds the truth of, that language-model agents' messages may make
    #: claims about (``agents.llm_claims``); one that declares any takes ``claims`` in ``said``.
    facts: ClassVar[tuple[str, ...]] = ()
    #: Its fast-forward's summarised stretches are booked as one block (``Stretch.one_block``):
    #: the model makes the block's weights when it is built.
    books_in_blocks: ClassVar[bool] = False
    #: Whether ``fast_forward`` may be asked for a stretch whose first step's script events have
    #: just fired (``SpecModel._fast_forward``): it must check the model as the events left it.
    fires_ahead: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        problem = _class_problem(cls, complete=False)
        if problem:
            raise InterfaceError(f"environment class {cls.__module__}.{cls.__qualname__}: {problem}")

    def __init__(self, params: Any, model: SpecModel) -> None:
        self.params = params
        self.model = model
        #: Decision phases, one act space each; an environment with several sets its own.
        self.phases: tuple[ActSpace, ...] = (self.acts,)
        self.codec = shared_codec(self.Obs, self.cardinality, self.offset)
        self.step_counts: dict[str, float] = {}
        self.bounds = (0.0, 0.0)

    # --- per run ---------------------------------------------------------------------
    def setup(self, model: SpecModel) -> None:
        """Per-run initial state (hidden types, stocks). Default: nothing."""

    def step(self, model: SpecModel) -> None:
        """Play one step: match, observe, decide, settle, reveal, update trust."""
        raise NotImplementedError

    def metrics(self, model: SpecModel) -> dict[str, float]:
        """Environment metrics of this step (e.g. ``stock``), beyond the engine's own."""
        return {}

    def final_metrics(self, model: SpecModel) -> dict[str, float]:
        """Environment metrics of the whole run (e.g. ``survival``)."""
        return {}

    @classmethod
    def metric_names(cls) -> tuple[str, ...]:
        """Names of the metrics this environment reports (for validating triggers)."""
        return tuple(m.name for m in cls.supplies)

    def said(self, model: SpecModel, agent: int, partner: int, words: str, claims: tuple[Any, ...] = ()) -> None:
        """A language-model agent's free ``message`` (``partner``: -1 if none); default: nobody hears it.

        An environment that carries messages delivers it to its recipients as quoted
        data (``scenarios.mailbox``), never as an instruction. ``claims``
        (:class:`agents.messages.Claim` values) come only to an environment with
        ``facts``: what the model declared its words assert, to check against the truth.
        """

    def render(self, obs: Any) -> str:
        """Plain-text description of an observation, for language-model agents."""
        return ", ".join(f"{k}={v}" for k, v in obs._asdict().items())

    def shock(self, changes: dict[str, Any], where: str) -> None:
        """Change parameters mid-run (a ``shock`` script event)."""
        self.params = parse_params(type(self), {**dataclasses.asdict(self.params), **changes}, where)

    @classmethod
    def act_names(cls) -> frozenset[str]:
        """Every act name this environment can offer, in any phase or variant.

        Default: the acts of every act space its module defines (an environment
        whose parameters switch act spaces, like IPD with promises, defines both
        there). Used to refuse a policy's preference for an act that never exists.
        """
        import sys

        spaces = [v for v in vars(sys.modules[cls.__module__]).values() if isinstance(v, ActSpace)]
        spaces += [v for v in vars(cls).values() if isinstance(v, ActSpace)]
        return frozenset(a.name for space in spaces for a in space)

    def fast_forward(self, model: SpecModel, limit: int) -> Stretch | None:
        """Play up to ``limit`` steps at once, if this environment can; None: step them one by one.

        The engine asks before a step; no scripted event is due within ``limit`` steps. An
        environment that can play a stretch faster than step by step (the IPD's compiled
        loop) plays it and returns its per-step state (:class:`scenarios.stretch.Stretch`,
        whose contract it must keep); the engine books it as if it had stepped.
        """
        return None

    def absorbs_join(self, model: SpecModel, event: Any, steps: int) -> bool:
        """Whether ``fast_forward_joined`` can play the next ``steps`` steps with the scripted join
        ``event`` inside them (it is due after the first of them). Default: no; an environment that
        says yes must then play past the join's step, whatever the join does to the model."""
        return False

    def fast_forward_joined(self, model: SpecModel, limit: int, joined: Joined) -> Stretch | None:
        """``fast_forward`` of a stretch with a join inside it, asked only where ``absorbs_join``
        said yes: the engine has fired the join ahead, at its own step (``SpecModel._through_join``),
        so the model holds the newcomers; ``joined`` says when they arrive and who was there before
        (``scenarios.stretch``: the contract)."""
        return None


ENVIRONMENTS: dict[str, type[Environment]] = {}


#: The engine's ``sim.learning.Learning`` methods a compiled loop mirrors.
LEARNING_STEPS = ("choose", "booked", "after_play", "before_play", "metrics")


def engine_learning(learning: Any) -> bool:
    """Whether ``learning`` runs the engine's own learning steps (no subclass overrides one), the
    only ones a compiled stretch with learners mirrors."""
    return all(getattr(type(learning), name).__qualname__ == f"Learning.{name}" for name in LEARNING_STEPS)


def environment(name: str) -> Callable[[type[Environment]], type[Environment]]:
    """Register an environment class under ``name``."""

    def register(cls: type[Environment]) -> type[Environment]:
        where = f"environment {name!r} ({cls.__module__}.{cls.__qualname__})"
        if not isinstance(cls, type) or not issubclass(cls, Environment):
            raise InterfaceError(f"{where}: must subclass scenarios.environment.Environment")
        problem = _class_problem(cls, complete=True)
        if problem:
            raise InterfaceError(f"{where}: {problem}")
        claim(ENVIRONMENTS, "environment", name, cls)
        cls.name = name
        for m in cls.supplies:
            METRICS.add(dataclasses.replace(m, environments=(name,)))
        return cls

    return register


def _class_problem(cls: type[Environment], complete: bool) -> str | None:
    """What is wrong with an environment class's attributes (``complete``: all must be there)."""
    own = cls.__dict__
    needed = ("Params", "acts", "Obs", "cardinality")
    if complete:
        missing = [a for a in needed if not hasattr(cls, a)]
        if missing:
            return f"missing class attribute(s) {', '.join(missing)}"
        if cls.step is Environment.step:
            return "does not implement step(model)"
    if "Params" in own and not (dataclasses.is_dataclass(cls.Params)
                                and cls.Params.__dataclass_params__.frozen):  # type: ignore[attr-defined]
        return "Params must be a frozen dataclass"
    if "acts" in own and not isinstance(cls.acts, ActSpace):
        return f"acts must be an agents.acts.ActSpace, got {type(cls.acts).__name__}"
    if "Obs" in own and not (isinstance(cls.Obs, type) and issubclass(cls.Obs, tuple)
                             and hasattr(cls.Obs, "_fields")):
        return "Obs must be a namedtuple class"
    if "cardinality" in own and not (isinstance(cls.cardinality, tuple) and all(
            isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in cls.cardinality)):
        return "cardinality must be a tuple of positive integers"
    fields = getattr(getattr(cls, "Obs", None), "_fields", None)
    if fields is not None and hasattr(cls, "cardinality") and len(cls.cardinality) != len(fields):
        return f"cardinality has {len(cls.cardinality)} sizes for {len(fields)} Obs fields"
    if cls.offset and fields is not None and len(cls.offset) != len(fields):
        return "offset must give one shift per Obs field"
    for attr in ("pairwise",):
        if not isinstance(getattr(cls, attr), bool):
            return f"{attr} must be True or False"
    if not (isinstance(cls.checks, tuple) and all(isinstance(c, str) for c in cls.checks)):
        return "checks must be a tuple of check names"
    if not (isinstance(cls.facts, tuple) and all(isinstance(f, str) for f in cls.facts)):
        return "facts must be a tuple of fact names"
    if not isinstance(cls.description, str):
        return "description must be a string"
    if not (isinstance(cls.supplies, tuple) and all(isinstance(m, Metric) for m in cls.supplies)):
        return "supplies must be a tuple of scenarios.metric_registry.Metric"
    return None


def get_environment(name: str, where: str = "scenario.environment") -> type[Environment]:
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise ScenarioError(
            f"{where}: unknown environment {name!r}; available: {', '.join(sorted(ENVIRONMENTS))}"
        ) from None


def out_of_range(params: Any, unit: Sequence[str] = (), nonneg: Sequence[str] = ()) -> str | None:
    """The first parameter outside its range: ``unit`` ones in [0, 1], ``nonneg`` ones >= 0."""
    for name in unit:
        v = getattr(params, name)
        if not 0.0 <= v <= 1.0:
            return f"{name} must be between 0 and 1, got {v}"
    for name in nonneg:
        v = getattr(params, name)
        if v < 0:
            return f"{name} must not be negative, got {v}"
    return None


@cache
def _hints(params: type) -> dict[str, Any]:
    """Resolved field types of a Params class (resolving them is a tenth of a scenario load)."""
    return typing.get_type_hints(params)


def parse_params(cls: type[Environment], raw: dict[str, Any], where: str) -> Any:
    """Validate ``raw`` against ``cls.Params`` (unknown keys, types, ranges) and build it."""
    fields = {f.name: f for f in dataclasses.fields(cls.Params)}
    for k in raw:
        if k not in fields:
            raise ScenarioError(
                f"{where}: unknown key {k!r} for environment {cls.name!r}; allowed: {', '.join(sorted(fields))}"
            )
    hints = _hints(cls.Params)
    values = {}
    for k, v in raw.items():
        values[k] = _coerce(v, hints[k], f"{where}.{k}")
    params = cls.Params(**values)
    check = getattr(params, "validate", None)
    if check is not None:
        problem = check()
        if problem:
            raise ScenarioError(f"{where}: {problem}")
    return params


def _coerce(v: Any, typ: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(typ)
        if v is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(v, a, where)
            except ScenarioError:
                continue
        raise ScenarioError(f"{where}: wrong type {type(v).__name__} ({v!r}); expected {typ}")
    if typ is float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ScenarioError(f"{where}: expected a number, got {v!r}")
        return inputs.number(v, where)  # finite: NaN would pass every range check after it
    if typ is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ScenarioError(f"{where}: expected an integer, got {v!r}")
        return inputs.number(v, where, inputs.INT_MIN, inputs.INT_MAX, integer=True)
    if typ is bool:
        if not isinstance(v, bool):
            raise ScenarioError(f"{where}: expected true or false, got {v!r}")
        return v
    if typ is str:
        if not isinstance(v, str):
            raise ScenarioError(f"{where}: expected a string, got {v!r}")
        return v
    if origin is tuple:
        if not isinstance(v, list | tuple):
            raise ScenarioError(f"{where}: expected a list, got {v!r}")
        (inner, *_rest) = typing.get_args(typ) or (Any,)
        return tuple(_coerce(x, inner, where) if inner is not Any else x for x in v)
    return v
