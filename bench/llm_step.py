"""Benchmark ``llm-step``: one step of 20, then 100, LLM agents against the local test server.

The server (tests/llm_server.py, 127.0.0.1 only) answers each chat request
after 0.2 s, as a remote model would. 20 agents of ``commons`` (one decision
per agent per step) are switched to the ``llm`` policy; one step must take no
more than 0.6 s (the requests of a
step go out concurrently, so a step costs about one latency, not twenty), and
an identical rerun must be answered from the cache without a single request.

``llm-step-100`` (issue 18): a step of 100 LLM agents against a step of one,
on the same server in its own process (a remote model's HTTP work is not on
our cores' critical path either); the cache is off so every step is sent.
Target: 100 agents at most 1.2 times one call (the row's ratio is one / many,
so at least 1 / 1.2). Before timing, two steps through the direct HTTP path
(``agents.llm_wire``) and through the openai client must give equal payoffs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.harness import Mismatch, Result, Unavailable, at_most

AGENTS = 20
LATENCY = 0.2
MAX_STEP_SECONDS = 0.6
MANY = 100
MANY_TARGET = 1 / 1.2
STEPS = 3  # timed steps after one warm-up step; the median is reported
SCENARIO = "commons"
LLM_GROUP = "villagers"


#: The test server in a process of its own; it prints its URL, then serves until stdin closes.
_SERVER = """
import sys
from tests.llm_server import LLMServer
server = LLMServer(latency=float(sys.argv[1])).start()
print(server.base_url, server.api_key, flush=True)
sys.stdin.read()
server.stop()
"""


class _RemoteServer:
    """The test server run by :data:`_SERVER`, as ``LLMServer`` is used here (URL and key)."""

    def __init__(self) -> None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(LATENCY)], cwd=root,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline().split() if self._proc.stdout else []
        if len(line) != 2:
            self.stop()
            raise Unavailable("the local LLM test server did not start in its own process")
        self.base_url, self.api_key = line

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@contextmanager
def local_server(cache_home: str, own_process: bool = False) -> Iterator[Any]:
    """Start the test server and point the openai client (and the cache) at it."""
    try:
        from tests.llm_server import LLMServer
    except ImportError as exc:
        raise Unavailable(f"the local LLM test server is not importable ({exc})") from exc
    server = _RemoteServer() if own_process else LLMServer(latency=LATENCY).start()
    env = {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": server.api_key,
        "XDG_CACHE_HOME": cache_home,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    saved = {k: os.environ.get(k) for k in (*env, "SPECBOUND_NO_CACHE")}
    os.environ.update(env)
    os.environ.pop("SPECBOUND_NO_CACHE", None)
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def llm_overrides(agents: int = AGENTS, **llm: Any) -> dict[str, Any]:
    """commons with one group of ``agents`` LLM agents on the slow (0.2 s) model, default settings."""
    return {
        f"groups.{LLM_GROUP}.count": agents,
        f"groups.{LLM_GROUP}.policy": "llm",
        f"groups.{LLM_GROUP}.llm": {"model": "slow", **llm},
    }


def timed_steps(model: Any) -> float:
    """Median seconds of STEPS steps of ``model``, after one warm-up step."""
    model.step()  # warm-up: the client opens its connections on the first step
    times = []
    for _ in range(STEPS):
        start = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_seconds(agents: int) -> float:
    """Median seconds of a step of ``agents`` LLM agents (every call sent: no cache)."""
    from sim.runs.run import run_model

    model = run_model(SCENARIO, seed=0, set=llm_overrides(agents, cache=False), steps=0)
    step = timed_steps(model)
    usage = next(u for g in model.groups if (u := g.policy.usage()) is not None)
    if usage["errors"] or usage["calls"] != agents * (STEPS + 1):
        raise Mismatch(f"bench llm-step: {agents} agents sent {usage['calls']} calls with "
                       f"{usage['errors']} errors, not one good call each per step")
    return step


def check_transports_agree(agents: int) -> None:
    """The direct HTTP path and the openai client give the same step (payoffs and requests)."""
    from sim.runs.run import run_model

    payoffs = {}
    for transport in ("direct", "openai"):
        model = run_model(SCENARIO, seed=0, steps=2,
                          set=llm_overrides(agents, cache=False, transport=transport))
        payoffs[transport] = model.payoff.tolist()
    if payoffs["direct"] != payoffs["openai"]:
        raise Mismatch("bench llm-step: the direct HTTP path and the openai client disagree")


def bench_llm_many() -> list[Result]:
    """Row: a step of MANY LLM agents against a step of one, alternating, server in its own process."""
    with tempfile.TemporaryDirectory() as cache, local_server(cache, own_process=True):
        check_transports_agree(MANY)
        ones, manys = [], []
        for _ in range(3):
            ones.append(step_seconds(1))
            manys.append(step_seconds(MANY))
    one, many = statistics.median(ones), statistics.median(manys)
    return [Result("llm-step-100", many, one, "same step, 1 LLM agent", "s/step", one / many,
                   MANY_TARGET, one / many >= MANY_TARGET,
                   f"{MANY} LLM agents, {LATENCY}s per call, default concurrency, median of 3 x "
                   f"{STEPS} steps; ratio = one / many")]


def bench_llm() -> list[Result]:
    """Rows: seconds for one step (after set-up), requests sent by a cached rerun."""
    try:
        import agents.llm  # noqa: F401  (registers the llm policy)
        from sim.runs.run import run_model
    except ImportError as exc:
        raise Unavailable(f"the llm policy or the engine is not importable ({exc})") from exc
    with tempfile.TemporaryDirectory() as cache, local_server(cache) as server:
        model = run_model(SCENARIO, seed=0, set=llm_overrides(), steps=0)
        step = timed_steps(model)
        sent = len(server.chats())
        if sent == 0:
            raise Mismatch("bench llm-step: the LLM agents sent no request to the server")
        rerun = run_model(SCENARIO, seed=0, set=llm_overrides(), steps=STEPS + 1)
        extra = len(server.chats()) - sent
        if rerun.payoff.tolist() != model.payoff.tolist():
            raise Mismatch("bench llm-step: the cached rerun gave other payoffs")
        sent //= STEPS + 1
    note = f"{AGENTS} LLM agents, {LATENCY}s per call, {sent} requests per step, median of {STEPS} steps"
    return [
        at_most("llm-step", step, MAX_STEP_SECONDS, "s/step", note),
        Result("llm-cached-rerun", float(extra), None, "bound", "requests", None, 0.0,
               extra == 0, "identical rerun of the step; must send no request"),
    ]
