"""Upper bounds on what a command may ask for, in one place (the CLI and the APIs share them).

Each is far above any study and low enough that a typo (an extra zero or three)
is refused in one line instead of running for days or exhausting memory.
"""

from __future__ import annotations

#: Steps of one run (ipd-classic has 200).
MAX_STEPS = 1_000_000
#: Agents one group or join may add (signed 64-bit): the memory estimate (sim.capacity) is the real limit.
MAX_AGENTS = 2**63 - 1
#: Moran births (or deaths) per evolution update, each one event in Python.
MAX_BIRTHS = 1_000_000
#: Repetitions per grid point.
MAX_RUNS = 1_000_000
#: Planned runs of one sweep (points x runs): each is a row in the store.
MAX_SWEEP_RUNS = 10_000_000
#: Local worker processes.
MAX_WORKERS = 1024
#: Bootstrap resamples of a plot or report.
MAX_RESAMPLES = 1_000_000
