"""What every ``specbound`` command module shares: run parsed sub-commands, map errors to exit codes."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from agents.errors import RunFailure, SpecboundError
from agents.inputs import parse_value as checked_value


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # "specbound: run: argument --seed: ...": the program named once, then the sub-command.
        command = self.prog.removeprefix("specbound").strip()
        where = f"{command}: " if command else ""
        print(f"specbound: {where}{message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


#: Seeds are unsigned 63-bit integers everywhere (numpy's SeedSequence takes any; SQLite stores 64-bit).
SEED_MAX = 2**63 - 1


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``lo..hi``, refused in one line naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in {lo:,}..{hi:,}, got {text[:40]!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text[:40]} is out of range; allowed: {lo:,}..{hi:,}")
        return value

    return parse


def float_in(lo: float, hi: float, *, open_ends: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``lo..hi`` (exclusive ends with ``open_ends``)."""
    shown = f"({lo:g}, {hi:g}) exclusive" if open_ends else f"{lo:g}..{hi:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in {shown}, got {text[:40]!r}") from None
        inside = lo < value < hi if open_ends else lo <= value <= hi
        if not inside:  # NaN is never inside
            raise argparse.ArgumentTypeError(f"{text[:40]} is out of range; allowed: {shown}")
        return value

    return parse


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
    except BrokenPipeError as err:
        if not _stdout_gone():  # a pipe to a worker, say: ours to report, not a quiet exit
            return _internal(err)
        sys.stderr.close()  # `specbound ... | head`: the reader left; not an error of ours
        return 0
    except RunFailure as err:  # the input was fine; the run could not do its work
        print(f"specbound: run failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("specbound: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as err:
        if not _bad_path(err):
            return _internal(err)
        # A path argument the operating system cannot take: bad input, not a bug.
        name = getattr(err, "filename", None)
        shown = f" {str(name)[:60]!r}" if name else ""
        print(f"specbound: path{shown}: {_path_problem(err)}", file=sys.stderr)
        return 2
    except Exception as err:
        return _internal(err)


def _bad_path(err: Exception) -> bool:
    """Whether ``err`` is the operating system refusing a path's text (too long, a NUL byte)."""
    if isinstance(err, OSError):
        return err.errno == errno.ENAMETOOLONG
    return "embedded null" in str(err)


def _path_problem(err: Exception) -> str:
    if isinstance(err, OSError):
        return "file name too long for this file system"
    return "a path may not contain a NUL character"


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it (poll reports an error)."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, 0)  # error conditions are always reported
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # closed, or replaced by an object without a file
        return True


def _internal(err: Exception) -> int:
    """A bug of ours: one line that says so (SPECBOUND_DEBUG=1 shows the traceback instead)."""
    if os.environ.get("SPECBOUND_DEBUG"):
        raise err
    text = " ".join(str(err).split())[:300]
    print(f"specbound: internal error: {type(err).__name__}: {text} (a bug: please report it;"
          " SPECBOUND_DEBUG=1 shows the traceback)", file=sys.stderr)
    return 1


def run_commands(register: Callable[[Any], Any], argv: Sequence[str] | None = None) -> int:
    """A parser holding the sub-commands ``register`` adds, run on ``argv`` (for tests and modules)."""
    parser = Parser(prog="specbound")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch_argv(parser, argv)


def dispatch_argv(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    before: Callable[[argparse.Namespace], None] | None = None,
) -> int:
    """Parse ``argv`` and run it; an argument error is exit 2 returned, not raised (``--help``: 0)."""
    rest, plugins = split_plugins(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(rest)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0
    args.plugins = plugins
    if before is not None:
        before(args)
    return dispatch(args)


def parse_value(text: str, option: str = "value") -> Any:
    """A command-line value, read as a TOML scalar or array (``3``, ``0.5``, ``true``, ``[1, 2]``), else a string.

    Values the engine cannot hold (NaN, infinities, integers beyond 64 bits, deep
    nesting) are refused naming ``option`` (:func:`agents.inputs.parse_value`).
    """
    return checked_value(text, option)


def parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    """``--set PATH=VALUE`` items as overrides (each value read by :func:`parse_value`)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise SpecboundError(f"--set {item!r}: expected PATH=VALUE, e.g. --set steps=50")
        path, _, value = item.partition("=")
        out[path.strip()] = parse_value(value.strip(), f"--set {path.strip()}")
    return out
