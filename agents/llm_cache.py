"""An on-disk cache of LLM replies, keyed by the full request.

One JSON file per entry under ``<root>/llm/<2 hex>/<64 hex>.json``. The key is
the SHA-256 of the canonical JSON of the request body (model, messages,
schema, temperature, token limit, reasoning effort...) and the server's base
URL; the API key is never part of a request body, so it can reach neither the
key nor the file. Files are written to a temporary name and renamed into
place, which is atomic on POSIX: processes of a sweep sharing the cache see
either a whole entry or none.

The cache lives outside any output folder (``$XDG_CACHE_HOME/specbound``,
default ``~/.cache/specbound``) so that an identical rerun into a fresh
folder sends no request at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def default_root() -> Path:
    """``$XDG_CACHE_HOME/specbound``, or ``~/.cache/specbound``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "specbound"


def disabled_by_env() -> bool:
    """``SPECBOUND_NO_CACHE`` set to anything but empty/0/false bypasses the cache."""
    return os.environ.get("SPECBOUND_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no")


def request_key(base_url: str, body: dict[str, Any]) -> str:
    """The hex digest naming one request."""
    canon = json.dumps({"base_url": base_url, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReplyCache:
    """A directory of cached replies (``root`` is the specbound cache directory)."""

    root: Path

    def path(self, key: str) -> Path:
        return self.root / "llm" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored reply for ``key``, or ``None`` (a damaged entry counts as missing)."""
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, reply: dict[str, Any]) -> None:
        """Store ``reply`` atomically; a cache that cannot be written is skipped, not fatal."""
        target = self.path(key)
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(reply, fh, sort_keys=True, ensure_ascii=False)
            os.replace(tmp, target)
        except OSError:
            # A read-only or full disk costs money on the next run, not correctness now.
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)


async def post_completion(client: Any, body: dict[str, Any]) -> Any:
    """``client.chat.completions.create(**body)``, without re-validating a body that is plain JSON.

    ``create`` walks the body through the client's typed schema on every call
    (about 4 ms of CPU here, on the step's critical path when a hundred calls
    start at once); the openai client's ``post`` sends the same JSON with the
    same retries, errors and response parsing.
    """
    post = getattr(client, "post", None)
    if post is None:  # a stand-in client
        return await client.chat.completions.create(**body)
    from openai.types.chat import ChatCompletion

    return await post("/chat/completions", body=body, cast_to=ChatCompletion)


class InFlight:
    """Requests being sent now on one event loop, by cache key: the first sends, the rest await it.

    Without it two identical requests in flight together (an eval's two samples
    that got the same answer, graded alike; two decisions of one agent in the
    same situation) both miss the cache and both are sent, or not, depending on
    which finishes first: the number of calls, and at a temperature above zero
    the answers, would differ between a run and its rerun. With it, identical
    requests are sent once per run and the others count as answered from the
    cache, whatever the timing.
    """

    def __init__(self) -> None:
        #: key -> the sender's future: ``(content, usage)``, or None if its call failed.
        self.pending: dict[str, asyncio.Future[tuple[str | None, dict[str, int]] | None]] = {}


async def cached_completion(
    client: Any, cache: ReplyCache | None, sem: asyncio.Semaphore, body: dict[str, Any],
    call: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
    inflight: InFlight | None = None,
) -> tuple[str | None, dict[str, int], bool]:
    """One reply: from the cache, else from the server (then cached).

    ``call`` sends the request (default ``client.chat.completions.create``); the LLM
    policy passes one that runs the preflight first and feeds the circuit breaker.
    With a cache, ``inflight`` makes an identical request already being sent answer
    this one too (see :class:`InFlight`); if that call fails, this one is sent.
    Returns ``(content, {"prompt_tokens", "completion_tokens"}, from_cache)``.
    """
    key = request_key(str(getattr(client, "base_url", "")), body) if cache else ""
    mine = None
    while cache is not None:
        hit = cache.get(key)  # again after a failed sender: another waiter may have answered since
        if hit is not None:
            return hit.get("content"), dict(hit.get("usage") or {}), True
        sender = inflight.pending.get(key) if inflight is not None else None
        if sender is None:
            break
        reply = await asyncio.shield(sender)  # its cancellation is not ours
        if reply is not None:
            return reply[0], dict(reply[1]), True
    if cache is not None and inflight is not None:
        # No await since the cache missed: no other task can have slipped in.
        mine = inflight.pending[key] = asyncio.get_running_loop().create_future()
    try:
        async with sem:
            resp = await (call(body) if call is not None else post_completion(client, body))
        content, used, model = reply_fields(resp)
        if cache is not None:
            cache.put(key, {"content": content, "usage": used, "model": model})
        if mine is not None:
            mine.set_result((content, used))
    finally:
        if mine is not None:
            inflight.pending.pop(key, None)  # type: ignore[union-attr]  # set with mine
            if not mine.done():
                mine.set_result(None)  # failed or cancelled: a waiter sends its own
    return content, used, False


def reply_fields(resp: Any) -> tuple[str | None, dict[str, int], str | None]:
    """``(content, usage, model)`` of a chat completion, typed or as the JSON the server sent.

    The direct path of :mod:`agents.llm_wire` returns the JSON itself, because
    building the client's typed models costs more CPU than the call.
    """
    if isinstance(resp, dict):
        choices = resp.get("choices") or []
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        raw_message = first.get("message")
        message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
        content = message.get("content")
        raw_usage = resp.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        used = {k: _count(usage.get(k)) for k in ("prompt_tokens", "completion_tokens")}
        model = resp.get("model")
        return (content if isinstance(content, str) else None), used, (
            model if isinstance(model, str) else None)
    content = resp.choices[0].message.content if resp.choices else None
    u = resp.usage
    used = {k: _count(getattr(u, k, 0)) for k in ("prompt_tokens", "completion_tokens")}
    return content, used, resp.model


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
