"""Identical requests in flight together are sent once (agents.llm_cache.InFlight), whatever the timing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agents.llm import LLMConfig, LLMPolicy
from agents.llm_cache import InFlight, ReplyCache, cached_completion
from tests import llm_world as w
from tests.llm_server import LLMServer, serve


class GatedClient:
    """A stand-in client whose calls all wait for ``gate``: every caller is in flight at once."""

    base_url = "http://gated/"

    def __init__(self, fail_first: BaseException | None = None) -> None:
        self.gate = asyncio.Event()
        self.sent: list[str] = []
        self.fail_first = fail_first

    async def call(self, body: dict[str, Any]) -> Any:
        self.sent.append(body["messages"][0]["content"])
        await self.gate.wait()
        if self.fail_first is not None and len(self.sent) == 1:
            raise self.fail_first
        text = body["messages"][0]["content"]
        return {"choices": [{"message": {"content": f"re: {text}"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2}, "model": "m"}


def body(text: str) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}]}


async def race(client: GatedClient, cache: ReplyCache | None, texts: list[str],
               cancel_first: bool = False) -> list[Any]:
    """Start one request per text, hold them all in flight, then let the server answer."""
    flight, sem = InFlight(), asyncio.Semaphore(100)
    tasks = [asyncio.ensure_future(cached_completion(client, cache, sem, body(t), client.call, flight))
             for t in texts]
    for _ in range(5):  # every task reaches the gate or the sender it waits for
        await asyncio.sleep(0)
    assert all(not t.done() for t in tasks)
    if cancel_first:
        tasks[0].cancel()
        for _ in range(5):
            await asyncio.sleep(0)
    client.gate.set()
    out = await asyncio.gather(*tasks, return_exceptions=True)
    assert not flight.pending  # nothing is left behind for the next step
    return out


@pytest.mark.parametrize(("texts", "sent", "hits"), [
    (["a", "a"], ["a"], [False, True]),
    (["a", "a", "a", "b", "b"], ["a", "b"], [False, True, True, False, True]),
    (["a", "b", "c"], ["a", "b", "c"], [False, False, False]),
])
def test_identical_requests_in_flight_are_sent_once(tmp_path: Path, texts: list[str], sent: list[str],
                                                   hits: list[bool]) -> None:
    client = GatedClient()
    out = asyncio.run(race(client, ReplyCache(tmp_path), texts))
    assert client.sent == sent
    assert [o[0] for o in out] == [f"re: {t}" for t in texts]
    assert [o[2] for o in out] == hits
    assert all(o[1] == {"prompt_tokens": 3, "completion_tokens": 2} for o in out)


def test_without_a_cache_every_request_is_sent(tmp_path: Path) -> None:
    client = GatedClient()
    out = asyncio.run(race(client, None, ["a", "a"]))
    assert client.sent == ["a", "a"] and [o[2] for o in out] == [False, False]


def test_when_the_sender_fails_a_waiter_sends_its_own(tmp_path: Path) -> None:
    client = GatedClient(fail_first=ConnectionError("refused"))
    out = asyncio.run(race(client, ReplyCache(tmp_path), ["a", "a", "a"]))
    assert isinstance(out[0], ConnectionError)  # the failure stays the sender's
    assert client.sent == ["a", "a"]  # one waiter took over; the other waited for it
    assert [o[:1] + o[2:] for o in out[1:]] == [("re: a", False), ("re: a", True)]


def test_when_the_sender_is_cancelled_a_waiter_sends_its_own(tmp_path: Path) -> None:
    client = GatedClient()
    out = asyncio.run(race(client, ReplyCache(tmp_path), ["a", "a"], cancel_first=True))
    assert isinstance(out[0], asyncio.CancelledError)
    assert client.sent == ["a", "a"] and out[1][:1] + out[1][2:] == ("re: a", False)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve(monkeypatch, tmp_path / "xdg")


@pytest.mark.parametrize("model", ["compliant", "slow"])
def test_a_step_sends_identical_decisions_once(server: LLMServer, model: str) -> None:
    pol = LLMPolicy(LLMConfig(model=model))
    try:
        same = w.request()
        choices = pol.choose_many([same, same, w.request(agent=1)])
    finally:
        pol.close()
    assert len(server.chats()) == 2
    assert (choices[0].act, choices[0].message) == (choices[1].act, choices[1].message)
    assert [c.cached for c in choices] == [False, True, False]
    usage = pol.usage()
    assert (usage["calls"], usage["cached_decisions"]) == (2, 1)


def test_stand_in_clients_without_a_cache_key_still_work() -> None:
    out = asyncio.run(cached_completion(SimpleNamespace(), None, asyncio.Semaphore(1), body("x"),
                                        lambda b: _answer()))
    assert out == ("ok", {"prompt_tokens": 0, "completion_tokens": 0}, False)


async def _answer() -> Any:
    return {"choices": [{"message": {"content": "ok"}}]}
