"""Checks for every value that enters from outside: TOML texts, numbers, their ranges.

One layer at the boundary, so the engine never meets a value it cannot hold:
a TOML text nested deeper than :data:`MAX_DEPTH` is refused before the parser
recurses into it; an integer outside 64 bits or a float that is NaN or infinite
is refused with the dotted key that holds it; a number outside its range names
the key and the range. Every refusal is one :class:`~agents.errors.SpecboundError`
line; callers add the file or option.
"""

from __future__ import annotations

import math
import tomllib
from typing import Any

from agents.errors import SpecboundError

#: Deepest nesting of arrays and inline tables a TOML text may have: far above any
#: real scenario or spec (they use three or four), far below Python's recursion limit.
MAX_DEPTH = 32
#: Integers are stored and handed to numpy as signed 64-bit values.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def toml_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings and comments (a cheap scan, no recursion).

    Table headers (``[a]``, ``[[a]]``) count as one or two, which is harmless: the
    limit is far above them.
    """
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n:
                if c == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                if len(quote) == 1 and text[j] == "\n":
                    break  # an unterminated string: the parser will say so
                j += 1
            i = j + len(quote)
            continue
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def loads(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text after refusing excessive nesting; values checked by :func:`check_tree`.

    Raises:
        SpecboundError: ``<source>: ...`` for too deep, invalid TOML or an unusable value.
        tomllib.TOMLDecodeError is never raised: it becomes SpecboundError.
    """
    at = f"{source}: " if source else ""
    depth = toml_depth(text)
    if depth > MAX_DEPTH:
        raise SpecboundError(f"{at}arrays or tables nested {depth} deep; at most {MAX_DEPTH} levels are allowed")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecboundError(f"{at}not valid TOML: {e}") from None
    except RecursionError:  # the scan above should make this unreachable
        raise SpecboundError(f"{at}not valid TOML: nested too deeply") from None
    check_tree(data, source)
    return data


def check_tree(value: Any, where: str, key: str = "", _depth: int = 0) -> None:
    """Refuse integers beyond 64 bits, NaN and infinities anywhere in TOML data.

    ``where`` is the file or option; the message adds the dotted ``key`` of the value.
    """
    if _depth > MAX_DEPTH + 2:
        raise SpecboundError(f"{where}: {key or 'value'}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for k, v in value.items():
            check_tree(v, where, f"{key}.{k}" if key else str(k), _depth + 1)
    elif isinstance(value, list):
        for k, v in enumerate(value):
            check_tree(v, where, f"{key}[{k}]", _depth + 1)
    else:
        check_scalar(value, ": ".join(x for x in (where, key) if x) or "value")


def check_scalar(value: Any, where: str) -> None:
    """One scalar: integers within 64 bits, floats finite."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise SpecboundError(f"{where}: {_short(value)} does not fit in 64 bits; "
                             f"allowed: {INT_MIN}..{INT_MAX}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecboundError(f"{where}: {value} is not a finite number")


def number(value: Any, where: str, lo: float | None = None, hi: float | None = None,
           *, integer: bool = False) -> Any:
    """``value`` as a checked number: right type, finite, within ``lo..hi`` (inclusive).

    Returns the int (``integer``) or float; raises SpecboundError naming ``where``
    and the allowed range.
    """
    allowed = _range_text(lo, hi, integer)
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise SpecboundError(f"{where}: expected {kind} in {allowed}, got {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecboundError(f"{where}: {value} is not a finite number; allowed: {allowed}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise SpecboundError(f"{where}: {_short(value)} is out of range; allowed: {allowed}")
    return value if integer else float(value)


def _range_text(lo: float | None, hi: float | None, integer: bool) -> str:
    def fmt(x: float) -> str:
        return f"{int(x):,}" if integer or float(x).is_integer() else f"{x:g}"

    if lo is None and hi is None:
        return "any finite number"
    if hi is None:
        return f"{fmt(lo)} or more"  # type: ignore[arg-type]
    if lo is None:
        return f"at most {fmt(hi)}"
    return f"{fmt(lo)}..{fmt(hi)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def parse_value(text: str, option: str = "value") -> Any:
    """A command-line value read as a TOML scalar or array (``3``, ``0.5``, ``true``, ``[1, 2]``), else a string.

    Values the engine cannot hold (NaN, infinities, integers beyond 64 bits, deep
    nesting) are refused here, naming ``option``.
    """
    if toml_depth(text) > MAX_DEPTH:
        raise SpecboundError(f"{option}: value nested more than {MAX_DEPTH} levels deep")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text
    check_tree(value, option)
    return value
