"""IEC 61851-1 control pilot and proximity arithmetic: pure functions, no I/O, time is an argument.

Values from ../shared/standards.md ("Control pilot and proximity"): CP levels +-1 V
(A 12 V, B 9 V, C 6 V, D 3 V, E 0 V, F -12 V), 1 kHz PWM, the duty-cycle/current table
(IEC 61851-1 Table A.8) and the PP resistor/cable table (IEC 61851-1 Table B.2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, cast


class CpLetter(enum.StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"
    INVALID = "invalid"  # a level between the bands: never charging, treated as a fault


# (nominal, tolerance) of the positive CP level per state; +-1 V (IEC 61851-1 Table A.4).
_BANDS: tuple[tuple[CpLetter, float], ...] = (
    (CpLetter.A, 12.0),
    (CpLetter.B, 9.0),
    (CpLetter.C, 6.0),
    (CpLetter.D, 3.0),
    (CpLetter.E, 0.0),
    (CpLetter.F, -12.0),
)
TOLERANCE_V = 1.0

HLC_DUTY = 5.0  # % : digital communication required
MIN_CURRENT = 6.0
MAX_CURRENT = 80.0


def classify(high_v: float, low_v: float | None, pwm_active: bool) -> CpLetter:
    """The CP state for one sample of the positive (and, with PWM, negative) level.

    With PWM running the negative half must sit at -12 V: the EV's diode is then present. A
    missing diode (low level not -12 V +-1) is reported as E, the standard's "pilot fault".
    """
    letter = CpLetter.INVALID
    for candidate, nominal in _BANDS:
        if abs(high_v - nominal) <= TOLERANCE_V:
            letter = candidate
            break
    if (
        pwm_active
        and low_v is not None
        and letter in (CpLetter.B, CpLetter.C, CpLetter.D)
        and abs(low_v + 12.0) > TOLERANCE_V
    ):
        return CpLetter.E
    return letter


ApiCpState = Literal["A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2", "E", "F"]


def api_state(letter: CpLetter, pwm_active: bool) -> ApiCpState:
    """The API's cp_status state: A1..D2 (1 = no PWM, 2 = PWM running), E, F."""
    if letter in (CpLetter.E, CpLetter.F, CpLetter.INVALID):
        return "E" if letter is not CpLetter.F else "F"
    return cast(ApiCpState, f"{letter.value}{2 if pwm_active else 1}")


def duty_for_current(current: float) -> float:
    """Duty cycle (%) that advertises `current` amperes (IEC 61851-1 Table A.8), rounded down.

    6-51 A: duty = I / 0.6 (up to 85 %); above 85 % the table reads (duty - 64) x 2.5, which
    starts above 52.5 A, so 51-52.5 A cannot be advertised and is rounded down to 51 A: the EV is
    never told more than allowed. Out of range values are refused: the caller clamps first.
    """
    if not MIN_CURRENT <= current <= MAX_CURRENT:
        raise ValueError(f"current {current} A outside 6..80 A")
    if current <= 51.0:
        return max(10.0, current / 0.6)
    if current <= 52.5:  # 85 % itself reads as 51 A (the first range includes it)
        return 85.0
    return min(96.0, current / 2.5 + 64.0)


def current_for_duty(duty: float) -> float | None:
    """The current a duty cycle advertises; None for 5 % (HLC), 0 for 'no charging allowed'."""
    if 3.0 <= duty <= 7.0:
        return None
    if duty < 8.0 or duty > 97.0:
        return 0.0
    if duty <= 10.0:
        return 6.0
    if duty <= 85.0:
        return duty * 0.6
    if duty <= 96.0:
        return (duty - 64.0) * 2.5
    return 80.0


# PP resistor -> cable current rating (IEC 61851-1 Table B.2, with its measurement ranges).
_PP_TABLE: tuple[tuple[float, float, float], ...] = (
    (1100.0, 2460.0, 13.0),  # 1.5 kOhm
    (400.0, 936.0, 20.0),  # 680 Ohm
    (164.0, 308.0, 32.0),  # 220 Ohm
    (80.0, 140.0, 63.0),  # 100 Ohm: 63 A three-phase (70 A single-phase)
)


def cable_rating(pp_ohm: float | None, single_phase: bool = False) -> float:
    """Current rating of the plugged cable; 0 when no cable or an unknown resistance."""
    if pp_ohm is None:
        return 0.0
    for low, high, amps in _PP_TABLE:
        if low <= pp_ohm <= high:
            return 70.0 if (amps == 63.0 and single_phase) else amps
    return 0.0


def pp_resistance(pp_v: float, pullup_ohm: float, supply_v: float) -> float | None:
    """PP resistance from the voltage of a pull-up divider; None = open (no cable)."""
    if pp_v >= supply_v * 0.98:
        return None
    if pp_v <= 0.0:
        return 0.0
    return pullup_ohm * pp_v / (supply_v - pp_v)


@dataclass
class Debouncer:
    """A state counts once it has read the same for `hold_s`; sans-I/O (time is an argument)."""

    hold_s: float
    stable: CpLetter | None = None
    _candidate: CpLetter | None = None
    _since: float = 0.0

    def update(self, letter: CpLetter, now: float) -> CpLetter | None:
        """Feed one sample; returns the new stable state when it changed, else None."""
        if letter != self._candidate:
            self._candidate = letter
            self._since = now
        if letter != self.stable and now - self._since >= self.hold_s:
            self.stable = letter
            return letter
        return None
