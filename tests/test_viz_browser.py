"""The live dashboard in a real browser: load, step, change a parameter, patch a spec.

One server and one page for the whole flow (starting Solara costs seconds), on a
1,000-agent network: negotiation agents on a 4-regular graph, which log conflicts
every step, so the ledger has something to show. What the page shows is checked
against ``sim.run`` with the same scenario, overrides and seed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

import sim
from tests.browser import chromium, require_browser, watch_errors

SCENARIO = "negotiation-honest-first"
SETS = {"groups.buyers.count": 500, "groups.sellers.count": 500,
        "network.kind": "random_regular", "network.degree": 4}
SEED = 3
CHARTS = ".sb-network img, .sb-series img"
CHANGED = """before => {
  const now = [...document.querySelectorAll(arguments_selector)].map(e => e.src);
  return now.length === before.length && now.every((src, i) => src && src !== before[i]);
}""".replace("arguments_selector", repr(CHARTS))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    require_browser()
    cmd = [sys.executable, "-m", "sim", "viz", SCENARIO, "--port", "0", "--seed", str(SEED)]
    for path, value in SETS.items():
        cmd += ["--set", f"{path}={value}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in proc.stdout:  # type: ignore[union-attr]
            if "serving http://" in line:
                url = line.split("serving ", 1)[1].split()[0]
                break
        assert url is not None, f"viz exited with {proc.wait()} before serving"
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _srcs(page) -> list[str]:
    return page.eval_on_selector_all(CHARTS, "els => els.map(e => e.src)")


def _step(page) -> float:
    """Click Step; seconds until both charts show a new image."""
    before = _srcs(page)
    start = time.perf_counter()
    page.get_by_role("button", name="Step").click()
    page.wait_for_function(CHANGED, arg=before, timeout=30_000)
    return time.perf_counter() - start


def _expect_status(page, text: str) -> str:
    status = page.locator(".sb-status-text")
    status.filter(has_text=text).wait_for(timeout=30_000)
    return status.inner_text()


def _values(seed: int, steps: int) -> list[str]:
    """The status card's headline values as `specbound run` stores them."""
    last = sim.run(SCENARIO, seed=seed, set=SETS, steps=steps).steps.iloc[-1]
    return [f"{m} {last[m]:.6g}" for m in ("trust_mean", "welfare", "conflicts")]


def test_dashboard_steps_changes_parameters_and_patches(server, tmp_path):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors = watch_errors(page)
        page.goto(server)
        page.wait_for_selector(".sb-network img", timeout=60_000)
        page.wait_for_selector(".sb-series img", timeout=60_000)
        _expect_status(page, "step 0 of")

        times = [_step(page) for _ in range(3)]
        print(f"\nviz: step click to chart update, 1,000 agents: "
              f"{', '.join(f'{t:.2f}' for t in times)} s (median {sorted(times)[1]:.2f} s)")
        status = _expect_status(page, "step 3 of")
        for value in _values(SEED, 3):
            assert value in status
        first = page.locator(".sb-ledger tbody tr").first.locator("td")
        assert first.nth(0).inner_text() == "3"  # newest first: this step's conflicts
        assert page.locator(".sb-ledger tbody tr").count() > 0

        # A parameter: the seed, applied by Reset, then a step of the new run.
        page.get_by_label("seed").fill("7")
        page.get_by_label("seed").press("Enter")
        page.get_by_role("button", name="Reset").click()
        _expect_status(page, "step 0 of")
        assert "seed 7" in _expect_status(page, "seed 7")
        _step(page)
        status = _expect_status(page, "step 1 of")
        for value in _values(7, 1):
            assert value in status
        assert page.locator(".sb-ledger tbody tr").first.locator("td").nth(0).inner_text() == "1"

        # A spec patch now, then a step under it.
        page.get_by_label("PATH=VALUE").fill("principles.no_stonewalling.level=guideline")
        page.get_by_role("button", name="Apply patch now").click()
        page.get_by_text("patched buyers at step 1").wait_for(timeout=30_000)
        _step(page)
        _expect_status(page, "step 2 of")

        page.screenshot(path=str(tmp_path / "viz.png"), full_page=True)
        assert (tmp_path / "viz.png").stat().st_size > 10_000
        assert errors == []
