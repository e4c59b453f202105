"""Numbers on the wire: DIN/-2 PhysicalValue (Multiplier -3..3, Value int16) and -20
RationalNumber (Exponent int8, Value int16), to and from floats.

Why a helper: every limit crosses this boundary, and a value that does not fit int16 must be
scaled, never wrapped or rejected by the encoder mid-session.
"""

from __future__ import annotations

import math

INT16 = (-32768, 32767)


def to_scaled(value: float, lo_exp: int, hi_exp: int) -> tuple[int, int]:
    """(exponent, mantissa) with value ~= mantissa * 10**exponent, mantissa in int16.

    The smallest exponent that fits keeps the most precision."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    for exp in range(max(lo_exp, -3), hi_exp + 1):
        mant = round(value / 10.0**exp)
        if INT16[0] <= mant <= INT16[1]:
            return exp, mant
    raise ValueError(f"{value} does not fit a 16-bit mantissa with exponent <= {hi_exp}")


def from_scaled(exponent: int, mantissa: int) -> float:
    return mantissa * 10.0**exponent
