"""The one rounding rule for every figure shown: half away from zero, as Excel's and LibreOffice's number formats
round (56.25 shows as 56.3 in a sheet, so it shows as 56.3 in a plan, a letter and the command line too).

Python's own formatting (f"{x:.1f}") rounds half to even on the binary value and would show 56.2. Scores are
kept unrounded everywhere; only what is shown goes through here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def rounded(value: float, places: int = 1) -> Decimal:
    """`value` rounded half away from zero to `places` decimals (by its shortest decimal form, as a sheet shows it)."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def shown(value: float | None, places: int = 1, *, missing: str = "-", sign: bool = False) -> str:
    """A figure as text to `places` decimals by the one rule; `missing` for None; a leading + with `sign`."""
    if value is None:
        return missing
    r = rounded(value, places)
    if r == 0:
        r = abs(r)  # never "-0.0"
    text = f"{r:.{places}f}"
    return f"+{text}" if sign and r > 0 else text
