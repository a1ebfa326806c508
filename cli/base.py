"""What every ``specbound`` command module shares: run parsed sub-commands, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Callable, Sequence
from typing import Any

from agents.errors import RunFailure, SpecboundError


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"specbound: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def split_plugins(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--plugin MODULE`` (or ``--plugin=MODULE``) anywhere on the line, for every command: (rest, plugins)."""
    rest: list[str] = []
    plugins: list[str] = []
    it = iter(argv)
    for a in it:
        if a == "--plugin":
            value = next(it, None)
            if value is None:
                print("specbound: --plugin needs a module name or a path", file=sys.stderr)
                raise SystemExit(2)
            plugins.append(value)
        elif a.startswith("--plugin="):
            plugins.append(a.partition("=")[2])
        else:
            rest.append(a)
    return rest, plugins


def load_plugins(args: argparse.Namespace) -> None:
    """The installed packages' plugins and ``--plugin`` ones; ``args.loaded_plugins`` says what each added."""
    from sim.plugins import load_entry_points, load_plugins

    load_entry_points()
    args.loaded_plugins = load_plugins(getattr(args, "plugins", None) or [], "--plugin")


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen sub-command; bad input is one line on stderr and exit 2."""
    try:
        load_plugins(args)
        return int(args.func(args) or 0)
    except SpecboundError as err:
        print(f"specbound: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `specbound ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except RunFailure as err:  # the input was fine; the run could not do its work
        print(f"specbound: run failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("specbound: interrupted", file=sys.stderr)
        return 130


def run_commands(register: Callable[[Any], Any], argv: Sequence[str] | None = None) -> int:
    """A parser holding the sub-commands ``register`` adds, run on ``argv`` (for tests and modules)."""
    parser = Parser(prog="specbound")
    register(parser.add_subparsers(dest="command", required=True))
    rest, plugins = split_plugins(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(rest)
    args.plugins = plugins
    return dispatch(args)


def parse_value(text: str) -> Any:
    """A ``--set`` value, read as a TOML scalar or array (``3``, ``0.5``, ``true``, ``[1, 2]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    """``--set PATH=VALUE`` items as overrides (each value read by :func:`parse_value`)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise SpecboundError(f"--set {item!r}: expected PATH=VALUE, e.g. --set steps=50")
        path, _, value = item.partition("=")
        out[path.strip()] = parse_value(value.strip())
    return out
