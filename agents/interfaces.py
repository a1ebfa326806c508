"""The interfaces of what acts and what judges: policies (ranking and batch) and checks.

A policy proposes, the spec disposes. There are two kinds, and a class is one
or the other:

- :class:`RankingPolicy`: ``rank(obs, acts)`` orders the candidate acts and is
  a pure function of the observation (randomness comes in as ``obs.coin``), so
  the engine memoises every decision per observation key;
- :class:`BatchPolicy`: ``choose_many(requests)`` decides all of a step's
  requests at once (language models); nothing is memoised.

Classes are checked when they are defined: a class attribute of the wrong
type is an :class:`agents.errors.InterfaceError` right there, not a puzzling
failure in the middle of a run. The registering decorator (``@policy``) also
checks that the class is concrete (``rank`` or ``choose_many`` implemented).

A check is a function ``fn(obs, act, **params) -> bool | None`` (``None``: the
principle does not apply to this observation), registered with ``@check``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from agents.errors import InterfaceError

if TYPE_CHECKING:
    from agents.acts import Act, ActSpace


class Policy:
    """What every policy has: a registered name, typed parameters, and optional usage accounting.

    Attributes:
        name: set by ``@policy(name)``.
        params: parameter name -> type (or tuple of types) accepted from a group's ``params``.
        stochastic: the policy reads ``obs.coin`` or is otherwise random (documentation, conformance).
        memoisable: decisions are a pure function of the observation (ranking policies).
    """

    name: ClassVar[str] = ""
    memoisable: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    params: ClassVar[dict[str, type | tuple[type, ...]]] = {}

    def __init__(self, **params: Any) -> None:
        """Subclasses with parameters take them as keyword arguments (validated by ``make_policy``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        where = f"policy class {cls.__module__}.{cls.__qualname__}"
        for attr in ("memoisable", "stochastic"):
            if not isinstance(getattr(cls, attr), bool):
                raise InterfaceError(f"{where}: {attr} must be True or False, got {getattr(cls, attr)!r}")
        if not isinstance(cls.params, dict) or not all(
            isinstance(k, str) and _is_type_spec(v) for k, v in cls.params.items()
        ):
            raise InterfaceError(f"{where}: params must map parameter names to types, got {cls.params!r}")
        if not isinstance(cls.name, str):
            raise InterfaceError(f"{where}: name must be a string, got {cls.name!r}")

    def usage(self) -> dict[str, Any] | None:
        """Accounting of calls and cost for the run's ``llm.*`` metrics; None for rule-based policies."""
        return None

    @classmethod
    def implemented(cls) -> bool:
        """Whether the class is concrete (registrable): its deciding method is overridden."""
        return False


class RankingPolicy(Policy):
    """A policy that ranks candidate acts, a pure function of the observation (memoised)."""

    memoisable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.memoisable is not True:
            raise InterfaceError(f"policy class {cls.__module__}.{cls.__qualname__}: a ranking policy is "
                                 "memoisable (a pure function of obs); decide in batches with BatchPolicy")

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        """Act indices, most preferred first (may be partial: the rest follow in act order)."""
        raise NotImplementedError

    @classmethod
    def implemented(cls) -> bool:
        return cls.rank is not RankingPolicy.rank


class BatchPolicy(Policy):
    """A policy that decides a step's requests together (a language model); never memoised."""

    memoisable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.memoisable is not False:
            raise InterfaceError(f"policy class {cls.__module__}.{cls.__qualname__}: a batch policy is "
                                 "not memoisable")

    def choose_many(self, requests: list[Any]) -> list[Any]:
        """One choice per request, in request order (see ``agents.llm.DecisionRequest``)."""
        raise NotImplementedError

    @classmethod
    def implemented(cls) -> bool:
        return cls.choose_many is not BatchPolicy.choose_many


class CheckFn(Protocol):
    """A check: does ``act`` comply with the principle in this observation (None: not applicable)?"""

    def __call__(self, obs: Any, act: Act, /, **params: Any) -> bool | None: ...


def _is_type_spec(v: Any) -> bool:
    return isinstance(v, type) or (isinstance(v, tuple) and bool(v) and all(isinstance(t, type) for t in v))
