"""A local OpenAI-compatible chat server for offline tests of the ``llm`` policy.

It listens on 127.0.0.1 on an ephemeral port and answers
``POST /v1/chat/completions`` in the OpenAI wire format, so the tests go
through the real openai client and real HTTP. Its behaviour is chosen by the
request's model name (``name`` or ``name-N``):

* ``compliant``: picks the first offered act that no privileged message (system
  or developer) names; peers' text is never read as a rule.
* ``deceptive``: picks the first offered act that a privileged message names
  (the one the rules forbid), as a model ignoring its spec would.
* ``malformed``: replies with text that is not JSON.
* ``unknown-act``: replies with JSON naming an act that was not offered.
* ``flaky-N``: malformed for the first N calls, then compliant.
* ``slow``: sleeps ``latency`` seconds, then compliant.
* ``ratelimit-N``: HTTP 429 with ``Retry-After`` for the first N calls, then compliant.
* ``error500-N``: HTTP 500 for the first N calls, then compliant.

Any request whose ``Authorization`` is not ``Bearer <api_key>`` gets 401, with
the offending key echoed in the error body as real servers do, so tests can
check that it is scrubbed. Every request is recorded (path, headers, body).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_KEY = "sk-test-9f3c1a7e5b2d4c6e8a0b1c3d5e7f9a1b"

RETRY_AFTER = "0.05"


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: str


class LLMServer:
    """A scripted chat-completions server running in a background thread."""

    def __init__(self, api_key: str = API_KEY, latency: float = 0.2) -> None:
        self.api_key = api_key
        self.latency = latency
        self.requests: list[Recorded] = []
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        #: Requests being answered now, and the most at once: concurrency seen from the server,
        #: which no load on the machine can fake (wall-clock times can be).
        self.in_flight = 0
        self.max_in_flight = 0
        #: Optional ``responder(body) -> content``: answers every chat request it returns text
        #: for (eval tests script answers per case); None falls through to the behaviours.
        self.responder: Any = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> LLMServer:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # the slow test opens 20 connections at once

            def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
                # A client that hung up (a stopped run) is not a server fault; its traceback
                # would otherwise land in whichever test's stderr is being captured.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._httpd = Server(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown (each test's teardown) quick.
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def record(self, rec: Recorded) -> int:
        """Store a request; return how many calls its model name has had (1-based)."""
        with self._lock:
            self.requests.append(rec)
            model = str(rec.body.get("model", ""))
            self._calls[model] += 1
            return self._calls[model]

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def chats(self) -> list[dict[str, Any]]:
        """Bodies of the chat requests received, in arrival order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]


def serve(monkeypatch: Any, cache_home: Path) -> Iterator[LLMServer]:
    """Start a server and point the openai client's environment at it (fixture body)."""
    srv = LLMServer().start()
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", srv.api_key)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("SPECBOUND_NO_CACHE", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "HTTP_PROXY",
                "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield srv
    finally:
        srv.stop()


def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def pick(body: dict[str, Any], obey: bool) -> str:
    """The act a rule-reading model picks: the first allowed (``obey``) or forbidden one.

    Only system and developer messages count as rules; a model that read
    rules from the user message would let peers' quoted text steer it.
    """
    schema = body["response_format"]["json_schema"]["schema"]
    names = schema["properties"]["act"]["enum"]
    rules = "\n".join(
        m["content"] for m in body["messages"] if m["role"] in ("system", "developer")
    )
    for name in names:
        if _mentioned(name, rules) != obey:
            return name
    return names[0]


class _Handler(BaseHTTPRequestHandler):
    server_owner: LLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the test output stays clean
        return

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        owner = self.server_owner
        rec = Recorded(self.path, dict(self.headers.items()), body, raw)
        n = owner.record(rec)
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {owner.api_key}":
            given = auth.removeprefix("Bearer ")
            return self._error(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
        if not self.path.endswith("/chat/completions"):
            return self._error(404, f"no route {self.path}", "not_found")
        behaviour, _, count = str(body.get("model", "")).partition("-")
        first = int(count) if count.isdigit() else 0
        if behaviour == "ratelimit" and n <= first:
            return self._error(429, "Rate limit reached, slow down.", "rate_limit_exceeded")
        if behaviour == "error500" and n <= first:
            # Echoes the credentials, as some proxies do, so tests can check scrubbing.
            return self._error(500, f"Server error handling Authorization: {auth}", "server_error")
        if behaviour == "slow":
            owner.enter()
            try:
                time.sleep(owner.latency)
            finally:
                owner.leave()
        scripted = owner.responder(body) if owner.responder is not None else None
        if scripted is not None:
            content = scripted
        elif behaviour == "malformed" or (behaviour == "flaky" and n <= first):
            content = '{"act": "oops", this is not json'
        elif behaviour == "unknown":  # "unknown-act"
            content = json.dumps({"act": "teleport", "message": "beam me up"})
        elif behaviour == "deceptive":
            content = json.dumps({"act": pick(body, obey=False), "message": "trust me"})
        else:
            content = json.dumps({"act": pick(body, obey=True), "message": "fair offer"})
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        self._json(
            200,
            {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": len(content.split()),
                    "total_tokens": prompt + len(content.split()),
                },
            },
        )

    def _error(self, status: int, message: str, code: str) -> None:
        headers = {"Retry-After": RETRY_AFTER} if status in (429, 500) else {}
        payload = {"error": {"message": message, "type": "error", "code": code}}
        self._json(status, payload, headers)

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
