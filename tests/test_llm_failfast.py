"""A dead model server is found in seconds: down, refusing, silent, or rejecting the key.

Each server is local (127.0.0.1). The run goes through the command line, so the
property is the user's: exit 1 (2 for a rejected key, bad input), one line, no
key printed, no output folder left behind.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main

LLM_SET = ["--set", "groups.cooperator.policy=llm", "--set", 'groups.cooperator.llm={model = "m"}']


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Silent:
    """Accepts connections and never answers (or, ``hang_up``, closes each at once)."""

    def __init__(self, hang_up: bool = False) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.hang_up = hang_up
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang_up:
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-key")
    monkeypatch.setenv("SPECBOUND_NO_CACHE", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield monkeypatch


@pytest.mark.parametrize("kind", ["down", "hangs up", "silent"])
def test_a_dead_server_fails_the_run_at_the_preflight(kind: str, env: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    server = None
    if kind == "down":
        port = closed_port()
    else:
        server = Silent(hang_up=kind == "hangs up")
        port = server.port
    env.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    out = tmp_path / "out"
    try:
        code = main(["run", "ipd-classic", "--steps", "3", *LLM_SET, "--set",
                     'groups.cooperator.llm={model = "m", preflight_timeout = 1, client_retries = 0}',
                     "--out", str(out)])
    finally:
        if server is not None:
            server.close()
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and "preflight" in err and f"127.0.0.1:{port}" in err
    assert "sk-test-secret-key" not in err
    assert not out.exists()


def test_a_rejected_key_stops_the_run_in_one_line(env: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from tests.llm_server import LLMServer

    srv = LLMServer(api_key="the-right-key", latency=0.0).start()
    try:
        env.setenv("OPENAI_BASE_URL", srv.base_url)
        code = main(["run", "ipd-classic", "--steps", "3", *LLM_SET, "--out", str(tmp_path / "out")])
    finally:
        srv.stop()
    # (the fake server's own thread may log a client that hung up: only our lines count)
    err = "\n".join(ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("specbound"))
    assert code == 2 and err.count("specbound:") == 1 and "HTTP 401" in err
    assert "sk-test-secret-key" not in err and not (tmp_path / "out").exists()


def test_the_breaker_stops_after_consecutive_transport_failures(env: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # The preflight is skipped, so the server's death is found by the calls themselves.
    env.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    code = main(["run", "ipd-classic", "--steps", "50", *LLM_SET, "--set",
                 'groups.cooperator.llm={model = "m", preflight_timeout = 0, client_retries = 0, breaker = 3}'])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "3 calls in a row failed (last: connection refused)" in err


@pytest.mark.parametrize(("table", "needle"), [
    ('{model = "m", breaker = 0}', "breaker must be an integer in 1.."),
    ('{model = "m", preflight_timeout = -1}', "preflight_timeout must be 0..600"),
    ('{model = "m", step_timeout = 0}', "step_timeout must be between 0 and 86400"),
])
def test_deadlines_and_breaker_are_checked(table: str, needle: str, env: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "ipd-classic", "--steps", "3", *LLM_SET[:2], "--set",
                 f"groups.cooperator.llm={table}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
