"""LLM-driven agents: the ``llm`` policy, through the openai client.

A group whose policy is ``llm`` asks a chat model for every decision. The
engine batches one step's decisions into :class:`DecisionRequest` values and
calls :meth:`LLMPolicy.choose_many`, which sends them all at once
(``AsyncOpenAI``, at most ``concurrency`` in flight) and returns one
:class:`LLMChoice` each. The chain of command then audits the model's act with
:func:`audit` (and, in ``enforce`` mode, replaces a violating act).

The server is whatever the openai client's own environment says:
``OPENAI_BASE_URL`` (OpenAI, vLLM, Ollama, llama.cpp...) and ``OPENAI_API_KEY``.
The key is read by the client from the environment only; this module never
stores it, and scrubs it from any server text it records.

A model's output never crashes a run: a reply that is not JSON or names an act
not offered is retried ``max_retries`` times with a note on what was wrong,
then the request's fallback act is used and an ``invalid_output`` event is
recorded. A call that still fails after the client's own retries (rate limits,
5xx, timeouts) becomes an ``llm_error`` event and the fallback act. Only a
rejected API key stops the run, with a one-line :class:`LLMAuthError`: every
later call would fail the same way.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from agents.acts import Act, ActSpace
from agents.checks import evaluate
from agents.errors import RunFailure, SpecboundError
from agents.llm_cache import (
    InFlight,
    ReplyCache,
    cached_completion,
    default_root,
    disabled_by_env,
    post_completion,
)
from agents.llm_health import Breaker, LLMAuthError, is_transport, preflight
from agents.llm_prompt import (
    ROLES,
    build_messages,
    json_object,
    parse_reply,
    repair_messages,
    response_format,
)
from agents.policies import BatchPolicy, policy

MODES = ("audit", "enforce")
TRANSPORTS = ("direct", "openai")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
TOKEN_PARAMS = ("max_tokens", "max_completion_tokens")


@dataclass(frozen=True)
class LLMConfig:
    """How a group's agents talk to the model (``[groups.NAME.llm]`` in a scenario).

    Attributes:
        model: the model name the server knows (``"gpt-4.1-mini"``, ``"llama3.1"``).
        temperature: sampling temperature; ``None`` (``"default"`` in TOML, and
            the default when ``reasoning_effort`` is set) leaves it to the
            server, as reasoning models accept only their own.
        reasoning_effort: for reasoning models, one of :data:`EFFORTS`.
        max_tokens: the reply's token budget.
        max_tokens_param: the request field carrying it (OpenAI's reasoning
            models want ``max_completion_tokens``; most servers accept ``max_tokens``).
        roles: where ``system`` and ``developer`` messages go, for servers that
            lack a role (``{"developer": "system"}``); ``user`` is never remapped.
        concurrency: most calls in flight at once. The default lets every
            call of a step go at once (up to the openai client's own pool of
            1,000 connections): a cap splits a step into waves, each costing a
            full latency.
        max_retries: retries of a reply that is not a valid act.
        client_retries: the openai client's retries of 429, 5xx and timeouts.
        timeout: seconds per HTTP call (the per-call deadline; the client retries add to it).
        preflight_timeout: seconds the first request to the server (``GET /models``, no
            retries) may take before the run fails as "server down"; 0 skips it.
        breaker: consecutive transport failures (refused, timed out, 5xx) that stop the run.
        step_timeout: seconds one step's decisions may take together (None: no limit).
        cache: read and write the on-disk reply cache.
        cache_dir: the cache root (default ``$XDG_CACHE_HOME/specbound``).
        mode: ``audit`` records violations; ``enforce`` also blocks them.
        prices: ``{model: {"input": usd_per_1M, "output": usd_per_1M}}``;
            without an entry for the model, cost is reported as unknown.
        memory: how many of its past outcomes each agent is told (``sim.llm_memory``); 0: none.
        transport: ``direct`` sends plain chat calls itself (``agents.llm_wire``: a tenth
            of the client's CPU per call) and leaves failures, proxies and custom auth to
            the openai client; ``openai`` sends every call through the client.
    """

    model: str
    temperature: float | None = 0.0
    reasoning_effort: str | None = None
    max_tokens: int = 300
    max_tokens_param: str = "max_tokens"
    roles: tuple[tuple[str, str], ...] = ()
    concurrency: int = 1000
    max_retries: int = 2
    client_retries: int = 4
    timeout: float = 60.0
    preflight_timeout: float = 5.0
    breaker: int = 5
    step_timeout: float | None = None
    cache: bool = True
    cache_dir: str | None = None
    mode: str = "audit"
    prices: tuple[tuple[str, float, float], ...] = ()
    memory: int = 0
    transport: str = "direct"

    def __post_init__(self) -> None:
        where = "llm"
        if not isinstance(self.model, str) or not self.model:
            raise SpecboundError(f"{where}.model must be a non-empty string, got {self.model!r}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise SpecboundError(
                f"{where}.temperature must be between 0 and 2, got {self.temperature!r}"
            )
        _one_of(where, "reasoning_effort", self.reasoning_effort, (None, *EFFORTS))
        _one_of(where, "max_tokens_param", self.max_tokens_param, TOKEN_PARAMS)
        _one_of(where, "mode", self.mode, MODES)
        _one_of(where, "transport", self.transport, TRANSPORTS)
        for name, low in (("max_tokens", 1), ("concurrency", 1), ("max_retries", 0), ("memory", 0)):
            value = getattr(self, name)
            if value < low:
                raise SpecboundError(f"{where}.{name} must be an integer >= {low}, got {value!r}")
        if self.client_retries < 0:
            raise SpecboundError(
                f"{where}.client_retries must be an integer >= 0, got {self.client_retries!r}"
            )
        for name, value in (("timeout", self.timeout), ("step_timeout", self.step_timeout)):
            if value is not None and not 0 < value <= 86_400:
                raise SpecboundError(f"{where}.{name} must be between 0 and 86400 seconds (exclusive 0), got {value!r}")
        if not 0 <= self.preflight_timeout <= 600:
            raise SpecboundError(f"{where}.preflight_timeout must be 0..600 seconds (0: skip), "
                                 f"got {self.preflight_timeout!r}")
        if not 1 <= self.breaker <= 1_000_000:
            raise SpecboundError(f"{where}.breaker must be an integer in 1..1000000, got {self.breaker!r}")
        for src, dst in self.roles:
            if src not in ("system", "developer") or dst not in ROLES:
                raise SpecboundError(
                    f"{where}.roles.{src} = {dst!r} is not allowed; map system or developer "
                    f"to one of: {', '.join(ROLES)} (user is never remapped)"
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "llm") -> LLMConfig:
        """Build from a scenario table, naming ``where`` in any error.

        Raises:
            SpecboundError: an unknown key, a value of the wrong type or out of range.
        """
        if not isinstance(data, Mapping):
            raise SpecboundError(f"{where} must be a table, got {data!r}")
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                raise SpecboundError(
                    f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(known))}"
                )
        if "model" not in data:
            raise SpecboundError(f"{where}: missing key 'model' (the model name the server knows)")
        kw: dict[str, Any] = {}
        for key, value in data.items():
            kw[key] = _coerce(where, key, value)
        if "reasoning_effort" in kw and "temperature" not in kw:
            # Reasoning models refuse any temperature but their own.
            kw["temperature"] = None
        try:
            return cls(**kw)
        except SpecboundError as err:
            raise SpecboundError(str(err).replace("llm.", f"{where}.", 1)) from None

    @property
    def role_map(self) -> dict[str, str]:
        return dict(self.roles)

    def price(self) -> tuple[float, float] | None:
        """USD per million (input, output) tokens for this model, if the user set it."""
        for model, inp, out in self.prices:
            if model == self.model:
                return inp, out
        return None


_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "temperature": (int, float),
    "reasoning_effort": (str,),
    "max_tokens": (int,),
    "max_tokens_param": (str,),
    "concurrency": (int,),
    "max_retries": (int,),
    "client_retries": (int,),
    "timeout": (int, float),
    "preflight_timeout": (int, float),
    "breaker": (int,),
    "step_timeout": (int, float),
    "cache": (bool,),
    "cache_dir": (str,),
    "mode": (str,),
    "memory": (int,),
    "transport": (str,),
}


def _coerce(where: str, key: str, value: Any) -> Any:
    """Check one config value's type and turn tables into the frozen form."""
    if key == "roles":
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise SpecboundError(
                f"{where}.roles must be a table of role names, e.g. {{developer = \"system\"}}"
            )
        return tuple(sorted((str(k), v) for k, v in value.items()))
    if key == "prices":
        return _prices(where, value)
    if key == "temperature" and value == "default":
        return None  # TOML has no null: "default" leaves the temperature to the server
    types = _TYPES[key]
    wrong = isinstance(value, bool) and bool not in types
    if wrong or not isinstance(value, types):
        kind = "a number" if float in types else types[0].__name__
        raise SpecboundError(f"{where}.{key} must be {kind}, got {value!r}")
    return float(value) if float in types else value  # type: ignore[arg-type]  # checked above


def _prices(where: str, value: Any) -> tuple[tuple[str, float, float], ...]:
    if not isinstance(value, Mapping):
        raise SpecboundError(
            f"{where}.prices must be a table: model = {{input = USD per 1M, output = USD per 1M}}"
        )
    out = []
    for model, entry in value.items():
        ok = isinstance(entry, Mapping) and set(entry) == {"input", "output"}
        ok = ok and all(
            isinstance(entry[k], int | float) and not isinstance(entry[k], bool) and entry[k] >= 0
            for k in ("input", "output")
        )
        if not ok:
            raise SpecboundError(
                f"{where}.prices.{model} must be {{input = USD per 1M tokens, output = USD per "
                f"1M tokens}} with non-negative numbers, got {entry!r}"
            )
        out.append((str(model), float(entry["input"]), float(entry["output"])))
    return tuple(sorted(out))


def _one_of(where: str, key: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        names = ", ".join(str(a) for a in allowed if a is not None)
        raise SpecboundError(f"{where}.{key} = {value!r} is not allowed; allowed: {names}")


def make_llm_policy(table: Mapping[str, Any], where: str = "llm") -> LLMPolicy:
    """The policy for a scenario group's ``[groups.NAME.llm]`` table.

    The audit/enforce mode belongs to the group (``groups.NAME.mode``), where
    the engine reads it; a ``mode`` in the llm table would be silently
    ignored, so it is refused with a pointer to the right place.
    """
    if isinstance(table, Mapping) and "mode" in table:
        group = where.removesuffix(".llm")
        raise SpecboundError(
            f"{where}.mode: set the mode on the group ({group}.mode = \"audit\" or \"enforce\"), "
            "not in its llm table"
        )
    judge = None
    if isinstance(table, Mapping) and "judge" in table:
        from agents.llm_judged import JudgeConfig

        judge = JudgeConfig.from_dict(table["judge"], f"{where}.judge")
        table = {k: v for k, v in table.items() if k != "judge"}
    return LLMPolicy(LLMConfig.from_dict(table, where), judge=judge)


@dataclass(frozen=True)
class DecisionRequest:
    """One decision an LLM agent must make.

    Attributes:
        agent: the agent's id.
        group: the agent's group.
        step: the model step.
        binding: the agent's :class:`agents.chain.Binding` (its spec and live
            instructions, compiled into ordered constraints).
        acts: the environment's act space.
        candidates: the act indices offered (usually all).
        observation: the environment's plain-text account of what the agent sees.
        peer_messages: ``(source name, text)`` from other agents: no authority.
        tool_data: environment or tool output: no authority.
        fallback: the act used when the model gives no usable answer.
        obs: the environment's observation value (the namedtuple checks read),
            needed by :func:`audit`.
        facts: the facts the environment holds the truth of; when any, the model
            declares its message's claims (:mod:`agents.llm_claims`).
    """

    agent: int
    group: str
    step: int
    binding: Any
    acts: ActSpace
    candidates: tuple[int, ...]
    observation: str
    peer_messages: tuple[tuple[str, str], ...] = ()
    tool_data: tuple[str, ...] = ()
    fallback: int = 0
    obs: Any = None
    facts: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(self.acts[i].name for i in self.candidates)


@dataclass(frozen=True)
class LLMChoice:
    """The model's decision for one request.

    Attributes:
        act: the chosen act index (the fallback when ``ok`` is false).
        message: what the agent says with it.
        ok: the model gave a usable answer.
        attempts: replies asked for (1 + retries of invalid output).
        usage: ``prompt_tokens`` and ``completion_tokens`` over all attempts.
        cached: every attempt was answered by the cache (no request sent).
        events: ``invalid_output`` / ``llm_error`` records for the run's events table.
        claims: what the message asserts, as the model declared it (``agents.llm_claims``).
    """

    act: int
    message: str
    ok: bool
    attempts: int
    usage: dict[str, int] = field(default_factory=dict)
    cached: bool = False
    events: tuple[dict[str, Any], ...] = ()
    claims: tuple[Any, ...] = ()


ClientFactory = Callable[[], Any]


@policy("llm")
class LLMPolicy(BatchPolicy):
    """The ``llm`` policy: decisions by a chat model, many at a time.

    Args:
        config: the group's :class:`LLMConfig`.
        client_factory: builds the async client; the default is
            ``openai.AsyncOpenAI`` configured from the environment.

    Not memoisable: the engine calls :meth:`choose_many` once per step with
    all of the group's decisions. The policy owns a private event loop, so it
    works from plain synchronous code (and from inside a running loop, by
    running its own in a worker thread). The client is built on first use,
    reading the key from the environment; the policy never copies the key,
    and a pickled policy carries no client (it reconnects in the new process).
    """

    stochastic = True

    def __init__(self, config: LLMConfig, client_factory: ClientFactory | None = None,
                 judge: Any = None) -> None:
        super().__init__()
        self.config = config
        self._factory = client_factory
        self._totals = _empty_totals()
        #: Text-only principles judged in audit mode (agents.llm_judged); the engine sets
        #: ``judging`` from the group's mode. ``judged`` maps a principle to [kept, judged, failed].
        self.judge = judge
        self.judging = judge is not None
        self.judged: dict[str, list[int]] = {}
        use_cache = config.cache and not disabled_by_env()
        root = Path(config.cache_dir).expanduser() if config.cache_dir else default_root()
        self._cache = ReplyCache(root) if use_cache else None
        self._session: _Session | None = None
        self._finalizer: weakref.finalize[..., Any] | None = None
        self._breaker = Breaker(config.breaker)
        self._preflight: asyncio.Task[None] | None = None  # the one preflight of this session

    # -- public API -------------------------------------------------------------

    def choose_many(self, requests: list[DecisionRequest]) -> list[LLMChoice]:
        """Decide every request concurrently; results in request order.

        Raises:
            LLMAuthError: the server rejected the API key.
            SpecboundError: no API key in the environment.
        """
        if not requests:
            return []
        return self._run(requests)

    def audit(self, request: DecisionRequest, choice: LLMChoice) -> tuple[tuple[str, ...], int | None]:
        """:func:`audit` in this group's mode."""
        return audit(request, choice, mode=self.config.mode)

    def usage(self) -> dict[str, Any]:
        """Totals so far: calls, cache hits, retries, failures, tokens and cost.

        ``cost_usd`` counts only calls actually sent (cache hits are free) and
        is ``None`` when the price table has no entry for the model.
        """
        out: dict[str, Any] = {"model": self.config.model, **self._totals}
        price = self.config.price()
        out["cost_usd"] = (
            None if price is None else usage_cost(out["prompt_tokens"], out["completion_tokens"], price)
        )
        return out

    # -- internals --------------------------------------------------------------

    def _run(self, requests: list[DecisionRequest]) -> list[LLMChoice]:
        if self._session is None:
            self._session = _Session(self._make_client(), self.config)
            # Close the client on its own loop when the policy goes away; left
            # to the garbage collector, httpx would try on a dead loop.
            self._finalizer = weakref.finalize(self, self._session.close)
        clients = self._session.clients_for(len(requests), self._make_client)
        choices: list[LLMChoice] = self._session.run(self._gather(clients, requests))
        return choices

    async def _gather(self, clients: list[Any], requests: list[DecisionRequest]) -> list[LLMChoice]:
        sem = asyncio.Semaphore(self.config.concurrency)
        client = clients[0]
        tasks = [asyncio.ensure_future(self._decide(clients[n % len(clients)], sem, r))
                 for n, r in enumerate(requests)]
        try:
            try:
                choices = await asyncio.wait_for(asyncio.gather(*tasks), self.config.step_timeout)
            except TimeoutError:
                raise RunFailure(f"a step's {len(requests)} decisions took more than "
                                 f"{self.config.step_timeout:g} s (llm.step_timeout)") from None
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for c in choices:
            self._count(c)
        if self.judging and self.judge is not None:
            await self._judge_text_only(client, sem, requests, list(choices))
        return list(choices)

    async def _judge_text_only(self, client: Any, sem: asyncio.Semaphore,
                               requests: list[DecisionRequest], choices: list[LLMChoice]) -> None:
        """Judge a sample of usable decisions against their text-only principles."""
        from agents.llm_judged import judge_body, sampled, tally, text_only

        jobs = []
        nth: dict[int, int] = {}  # an agent's k-th decision of the step (one per partner)
        for req, choice in zip(requests, choices, strict=True):
            k = nth[req.agent] = nth.get(req.agent, -1) + 1
            if not choice.ok:
                continue
            spec = getattr(req.binding, "spec", None)
            for c in text_only(req.binding):
                if not sampled(self.judge.rate, req.agent, req.step, c.id, k):
                    continue
                principle = spec.principle(c.id) if spec is not None else None
                body = judge_body(self.judge, c, req, req.acts[choice.act], choice.message,
                                  principle.examples if principle is not None else ())
                jobs.append((c.id, body))

        import openai

        async def one(pid: str, body: dict[str, Any]) -> tuple[str, str | None]:
            try:
                content, _, _ = await cached_completion(client, self._cache, sem, body,
                                                        inflight=self._inflight())
            except openai.APIError:
                return pid, None
            return pid, content

        for pid, content in await asyncio.gather(*(one(p, b) for p, b in jobs)):
            tally(self.judged, pid, content)

    def close(self) -> None:
        """Close the HTTP client and its event loop now (a later call reopens them)."""
        if self._finalizer is not None:
            self._finalizer()
        self._session = None
        self._finalizer = None
        self._preflight = None  # it belonged to the closed loop

    def __getstate__(self) -> dict[str, Any]:
        # Loops and sockets do not cross process boundaries; a copy reconnects lazily.
        return {**self.__dict__, "_session": None, "_finalizer": None, "_preflight": None}

    def _make_client(self) -> Any:
        import openai  # imported when a model is first called: it costs ~1.5 s at start-up

        factory = self._factory or self._default_client
        try:
            return factory()
        except openai.OpenAIError:
            raise SpecboundError(
                "OPENAI_API_KEY is not set: the llm policy reads the API key from the "
                "environment only (any non-empty value for servers without keys)"
            ) from None

    def _default_client(self) -> Any:
        import openai

        return openai.AsyncOpenAI(
            max_retries=self.config.client_retries, timeout=self.config.timeout
        )

    async def _call(self, client: Any, body: dict[str, Any]) -> Any:
        """One request to the server: after the preflight, counted by the breaker."""
        await self._checked(client)
        try:
            wire = self._session.wire if self._session is not None else None
            resp = await (wire.complete(body) if wire is not None else post_completion(client, body))
        except Exception as exc:
            if is_transport(exc):
                self._breaker.failure(exc, client)  # raises RunFailure at the limit
            raise
        self._breaker.success()
        return resp

    async def _checked(self, client: Any) -> None:
        """Run the preflight once per session, before the first request the server must answer."""
        if not self.config.preflight_timeout:
            return
        if self._preflight is None:
            self._preflight = asyncio.ensure_future(preflight(client, self.config.preflight_timeout))
        await asyncio.shield(self._preflight)

    def _body(self, messages: list[dict[str, str]], names: tuple[str, ...],
              facts: tuple[str, ...] = ()) -> dict[str, Any]:
        cfg = self.config
        body: dict[str, Any] = {
            "model": cfg.model,
            "messages": messages,
            "response_format": response_format(names, facts),
            cfg.max_tokens_param: cfg.max_tokens,
        }
        if cfg.temperature is not None:
            body["temperature"] = cfg.temperature
        if cfg.reasoning_effort is not None:
            body["reasoning_effort"] = cfg.reasoning_effort
        return body

    async def _decide(
        self, client: Any, sem: asyncio.Semaphore, request: DecisionRequest
    ) -> LLMChoice:
        import openai

        names = request.names()
        messages = build_messages(request, self.config.role_map)
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        where = {"agent": request.agent, "step": request.step, "group": request.group}
        all_cached = True
        reason, content = "", None
        for attempt in range(1, self.config.max_retries + 2):
            try:
                content, used, hit = await self._complete(client, sem,
                                                          self._body(messages, names, request.facts))
            except openai.AuthenticationError:
                raise LLMAuthError(
                    f"authentication failed at {_safe_url(client)}: the server rejected "
                    "OPENAI_API_KEY (HTTP 401); set a valid key in the environment"
                ) from None
            except openai.APIError as exc:
                event = {
                    **where,
                    "kind": "llm_error",
                    "error": type(exc).__name__,
                    "status": getattr(exc, "status_code", None),
                    "detail": _scrub(str(exc), client)[:300],
                    "attempts": attempt,
                }
                return LLMChoice(request.fallback, "", False, attempt, usage, False, (event,))
            usage["prompt_tokens"] += used.get("prompt_tokens", 0)
            usage["completion_tokens"] += used.get("completion_tokens", 0)
            all_cached = all_cached and hit
            parsed = parse_reply(content, names)
            claims: tuple[Any, ...] | str = ()
            if isinstance(parsed, tuple) and request.facts:
                from agents.llm_claims import parse_claims

                claims = parse_claims(json_object(content), request.facts, names)  # type: ignore[arg-type]
            if isinstance(parsed, tuple) and not isinstance(claims, str):
                act = request.acts.index_of(parsed[0])
                return LLMChoice(act, parsed[1], True, attempt, usage, all_cached, claims=claims)
            reason = parsed if isinstance(parsed, str) else str(claims)
            messages = messages + repair_messages(content, reason, names)
        event = {
            **where,
            "kind": "invalid_output",
            "reason": reason,
            "attempts": self.config.max_retries + 1,
            "reply": _scrub(content or "", client)[:300],
            "fallback": request.acts[request.fallback].name,
        }
        attempts = self.config.max_retries + 1
        return LLMChoice(request.fallback, "", False, attempts, usage, all_cached, (event,))

    async def _complete(
        self, client: Any, sem: asyncio.Semaphore, body: dict[str, Any]
    ) -> tuple[str | None, dict[str, int], bool]:
        """One reply: from the cache, else from the server (then cached)."""
        content, used, hit = await cached_completion(client, self._cache, sem, body,
                                                     lambda b: self._call(client, b),
                                                     self._inflight())
        if not hit:
            self._totals["calls"] += 1
            self._totals["prompt_tokens"] += used["prompt_tokens"]
            self._totals["completion_tokens"] += used["completion_tokens"]
        return content, used, hit

    def _inflight(self) -> InFlight | None:
        return self._session.inflight if self._session is not None else None

    def _count(self, choice: LLMChoice) -> None:
        t = self._totals
        t["decisions"] += 1
        t["cached_decisions"] += choice.cached
        t["retries"] += choice.attempts - 1
        for ev in choice.events:
            key = "errors" if ev["kind"] == "llm_error" else "invalid_outputs"
            t[key] += 1


#: Calls of one step that share one client (one HTTP connection pool); see ``_Session.clients_for``.
CALLS_PER_CLIENT = 16


class _Session:
    """A private event loop and the async client bound to it, kept across steps.

    Building a client costs a TLS context and a connection pool (a quarter
    of a second here), too much to pay at every step; keeping one loop lets
    its connections be reused.
    """

    def __init__(self, client: Any, config: LLMConfig | None = None) -> None:
        self.client = client
        self.clients = [client]
        self.loop = asyncio.new_event_loop()
        #: Identical requests in flight on this loop, sent once (``agents.llm_cache.InFlight``).
        self.inflight = InFlight()
        #: The direct path (``agents.llm_wire``) when the config and the client allow it.
        self.wire: Any = None
        if config is not None and config.transport == "direct":
            from agents.llm_wire import Wire, endpoint

            where = endpoint(client)
            if where is not None:
                self.wire = Wire(client, where, config.timeout)

    def clients_for(self, calls: int, make: Callable[[], Any]) -> list[Any]:
        """Clients enough that each carries at most :data:`CALLS_PER_CLIENT` of ``calls``.

        An HTTP connection pool checks every one of its connections each time
        a request starts or ends, so one pool serving a hundred calls at once
        spends CPU growing with the square of the calls, on the step's
        critical path. Several pools of a few connections each do not.
        """
        if self.wire is not None:
            return self.clients[:1]  # the direct path has one pool; the client only sends failures
        while len(self.clients) * CALLS_PER_CLIENT < calls:
            self.clients.append(make())
        return self.clients[: max(1, math.ceil(calls / CALLS_PER_CLIENT))]

    def run(self, coro: Any) -> Any:
        return _outside_any_loop(self.loop.run_until_complete, coro)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._close()
            return
        # Inside a running loop, and possibly inside a garbage collection that a
        # finalizer runs from while concurrent.futures holds its global lock:
        # waiting on a pool here deadlocks, so close on a thread of its own.
        threading.Thread(target=self._close, daemon=True).start()

    def _close(self) -> None:
        try:
            if self.wire is not None:
                self.loop.run_until_complete(self.wire.close())
            for client in self.clients:
                self.loop.run_until_complete(client.close())
        finally:
            self.loop.close()


def _outside_any_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``; from inside a running loop (a notebook, an async app), in a worker thread.

    A thread can run only one loop at a time, so a caller that is itself
    async cannot drive the policy's private loop on its own thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _empty_totals() -> dict[str, int]:
    return dict.fromkeys(USAGE_METRICS, 0)


def _safe_url(client: Any) -> str:
    """The client's base URL without any user:password part."""
    parts = urllib.parse.urlsplit(str(getattr(client, "base_url", "")))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _scrub(text: str, client: Any) -> str:
    """``text`` with the API key (and any URL credentials) removed.

    Servers echo what they received in error bodies, so every piece of server
    text this module records passes through here.
    """
    for secret in (getattr(client, "api_key", None), os.environ.get("OPENAI_API_KEY")):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text.replace(str(getattr(client, "base_url", "")), _safe_url(client))


# -- audit by the chain of command ---------------------------------------------


def _verdicts(binding: Any, obs: Any, act: Act) -> list[bool | None]:
    return [
        None if c.check is None else evaluate(c.check, tuple(c.params), obs, act)
        for c in binding.constraints
    ]


def violations(binding: Any, obs: Any, acts: ActSpace, act: int) -> tuple[str, ...]:
    """Ids of the live constraints ``act`` breaks (text-only principles are never scored)."""
    verdicts = _verdicts(binding, obs, acts[act])
    return tuple(c.id for c, v in zip(binding.constraints, verdicts, strict=True) if v is False)


def audit_choice(
    binding: Any, obs: Any, acts: ActSpace, act: int, resolved: int, mode: str
) -> int | None:
    """The act enforce mode plays instead of the model's ``act``, or ``None``.

    ``resolved`` is the chain of command's own choice. The model's act is
    replaced only in ``enforce`` mode and only when it breaks a constraint
    that ``resolved`` keeps: an act the resolver merely ranks differently,
    but that keeps every rule the resolver's choice keeps, stands.
    """
    _one_of("audit", "mode", mode, MODES)
    if mode != "enforce" or resolved == act:
        return None
    mine = _verdicts(binding, obs, acts[act])
    theirs = _verdicts(binding, obs, acts[resolved])
    worse = any(v is False and w is not False for v, w in zip(mine, theirs, strict=True))
    return resolved if worse else None


def audit(
    request: DecisionRequest, choice: LLMChoice, mode: str = "audit"
) -> tuple[tuple[str, ...], int | None]:
    """Score the model's act against the live constraints.

    Returns:
        ``(ids of the constraints the act violates, replacement)``. The
        replacement (see :func:`audit_choice`) is the resolver's choice when
        ranking the model's act first, so the resolver keeps the model's act
        whenever the rules allow; the caller plays it and records a
        ``blocked`` event (:func:`blocked_event`).
    """
    _one_of("audit", "mode", mode, MODES)
    binding, obs, acts = request.binding, request.obs, request.acts
    violated = violations(binding, obs, acts, choice.act)
    if mode != "enforce" or not violated:
        return violated, None
    ranking = (choice.act, *(i for i in request.candidates if i != choice.act))
    resolved = binding.decide(obs, acts, ranking).act
    return violated, audit_choice(binding, obs, acts, choice.act, resolved, mode)


def blocked_event(
    request: DecisionRequest, choice: LLMChoice, replacement: int, violated: tuple[str, ...]
) -> dict[str, Any]:
    """The ``blocked`` event for an act that enforce mode replaced."""
    return {
        "kind": "blocked",
        "agent": request.agent,
        "step": request.step,
        "group": request.group,
        "act": request.acts[choice.act].name,
        "replacement": request.acts[replacement].name,
        "violated": list(violated),
    }


USAGE_METRICS = (
    "decisions",
    "calls",
    "cached_decisions",
    "retries",
    "invalid_outputs",
    "errors",
    "prompt_tokens",
    "completion_tokens",
)


def usage_metrics(usages: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Flat ``llm.*`` run metrics from the :meth:`LLMPolicy.usage` of each LLM group.

    Counts add up; ``llm.cost_usd`` is NaN unless every group has a price,
    because a partial sum would understate the bill.
    """
    usages = list(usages)
    out = {f"llm.{k}": float(sum(u.get(k, 0) for u in usages)) for k in USAGE_METRICS}
    costs = [u.get("cost_usd") for u in usages]
    priced = [float(c) for c in costs if c is not None]
    out["llm.cost_usd"] = float(sum(priced)) if costs and len(priced) == len(costs) else math.nan
    return out


def usage_cost(prompt_tokens: int, completion_tokens: int, price: tuple[float, float]) -> float:
    """USD for the given tokens at ``price`` (USD per million input, output tokens)."""
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6
