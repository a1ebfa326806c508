"""What every ``specbound`` command module shares: run parsed sub-commands, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from agents.errors import SpecboundError


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen sub-command; bad input is one line on stderr and exit 2."""
    try:
        return int(args.func(args) or 0)
    except SpecboundError as err:
        print(f"specbound: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `specbound ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("specbound: interrupted", file=sys.stderr)
        return 130


def run_commands(register: Callable[[Any], Any], argv: Sequence[str] | None = None) -> int:
    """A parser holding the sub-commands ``register`` adds, run on ``argv`` (for tests and modules)."""
    parser = argparse.ArgumentParser(prog="specbound")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))
