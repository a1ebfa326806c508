"""Plain chat completions with the ``llm`` policy's plumbing: cache, concurrency, ledger, budget.

Evals ask a model free-text questions and a judge for structured verdicts; the
``llm`` policy asks for acts. Both build their client the same way (the openai
client reading ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` from the environment,
never storing the key), share the on-disk reply cache keyed by the whole
request, and count tokens per model. :func:`agents.llm_cache.cached_completion`
is the one call both make.

A :class:`Budget` shared by several :class:`ChatModel` values stops sending
before a request whose worst case (prompt estimated at 4 characters per token,
reply at its full ``max_tokens``) could take the priced total above the limit:
what was answered stays answered, what was not is reported as skipped. Only
priced models count against it; prices come from the user's configuration.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from agents.errors import SpecboundError
from agents.llm import LLMConfig, _safe_url, _scrub, usage_cost
from agents.llm_cache import (
    InFlight,
    ReplyCache,
    cached_completion,
    default_root,
    disabled_by_env,
    request_key,
)
from agents.llm_health import LLMAuthError

#: Characters per token assumed by estimates (dry runs and the budget's worst case).
CHARS_PER_TOKEN = 4
#: Tokens a chat message costs beyond its text (role and separators), for estimates.
MESSAGE_OVERHEAD = 4


def estimate_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """Prompt tokens of ``messages``, estimated from their length."""
    return sum(math.ceil(len(str(m.get("content", ""))) / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD
               for m in messages)


@dataclass
class Budget:
    """A spending limit in USD shared by several models (None: no limit)."""

    limit: float | None = None
    spent: float = 0.0
    reserved: float = 0.0
    stopped: bool = False

    def reserve(self, usd: float) -> bool:
        """Claim ``usd`` of worst-case spending; False (and stopped) if it does not fit."""
        if self.limit is None:
            return True
        if self.stopped or self.spent + self.reserved + usd > self.limit:
            self.stopped = True
            return False
        self.reserved += usd
        return True

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved -= reserved
        self.spent += actual


@dataclass(frozen=True)
class Reply:
    """One answer, or why there is none.

    ``error`` is a scrubbed one-line description of a failed call; ``skipped``
    means the budget stopped the call before it was sent.
    """

    content: str | None
    usage: dict[str, int] = field(default_factory=dict)
    cached: bool = False
    error: str = ""
    skipped: bool = False


LEDGER_KEYS = ("requests", "calls", "cached", "errors", "skipped", "prompt_tokens",
               "completion_tokens")


class ChatModel:
    """One model behind the openai client, for free-text or structured questions.

    Args:
        config: model name, sampling, token limit, roles, retries, cache, prices.
        budget: a :class:`Budget` shared with the other models of a run.
        client_factory: builds the async client (default: ``openai.AsyncOpenAI``
            from the environment).
    """

    def __init__(self, config: LLMConfig, budget: Budget | None = None,
                 client_factory: Callable[[], Any] | None = None) -> None:
        self.config = config
        self.budget = budget or Budget()
        self._factory = client_factory
        root = Path(config.cache_dir).expanduser() if config.cache_dir else default_root()
        self.cache = ReplyCache(root) if config.cache and not disabled_by_env() else None
        self.ledger = dict.fromkeys(LEDGER_KEYS, 0)
        self._client: Any = None
        self._inflight = InFlight()  # futures live in one loop at a time; none is left between runs

    def body(self, messages: list[dict[str, str]], response_format: dict[str, Any] | None = None,
             seed: int | None = None) -> dict[str, Any]:
        """The request body (what the cache key is made of)."""
        cfg = self.config
        body: dict[str, Any] = {"model": cfg.model, "messages": messages,
                                cfg.max_tokens_param: cfg.max_tokens}
        if response_format is not None:
            body["response_format"] = response_format
        if cfg.temperature is not None:
            body["temperature"] = cfg.temperature
        if cfg.reasoning_effort is not None:
            body["reasoning_effort"] = cfg.reasoning_effort
        if seed is not None:
            body["seed"] = seed
        return body

    def worst_cost(self, body: dict[str, Any]) -> float:
        """USD of ``body`` if the prompt is as estimated and the reply uses all its tokens."""
        price = self.config.price()
        if price is None:
            return 0.0
        return usage_cost(estimate_tokens(body["messages"]), self.config.max_tokens, price)

    def cost(self) -> float | None:
        """USD spent on calls sent (cache hits are free); None without a price."""
        price = self.config.price()
        if price is None:
            return None
        return usage_cost(self.ledger["prompt_tokens"], self.ledger["completion_tokens"], price)

    def is_cached(self, body: dict[str, Any]) -> bool:
        """Whether ``body`` would be answered from the cache (no request)."""
        if self.cache is None:
            return False
        base = self._base_url()
        return self.cache.get(request_key(base, body)) is not None

    def _base_url(self) -> str:
        # The cache key holds the base URL the client would use; building a client
        # needs a key, so an estimate without one falls back to the environment's URL.
        url = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return url if url.endswith("/") else url + "/"

    async def ask(self, sem: asyncio.Semaphore, body: dict[str, Any],
                  prepaid: float | None = None) -> Reply:
        """One request through cache, budget and the client's retries.

        Never raises on a server's failure (only on a rejected key).
        ``prepaid``: worst-case USD the caller already reserved for this request
        (so grading an answer that was paid for is not refused after a stop).
        """
        client = self.client()
        self.ledger["requests"] += 1
        worst = prepaid or 0.0
        if prepaid is None and (self.cache is None or not self.cache.get(
                request_key(str(getattr(client, "base_url", "")), body))):
            worst = self.worst_cost(body)
            if not self.budget.reserve(worst):
                self.ledger["skipped"] += 1
                return Reply(None, skipped=True, error="stopped by --max-cost before sending")
        try:
            content, used, hit = await cached_completion(client, self.cache, sem, body,
                                                         inflight=self._inflight)
        except openai.AuthenticationError:
            self.budget.settle(worst, 0.0)
            raise LLMAuthError(
                f"authentication failed at {_safe_url(client)}: the server rejected "
                "OPENAI_API_KEY (HTTP 401); set a valid key in the environment"
            ) from None
        except openai.APIError as exc:
            self.budget.settle(worst, 0.0)
            self.ledger["errors"] += 1
            status = getattr(exc, "status_code", None)
            detail = _scrub(str(exc), client)[:300]
            return Reply(None, error=f"{type(exc).__name__} ({status}): {detail}")
        if hit:
            self.ledger["cached"] += 1
            self.budget.settle(worst, 0.0)
        else:
            self.ledger["calls"] += 1
            self.ledger["prompt_tokens"] += used.get("prompt_tokens", 0)
            self.ledger["completion_tokens"] += used.get("completion_tokens", 0)
            price = self.config.price()
            actual = 0.0 if price is None else usage_cost(
                used.get("prompt_tokens", 0), used.get("completion_tokens", 0), price)
            self.budget.settle(worst, actual)
        return Reply(content, used, hit)

    def client(self) -> Any:
        """The async client, built on first use (inside the event loop that uses it)."""
        if self._client is None:
            factory = self._factory or (lambda: openai.AsyncOpenAI(
                max_retries=self.config.client_retries, timeout=self.config.timeout))
            try:
                self._client = factory()
            except openai.OpenAIError:
                raise SpecboundError(
                    "OPENAI_API_KEY is not set: evals read the API key from the environment "
                    "only (any non-empty value for servers without keys)") from None
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client (in the loop that used it)."""
        if self._client is not None:
            await self._client.close()
            self._client = None


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion on a fresh event loop (from sync code)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
