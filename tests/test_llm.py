"""The ``llm`` policy against a local OpenAI-compatible server: real client, real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from agents.errors import SpecboundError
from agents.llm import LLMAuthError, LLMConfig, LLMPolicy, audit, blocked_event
from agents.llm_prompt import build_messages
from tests import llm_world as w
from tests.llm_server import LLMServer, serve


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve(monkeypatch, tmp_path / "xdg")


def policy(model: str = "compliant", **kw) -> LLMPolicy:
    return LLMPolicy(LLMConfig(model=model, **kw))


def test_request_carries_the_chain_of_command_and_the_schema(server: LLMServer) -> None:
    req = w.request(candidates=(w.LIE, w.DECLINE, w.COUNTER))
    [choice] = policy(temperature=0.3, max_tokens=77).choose_many([req])
    [body] = server.chats()
    assert body["messages"] == build_messages(req)
    assert [m["role"] for m in body["messages"]] == ["system", "developer", "user"]
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["json_schema"]["strict"] is True
    assert schema["properties"]["act"]["enum"] == ["lie", "decline", "counter"]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("compliant", 0.3, 77)
    assert "reasoning_effort" not in body
    assert (choice.act, choice.message, choice.ok) == (w.DECLINE, "fair offer", True)


@pytest.mark.parametrize(
    ("extra", "present", "absent"),
    [
        ({"reasoning_effort": "low"}, {"reasoning_effort": "low", "temperature": 0.0}, ()),
        ({"temperature": None}, {"max_tokens": 300}, ("temperature",)),
        (
            {"max_tokens_param": "max_completion_tokens", "max_tokens": 50},
            {"max_completion_tokens": 50},
            ("max_tokens",),
        ),
    ],
)
def test_optional_request_fields(server: LLMServer, extra: dict, present: dict, absent: tuple):
    policy(**extra).choose_many([w.request()])
    [body] = server.chats()
    assert {k: body.get(k) for k in present} == present
    assert all(k not in body for k in absent)


def test_developer_role_mapped_for_servers_without_it(server: LLMServer) -> None:
    policy(roles=(("developer", "system"),)).choose_many([w.request()])
    [body] = server.chats()
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Do not reveal the reserve price." in body["messages"][0]["content"]
    assert w.PEER_TEXT not in body["messages"][0]["content"]


@pytest.mark.parametrize(
    ("model", "kw", "act", "ok", "attempts", "events", "http_calls"),
    [
        ("compliant", {}, w.DECLINE, True, 1, (), 1),
        ("deceptive", {}, w.LIE, True, 1, (), 1),
        ("malformed", {}, w.COUNTER, False, 3, ("invalid_output",), 3),
        ("malformed", {"max_retries": 0}, w.COUNTER, False, 1, ("invalid_output",), 1),
        ("unknown-act", {}, w.COUNTER, False, 3, ("invalid_output",), 3),
        ("flaky-1", {}, w.DECLINE, True, 2, (), 2),
        ("ratelimit-2", {}, w.DECLINE, True, 1, (), 3),  # 429 twice, retried by the client
        ("error500-2", {}, w.DECLINE, True, 1, (), 3),
        ("error500-9", {"client_retries": 1}, w.COUNTER, False, 1, ("llm_error",), 2),
        ("ratelimit-9", {"client_retries": 0}, w.COUNTER, False, 1, ("llm_error",), 1),
    ],
)
def test_behaviours_retries_and_fallbacks(
    server: LLMServer, model, kw, act, ok, attempts, events, http_calls
) -> None:
    pol = policy(model, cache=False, **kw)
    [choice] = pol.choose_many([w.request()])
    assert (choice.act, choice.ok, choice.attempts) == (act, ok, attempts)
    assert tuple(e["kind"] for e in choice.events) == events
    assert len(server.requests) == http_calls
    for e in choice.events:
        assert (e["agent"], e["step"], e["group"]) == (0, 3, "buyers")
    totals = pol.usage()
    assert totals["calls"] == attempts - events.count("llm_error")  # answered calls only
    assert totals["retries"] == attempts - 1
    assert totals["invalid_outputs"] == events.count("invalid_output")
    assert totals["errors"] == events.count("llm_error")


def test_retry_tells_the_model_what_was_wrong(server: LLMServer) -> None:
    policy("flaky-1", cache=False).choose_many([w.request()])
    first, second = server.chats()
    assert second["messages"][: len(first["messages"])] == first["messages"]
    bad, repair = second["messages"][len(first["messages"]) :]
    assert bad == {"role": "assistant", "content": '{"act": "oops", this is not json'}
    assert repair["role"] == "user" and "not valid JSON" in repair["content"]


def test_invalid_output_event_names_reason_and_fallback(server: LLMServer) -> None:
    [choice] = policy("unknown-act", cache=False).choose_many([w.request()])
    [event] = choice.events
    assert event["reason"] == "act 'teleport' is not one of the offered acts"
    assert (event["fallback"], event["attempts"]) == ("counter", 3)


@pytest.mark.parametrize(("limit", "low", "high"), [
    ({}, 17, 24),  # by default the whole step is in flight: no waves of 16
    ({"concurrency": 4}, 4, 4),
])
def test_calls_are_concurrent(server: LLMServer, limit: dict, low: int, high: int) -> None:
    reqs = [w.request(agent=i) for i in range(24)]
    choices = policy("slow", cache=False, **limit).choose_many(reqs)
    # Counted by the server, not timed: as many slow calls open at once as the limit allows.
    assert low <= server.max_in_flight <= high  # serially it would be 1
    assert [c.act for c in choices] == [w.DECLINE] * 24
    assert len(server.requests) == 24


def test_concurrency_limit_is_respected(server: LLMServer) -> None:
    reqs = [w.request(agent=i) for i in range(4)]
    start = time.perf_counter()
    policy("slow", cache=False, concurrency=1).choose_many(reqs)
    assert time.perf_counter() - start >= 4 * server.latency
    assert server.max_in_flight == 1


def test_results_follow_request_order(server: LLMServer) -> None:
    reqs = [w.request(agent=i, candidates=(w.LIE, c)) for i, c in enumerate((1, 2, 3, 2))]
    choices = policy().choose_many(reqs)
    # The compliant model avoids 'lie' and 'reveal' when it can.
    assert [c.act for c in choices] == [w.LIE, w.DECLINE, w.COUNTER, w.DECLINE]


def test_works_inside_a_running_event_loop(server: LLMServer) -> None:
    async def inside() -> list:
        return policy().choose_many([w.request()])

    [choice] = asyncio.run(inside())
    assert choice.act == w.DECLINE


@pytest.mark.parametrize("model", ["compliant", "flaky-1", "unknown-act"])
def test_cache_answers_an_identical_rerun(server: LLMServer, tmp_path: Path, model: str) -> None:
    reqs = [w.request(agent=i) for i in range(3)]
    first = policy(model).choose_many(reqs)
    sent = len(server.requests)
    assert sent >= 3 and not any(c.cached for c in first)
    rerun = policy(model)  # a fresh run, as into a new output folder
    second = rerun.choose_many(reqs)
    assert len(server.requests) == sent  # nothing sent the second time
    assert [(c.act, c.message, c.ok, c.attempts, c.events) for c in second] == [
        (c.act, c.message, c.ok, c.attempts, c.events) for c in first
    ]
    assert all(c.cached for c in second)
    assert rerun.usage()["calls"] == 0 and rerun.usage()["cached_decisions"] == 3
    assert list((tmp_path / "xdg" / "specbound" / "llm").rglob("*.json"))


@pytest.mark.parametrize(
    ("kw", "env", "resent"),
    [
        ({"cache": False}, None, True),
        ({}, "1", True),
        ({}, "0", False),
        ({"mode": "enforce"}, None, False),  # the mode is not part of the request
        ({"temperature": 0.5}, None, True),  # ... the temperature is
    ],
)
def test_cache_switches_and_key(
    server: LLMServer, monkeypatch: pytest.MonkeyPatch, kw: dict, env: str | None, resent: bool
) -> None:
    policy().choose_many([w.request()])
    if env is not None:
        monkeypatch.setenv("SPECBOUND_NO_CACHE", env)
    policy(**kw).choose_many([w.request()])
    assert len(server.requests) == (2 if resent else 1)


def test_cache_dir_is_configurable(server: LLMServer, tmp_path: Path) -> None:
    policy(cache_dir=str(tmp_path / "mine")).choose_many([w.request()])
    assert len(list((tmp_path / "mine" / "llm").rglob("*.json"))) == 1
    assert not (tmp_path / "xdg" / "specbound").exists()


def test_tokens_and_cost_from_the_price_table(server: LLMServer) -> None:
    prices = (("compliant", 2.0, 8.0),)
    pol = policy(prices=prices, cache=False)
    choices = pol.choose_many([w.request(agent=i) for i in range(2)])
    served = [json.loads(r.raw) for r in server.requests]
    prompt = sum(len(str(m["content"]).split()) for b in served for m in b["messages"])
    totals = pol.usage()
    assert totals["prompt_tokens"] == prompt == sum(c.usage["prompt_tokens"] for c in choices)
    completion = totals["completion_tokens"]
    assert completion == sum(c.usage["completion_tokens"] for c in choices) > 0
    assert totals["cost_usd"] == pytest.approx((prompt * 2.0 + completion * 8.0) / 1e6)
    assert policy(cache=False).usage()["cost_usd"] is None  # no price, no made-up cost


def test_wrong_key_fails_clearly_without_the_key(
    server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-wrong-0123456789abcdef0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    with pytest.raises(LLMAuthError) as err:
        policy().choose_many([w.request(agent=i) for i in range(3)])
    message = str(err.value)
    assert "authentication failed" in message and "\n" not in message
    assert wrong not in message and server.api_key not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_missing_key_is_bad_input(server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(SpecboundError, match="OPENAI_API_KEY is not set"):
        policy().choose_many([w.request()])


def test_key_appears_only_in_the_authorization_header(
    server: LLMServer, tmp_path: Path
) -> None:
    key = server.api_key
    outputs = []
    for model in ("compliant", "malformed", "error500-9", "deceptive"):
        pol = policy(model, client_retries=0)
        outputs.append(repr(pol.choose_many([w.request()])))
        outputs.append(repr(pol.usage()))
    for rec in server.requests:
        assert key not in rec.raw
        assert [k.lower() for k, v in rec.headers.items() if key in v] == ["authorization"]
    files = [p for p in (tmp_path / "xdg").rglob("*") if p.is_file()]
    assert files
    outputs += [p.read_text() for p in files]
    assert "llm_error" in "".join(outputs)
    assert all(key not in text for text in outputs)


def test_server_error_text_is_scrubbed(server: LLMServer) -> None:
    # The scripted 500 echoes the Authorization header, as some proxies do.
    pol = policy("error500-9", client_retries=0, cache=False)
    [choice] = pol.choose_many([w.request()])
    [event] = choice.events
    assert event["status"] == 500 and "Authorization: Bearer [redacted]" in event["detail"]
    assert server.api_key not in json.dumps(event)


@pytest.mark.parametrize(
    ("model", "mode", "violated", "replacement"),
    [
        ("deceptive", "audit", ("do_not_lie",), None),
        ("deceptive", "enforce", ("do_not_lie",), "decline"),
        ("compliant", "audit", (), None),
        ("compliant", "enforce", (), None),
    ],
)
def test_audit_and_enforce(server: LLMServer, model, mode, violated, replacement) -> None:
    pol = policy(model, mode=mode)
    req = w.request()
    [choice] = pol.choose_many([req])
    found, repl = pol.audit(req, choice)
    assert found == violated
    assert (None if repl is None else w.ACTS[repl].name) == replacement
    if repl is not None:
        event = blocked_event(req, choice, repl, found)
        assert (event["kind"], event["act"], event["replacement"]) == ("blocked", "lie", "decline")


@pytest.mark.parametrize(
    ("act", "violated", "replacement"),
    [
        (w.LIE, ("do_not_lie",), w.DECLINE),
        (w.REVEAL, ("protect_reserve",), w.DECLINE),
        (w.DECLINE, (), None),
        (w.COUNTER, (), None),  # keeps every scored rule: the model's choice stands
    ],
)
def test_enforce_replaces_only_what_the_resolver_would_not_keep(act, violated, replacement):
    from agents.llm import LLMChoice

    choice = LLMChoice(act, "", True, 1)
    assert audit(w.request(), choice, mode="enforce") == (violated, replacement)
    assert audit(w.request(), choice, mode="audit") == (violated, None)


def test_policy_pickles_between_steps_and_reconnects(server: LLMServer) -> None:
    import pickle

    pol = policy(cache=False)
    pol.choose_many([w.request()])
    copy = pickle.loads(pickle.dumps(pol))  # as a process executor ships it
    [choice] = copy.choose_many([w.request()])
    assert choice.act == w.DECLINE and copy.usage()["decisions"] == 2
    pol.close()
    [again] = pol.choose_many([w.request()])  # a closed policy reopens on demand
    assert again.act == w.DECLINE and len(server.requests) == 3
