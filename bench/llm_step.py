"""Benchmark ``llm-step``: one step of 20 LLM agents against the local test server.

The server (tests/llm_server.py, 127.0.0.1 only) answers each chat request
after 0.2 s, as a remote model would. 20 agents of ``commons`` (one decision
per agent per step) are switched to the ``llm`` policy; one step must take no
more than 0.6 s (the requests of a
step go out concurrently, so a step costs about one latency, not twenty), and
an identical rerun must be answered from the cache without a single request.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.harness import Mismatch, Result, Unavailable, at_most

AGENTS = 20
LATENCY = 0.2
MAX_STEP_SECONDS = 0.6
STEPS = 3  # timed steps after one warm-up step; the median is reported
SCENARIO = "commons"
LLM_GROUP = "villagers"


@contextmanager
def local_server(cache_home: str) -> Iterator[Any]:
    """Start the test server and point the openai client (and the cache) at it."""
    try:
        from tests.llm_server import LLMServer
    except ImportError as exc:
        raise Unavailable(f"the local LLM test server is not importable ({exc})") from exc
    server = LLMServer(latency=LATENCY).start()
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


def llm_overrides() -> dict[str, Any]:
    """commons with one group of 20 LLM agents on the slow (0.2 s) model, all in flight at once."""
    return {
        f"groups.{LLM_GROUP}.count": AGENTS,
        f"groups.{LLM_GROUP}.policy": "llm",
        f"groups.{LLM_GROUP}.llm": {"model": "slow", "concurrency": AGENTS},
    }


def bench_llm() -> list[Result]:
    """Rows: seconds for one step (after set-up), requests sent by a cached rerun."""
    try:
        import agents.llm  # noqa: F401  (registers the llm policy)
        from sim.runs.run import run_model
    except ImportError as exc:
        raise Unavailable(f"the llm policy or the engine is not importable ({exc})") from exc
    with tempfile.TemporaryDirectory() as cache, local_server(cache) as server:
        model = run_model(SCENARIO, seed=0, set=llm_overrides(), steps=0)
        model.step()  # warm-up: the client opens its connections on the first step
        times = []
        for _ in range(STEPS):
            start = time.perf_counter()
            model.step()
            times.append(time.perf_counter() - start)
        step = statistics.median(times)
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
