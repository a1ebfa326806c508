"""Will a population fit in this machine's memory? Asked before anything is allocated.

A scenario (or an override, or a grid value) can ask for 10^12 agents; numpy would
try to allocate terabytes and the operating system would kill the process, or
swap the shared machine to a halt. The estimate is deliberately rough and
generous: about :data:`BYTES_PER_AGENT` per agent (measured: ~2 KiB per agent of
trust-network at degree 4, doubled for per-agent trust rows and decision
tables) above a fixed :data:`BASE_BYTES` for the interpreter and libraries.
"""

from __future__ import annotations

import os

from agents.errors import ScenarioError

BYTES_PER_AGENT = 4096
BASE_BYTES = 300 * 2**20


def machine_memory() -> int | None:
    """Physical memory of this machine in bytes, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def needed_bytes(agents: int) -> int:
    """Estimated peak memory of one run with ``agents`` agents."""
    return BASE_BYTES + BYTES_PER_AGENT * max(0, agents)


def size_text(n: float) -> str:
    """Bytes as a short binary size: ``3.6 TiB``, ``24 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 10 else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_population(agents: int, what: str, memory: int | None = None) -> None:
    """Refuse a population whose estimated memory exceeds this machine's.

    ``what`` names the key that asked for it (``groups.x.count = 1,000,000,000,000``).
    """
    memory = machine_memory() if memory is None else memory
    if memory is None:
        return
    need = needed_bytes(agents)
    if need > memory:
        raise ScenarioError(f"{what} needs about {size_text(need)} ({agents:,} agents); "
                            f"this machine has {size_text(memory)}")
