"""Fail fast on a model server that is down, refuses connections, never answers or rejects the key.

Without these, a dead server is found late: every decision of every step is
tried, each with the client's retries and a 60-second timeout, before a run
gives up (a 5-step run took 102 s on a refused connection; one on a server that
accepts and never answers had not failed after 150 s).

* :func:`preflight`: one cheap request (the ``/models`` list) with a short
  timeout and no retries, before the first call a run sends to the server
  (cached replies need no server, so a fully cached run stays offline). Any
  HTTP answer proves the server is there; only a transport failure or a
  rejected key stops the run.
* :class:`Breaker`: counts consecutive transport failures (connection refused,
  timeout, 5xx) across a run's calls; at ``limit`` the run stops with one line
  instead of trying every remaining decision.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from agents.errors import RunFailure, SpecboundError


def is_transport(exc: BaseException) -> bool:
    """A transport failure: the server gave no usable answer (refused, timed out, 5xx)."""
    import openai  # loaded by the first model call, not at start-up

    return isinstance(exc, openai.APIConnectionError | openai.APITimeoutError | openai.InternalServerError)


class LLMAuthError(SpecboundError):
    """The server rejected the API key (HTTP 401). The key itself is never printed."""


def where(client: Any) -> str:
    """The server's address, for messages (no credentials: base URLs carry none)."""
    return str(getattr(client, "base_url", "") or "the model server").rstrip("/")


def describe(exc: BaseException) -> str:
    """A transport failure in a few words."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, openai.APIConnectionError):
        chain, seen = [], set()
        cur: BaseException | None = exc
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            chain.append(cur)
            cur = cur.__cause__ or cur.__context__
        if any(isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower() for e in chain):
            return "connection refused"
        if any(isinstance(e, ConnectionResetError) or "disconnected" in str(e).lower() for e in chain):
            return "the server hung up"
        return f"cannot connect ({type(chain[-1]).__name__})"
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


async def preflight(client: Any, timeout: float) -> None:
    """One ``GET /models`` with ``timeout`` seconds and no retries; raise if the server is not usable.

    Raises:
        LLMAuthError: the server rejected the key.
        RunFailure: the server is down, refuses connections or does not answer in time.
    """
    import openai

    quick = client.with_options(timeout=timeout, max_retries=0) if hasattr(client, "with_options") else client
    try:
        await asyncio.wait_for(quick.models.list(), timeout + 1.0)
    except openai.AuthenticationError:
        raise LLMAuthError(f"authentication failed at {where(client)}: the server rejected "
                           "OPENAI_API_KEY (HTTP 401); set a valid key in the environment") from None
    except (openai.APIConnectionError, openai.APITimeoutError, TimeoutError) as exc:
        said = "no answer (timed out)" if isinstance(exc, TimeoutError) else describe(exc)
        raise RunFailure(f"model server {where(client)}: {said} within {timeout:g} s at the preflight "
                         "request, before the first step; is it running? (llm.preflight_timeout)") from None
    except openai.APIStatusError:
        return  # it answered: a server without a /models route is still a server


@dataclass
class Breaker:
    """Stops a run after ``limit`` consecutive transport failures (a success resets the count)."""

    limit: int
    failures: int = 0
    last: str = ""

    def success(self) -> None:
        self.failures = 0

    def failure(self, exc: BaseException, client: Any) -> None:
        """Count one transport failure; raise RunFailure when the limit is reached."""
        self.failures += 1
        self.last = describe(exc)
        if self.failures >= self.limit:
            raise RunFailure(f"model server {where(client)}: {self.failures} calls in a row failed "
                             f"(last: {self.last}); stopping the run (llm.breaker)")
