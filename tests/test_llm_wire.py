"""The direct HTTP path of the ``llm`` policy (agents.llm_wire): same answers and failures as the client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import openai
import pytest

from agents.llm import LLMAuthError, LLMConfig, LLMPolicy
from agents.llm_wire import Endpoint, Wire, _exchange, endpoint
from tests import llm_world as w
from tests.llm_server import API_KEY, LLMServer, serve


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve(monkeypatch, tmp_path / "xdg")


def outcome(server: LLMServer, transport: str, model: str, **kw: Any) -> tuple[Any, ...]:
    """What a decision came to, and what the server received, on one transport."""
    before = len(server.requests)
    pol = LLMPolicy(LLMConfig(model=model, cache=False, transport=transport, **kw))
    try:
        choices = pol.choose_many([w.request(agent=a) for a in range(3)])
        wire = pol._session.wire if pol._session is not None else None
    finally:
        pol.close()
    sent = [str(r.body) for r in server.requests[before:]]
    bodies = (len(sent), sorted(set(sent)))  # which call meets a scripted failure is a race
    kinds = tuple(e["kind"] for c in choices for e in c.events)
    usage = {k: v for k, v in pol.usage().items() if k != "cost_usd"}
    return tuple((c.act, c.message, c.ok, c.attempts) for c in choices), kinds, bodies, usage, wire


@pytest.mark.parametrize(("model", "kw"), [
    ("compliant", {}),
    ("deceptive", {}),
    ("malformed", {"max_retries": 1}),
    ("ratelimit-2", {}),  # 429 on the direct path: handed to the client, which retries once more
    ("error500-2", {}),
    ("error500-9", {"client_retries": 1}),
    ("ratelimit-9", {"client_retries": 0}),  # no retry left: the client's own error, not resent
])
def test_direct_path_answers_and_fails_as_the_client_does(server: LLMServer, model: str, kw: dict) -> None:
    direct = outcome(server, "direct", model, **kw)
    server._calls.clear()  # the scripted failures count from the first call again
    client = outcome(server, "openai", model, **kw)
    assert direct[:4] == client[:4]
    assert direct[4] is not None and client[4] is None


def test_a_rejected_key_is_the_clients_error(server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    pol = LLMPolicy(LLMConfig(model="compliant", cache=False, preflight_timeout=0))
    with pytest.raises(LLMAuthError) as err:
        pol.choose_many([w.request()])
    assert "401" in str(err.value) and "sk-wrong" not in str(err.value)
    assert len(server.chats()) == 1  # a 401 is not retried, on any path


def test_connections_are_kept_alive_across_steps(server: LLMServer) -> None:
    pol = LLMPolicy(LLMConfig(model="compliant", cache=False))
    try:
        for step in range(3):
            pol.choose_many([w.request(agent=a, step=step) for a in range(4)])
        wire = pol._session.wire
        assert wire.direct == 12 and wire.handed == 0
        assert len(wire._idle) <= 4
    finally:
        pol.close()


@pytest.mark.parametrize(("env", "base", "direct"), [
    ({}, "http://127.0.0.1:9/v1", True),
    ({}, "https://api.example.org/v1", True),
    ({"HTTP_PROXY": "http://proxy:3128"}, "http://example.org/v1", False),
    ({"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.1"}, "http://127.0.0.1:9/v1", True),
    ({}, "http://user:pw@127.0.0.1:9/v1", False),
])
def test_which_clients_take_the_direct_path(monkeypatch: pytest.MonkeyPatch, env: dict, base: str,
                                            direct: bool) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                "all_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    where = endpoint(openai.AsyncOpenAI(api_key="k", base_url=base))
    assert (where is not None) is direct
    if where is not None:
        assert where.path == "/v1/chat/completions"
        assert b"Authorization: Bearer k\r\n" in where.headers


def test_clients_that_sign_their_own_requests_use_the_client() -> None:
    azure = openai.AsyncAzureOpenAI(api_key="k", azure_endpoint="https://x.example.org",
                                    api_version="2024-10-21")
    assert endpoint(azure) is None


class _Writer:
    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data


@pytest.mark.parametrize(("raw", "body", "keep"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", True),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\nT: 1\r\n\r\n",
     b"hello", True),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", b"hello", False),
    (b"HTTP/1.1 200 OK\r\n\r\nhello", b"hello", False),  # no length: the body runs to the close
    (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", False),
])
def test_responses_are_framed_as_http_1_1_says(raw: bytes, body: bytes, keep: bool) -> None:
    async def go() -> tuple[int, dict[str, str], bytes, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await _exchange((reader, _Writer()), b"POST / HTTP/1.1\r\n\r\n")  # type: ignore[arg-type]

    status, _, got, kept = asyncio.run(go())
    assert (status, got, kept) == (200, body, keep)


REPLY = b'{"choices": [{"message": {"content": "hi"}}], "usage": {}, "model": "m"}'


async def _answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(REPLY), REPLY))
    await writer.drain()
    writer.close()


def test_a_connection_closed_while_idle_is_retried_on_a_fresh_one() -> None:
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(1)
        await _answer_once(reader, writer)  # then closes, without saying so in a header

    async def go() -> list[Any]:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        client = openai.AsyncOpenAI(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1")
        wire = Wire(client, Endpoint("http", "127.0.0.1", port, "/v1/chat/completions",
                                     b"Host: x\r\n"), timeout=5.0)
        try:
            out = []
            for _ in range(3):
                out.append(await wire.complete({"model": "m", "messages": []}))
                await asyncio.sleep(0.01)
            return out
        finally:
            await wire.close()
            await client.close()
            srv.close()
            await srv.wait_closed()

    out = asyncio.run(go())
    assert [o["choices"][0]["message"]["content"] for o in out] == ["hi"] * 3
    assert len(served) == 3  # each request answered once: none lost, none sent twice


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (skipped without the openssl command)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("trusted", [True, False])
def test_https_is_verified_and_an_unverifiable_server_goes_to_the_client(
        certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, trusted: bool) -> None:
    import ssl

    cert, key = certificate
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(var, raising=False)
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    async def go() -> tuple[Any, Wire]:
        srv = await asyncio.start_server(_answer_once, "127.0.0.1", 0, ssl=tls)
        port = srv.sockets[0].getsockname()[1]
        client = openai.AsyncOpenAI(api_key=API_KEY, base_url=f"https://127.0.0.1:{port}/v1",
                                    max_retries=0)
        where = endpoint(client)
        assert where is not None and where.scheme == "https"
        wire = Wire(client, where, timeout=5.0)
        try:
            try:
                return await wire.complete({"model": "m", "messages": []}), wire
            except openai.APIConnectionError as exc:
                return exc, wire
        finally:
            await wire.close()
            await client.close()
            srv.close()

    out, wire = asyncio.run(go())
    if trusted:
        assert out["choices"][0]["message"]["content"] == "hi" and wire.direct == 1
    else:  # the client gets the call (and fails it its own way); the direct path stays off
        assert isinstance(out, openai.APIConnectionError) and wire.off and wire.direct == 0
