"""IEC 61851-1 arithmetic: CP bands and tolerances, duty cycle <-> current, PP, debouncing."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from josev_hal.cp.iec61851 import (
    CpLetter,
    Debouncer,
    api_state,
    cable_rating,
    classify,
    current_for_duty,
    duty_for_current,
    pp_resistance,
)


@pytest.mark.parametrize(
    ("volts", "letter"),
    [(12.0, "A"), (11.0, "A"), (13.0, "A"), (9.0, "B"), (8.1, "B"), (6.0, "C"), (3.0, "D"),
     (0.0, "E"), (-12.0, "F"), (10.5, "invalid"), (4.5, "invalid"), (-5.0, "invalid")],
)
def test_bands(volts: float, letter: str) -> None:
    assert classify(volts, -12.0, pwm_active=True).value == letter


def test_missing_diode_is_e() -> None:
    assert classify(6.0, -6.0, pwm_active=True) is CpLetter.E
    assert classify(6.0, 6.0, pwm_active=False) is CpLetter.C  # no PWM: nothing to check


def test_api_states() -> None:
    assert api_state(CpLetter.B, pwm_active=False) == "B1"
    assert api_state(CpLetter.C, pwm_active=True) == "C2"
    assert api_state(CpLetter.F, pwm_active=True) == "F"
    assert api_state(CpLetter.INVALID, pwm_active=True) == "E"


@pytest.mark.parametrize(("amps", "duty"), [(6.0, 10.0), (16.0, 16.0 / 0.6), (32.0, 32.0 / 0.6),
                                            (51.0, 85.0), (63.0, 63.0 / 2.5 + 64.0),
                                            (80.0, 96.0)])
def test_duty_table(amps: float, duty: float) -> None:
    assert duty_for_current(amps) == pytest.approx(duty)


@example(52.5)
@example(51.0)
@given(st.floats(min_value=6.0, max_value=80.0))
def test_duty_round_trip(amps: float) -> None:
    back = current_for_duty(duty_for_current(amps))
    assert back is not None
    assert back <= amps + 1e-9  # never advertise more than allowed
    assert back >= (51.0 if 51.0 < amps <= 52.5 else amps - 1e-9)


def test_special_duties() -> None:
    assert current_for_duty(5.0) is None  # HLC
    assert current_for_duty(100.0) == 0.0
    assert current_for_duty(2.0) == 0.0
    with pytest.raises(ValueError):
        duty_for_current(5.0)


@pytest.mark.parametrize(("ohm", "amps"), [(1500.0, 13.0), (680.0, 20.0), (220.0, 32.0),
                                           (100.0, 63.0), (None, 0.0), (5000.0, 0.0),
                                           (50.0, 0.0)])
def test_pp_table(ohm: float | None, amps: float) -> None:
    assert cable_rating(ohm) == amps


def test_pp_single_phase_100_ohm_is_70a() -> None:
    assert cable_rating(100.0, single_phase=True) == 70.0


def test_pp_divider() -> None:
    assert pp_resistance(2.0, 330.0, 5.0) == pytest.approx(220.0)
    assert pp_resistance(5.0, 330.0, 5.0) is None


def test_debouncer_needs_a_stable_reading() -> None:
    d = Debouncer(hold_s=0.01)
    assert d.update(CpLetter.B, 0.0) is None if d.hold_s else CpLetter.B
    assert d.update(CpLetter.B, 0.005) is None
    assert d.update(CpLetter.B, 0.010) is CpLetter.B
    assert d.update(CpLetter.C, 0.015) is None
    assert d.update(CpLetter.B, 0.018) is None  # a glitch back: C never became stable
    assert d.update(CpLetter.C, 0.020) is None
    assert d.update(CpLetter.C, 0.031) is CpLetter.C
    assert d.stable is CpLetter.C
