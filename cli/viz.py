"""The ``viz`` sub-command: check the input, then serve the live dashboard.

Registered by the command line like every other command module; Solara and
the page are imported only when ``viz`` runs, never by a batch command.
"""

from __future__ import annotations

import argparse
from typing import Any

from agents.errors import SpecboundError

DEFAULT_HOST = "127.0.0.1"


def register(subparsers: Any) -> None:
    """Add ``viz`` to a parser's sub-commands."""
    p = subparsers.add_parser(
        "viz", help="serve a live dashboard of one scenario (Mesa SolaraViz)",
        description="Serve a live page of the scenario's model: the trust network, time series, "
                    "the conflict ledger, and controls (spec per group, the scenario's [sweep] "
                    "paths, seed; step, play, pause, reset; a spec patch applied now). "
                    "Needs the viz extra: pip install 'specbound[viz]'.")
    p.add_argument("scenario", metavar="SCENARIO", help="shipped scenario id or path to a .toml")
    p.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="dotted-path override (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="the model's seed (default 0)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.set_defaults(func=run_viz)


def run_viz(args: argparse.Namespace) -> int:
    """Handler of ``viz``: bad input is refused before the server starts."""
    from cli.base import parse_sets
    from sim.scenario import load_scenario
    from viz.live import as_seed

    sets = parse_sets(args.set)
    seed = as_seed(args.seed)
    if not 0 <= args.port < 65536:
        raise SpecboundError(f"--port {args.port}: allowed 0..65535 (0: any free port)")
    load_scenario(args.scenario, sets)
    try:
        import solara  # noqa: F401
        from mesa.visualization import SolaraViz  # noqa: F401
    except ImportError as err:
        raise SpecboundError(f"viz needs Mesa's visualization ({err.name} is missing); "
                             "install it with: pip install 'specbound[viz]'") from None
    from viz.server import serve

    serve(args.scenario, sets, seed, host=args.host, port=args.port)
    return 0
