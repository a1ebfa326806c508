"""numpy's AVX-512 loops are disabled before numpy loads, whichever package comes first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agents.cpu_pin import AVX512_GROUPS, VARIABLE

PROBE = "import {first}, os, numpy; print(os.environ.get('{var}', ''))"


def probe(first: str, env_value: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    if env_value is not None:
        env[VARIABLE] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first, var=VARIABLE)], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("first", ["agents", "scenarios", "sim.runs.store", "analysis", "cli.main", "bench"])
def test_every_package_pins_before_numpy(first: str) -> None:
    assert probe(first) == AVX512_GROUPS


def test_numpy_loaded_first_is_left_alone() -> None:
    assert probe("numpy, agents") == ""


def test_a_value_the_user_set_is_kept() -> None:
    assert probe("agents", "X86_V4") == "X86_V4"
