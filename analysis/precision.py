"""Numbers rounded to what their intervals justify.

A mean of 0.61234 with an interval [0.5, 0.7] is reported as 0.61 [0.50, 0.70]:
digits below the interval's width are noise, and printing them suggests a
precision the runs do not have. The rule: keep two significant digits of the
interval's width. Without a width (one run, or identical runs) four
significant digits are shown.
"""

from __future__ import annotations

import math

#: Significant digits of the interval width that are kept.
WIDTH_DIGITS = 2
#: Significant digits shown when there is no interval to go by.
FALLBACK_DIGITS = 4


def decimals_for(lo: float, hi: float) -> int | None:
    """Decimal places an interval justifies (negative: round to tens, hundreds...); None: no width."""
    if any(map(_missing, (lo, hi))):
        return None
    width = abs(hi - lo)
    # Equal values that differ only by floating-point noise have no width either.
    if not math.isfinite(width) or width <= 1e-9 * max(abs(lo), abs(hi), 1e-300):
        return None
    return WIDTH_DIGITS - 1 - math.floor(math.log10(width))


def _missing(x: float) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def rounded(x: float, decimals: int | None) -> str:
    """``x`` with ``decimals`` places (None: four significant digits); ``-`` for missing."""
    if _missing(x):
        return "-"
    if decimals is None:
        return f"{x:.{FALLBACK_DIGITS}g}"
    if decimals <= 0:
        value = round(x, decimals)
        return f"{value:.0f}" if value != 0 else "0"
    text = f"{x:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text  # no "-0.00"


def interval(mean: float, lo: float, hi: float) -> str:
    """``mean [lo, hi]``, all three rounded to the interval's precision."""
    d = decimals_for(lo, hi)
    return f"{rounded(mean, d)} [{rounded(lo, d)}, {rounded(hi, d)}]"
