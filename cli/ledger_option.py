"""The ``--ledger`` option that ``run`` and ``sweep`` share (its own module: no heavy imports)."""

from __future__ import annotations

import argparse

LEDGER_HELP = ("events kept per run: full (every event; the default), counts (per-step counts of "
               "each distinct event, no per-event rows) or none (default: the scenario's [sweep] "
               "ledger, else full)")


def add_ledger_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--ledger full|counts|none`` (how much of each run's events is stored)."""
    parser.add_argument("--ledger", choices=("full", "counts", "none"), help=LEDGER_HELP)
