"""An AC EVSE with a Type 2 socket on the simulator's clock: PP caps the PWM, C closes,
B opens without a trip (IEC 61851-1's normal end), unplugging under load trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from josev.api import models
from josev_hal.cp.iec61851 import current_for_duty
from josev_hal.service import HalService
from josev_hal.sim.scenario import SimClock, run_until
from josev_hal.supervisor import TripReason
from tests.unit.hal.conftest import make_service


def ac_station(tmp_path: Path, connector: str = "sType2") -> tuple[HalService, SimClock]:
    return make_service(tmp_path, evses=[{
        "kind": "ac", "connectors": [{"id": 1, "connector_type": connector,
                                      "cable_max_current": 32.0}],
        "ac": {"phases": 3, "max_current": 63.0},
    }])


def pwm(current: float) -> models.CpPwmRequest:
    return models.CpPwmRequest(evse_id=1, hlc=False, current=current, error_state=False,
                               fault_state=False)


def test_basic_charging_cycle(tmp_path: Path) -> None:
    service, clock = ac_station(tmp_path)
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    # No cable in the socket: nothing may be advertised.
    run_until(service, clock, lambda: ctl.cp_letter is not None, 1.0, "A")
    assert ctl.cp_pwm(pwm(16.0), clock.t).status == "invalid"
    world.ev.plugged, world.ev.pp_ohm = True, 680.0  # a 20 A cable
    run_until(service, clock, lambda: ctl.cp_letter is not None and ctl.cp_letter.value == "B",
              1.0, "B")
    answer = ctl.cp_pwm(pwm(32.0), clock.t)
    assert answer.status == "valid" and answer.info is not None and "20.0" in answer.info
    run_until(service, clock, lambda: world.cp_mode.value == "pwm", 1.0, "pwm")
    assert current_for_duty(world.duty) == pytest.approx(20.0)
    assert service.status_and_limits()[0].ac is not None
    assert service.status_and_limits()[0].ac.max_current.l1 == 20.0  # type: ignore[union-attr]
    world.ev.cp_state = "C"
    run_until(service, clock, lambda: world.contactor_closed, 1.0, "closed")
    run_until(service, clock, lambda: world.ac_current > 0, 1.0, "current")
    assert world.ac_current == pytest.approx(20.0)
    world.ev.cp_state = "B"
    run_until(service, clock, lambda: not world.contactor_closed, 0.2, "opened on B")
    assert ctl.supervisor.trips == [] and world.cp_mode.value == "pwm"


def test_unplug_under_load_trips(tmp_path: Path) -> None:
    """A captive cable (cType2) has no socket lock: the plug can leave the car under load."""
    service, clock = ac_station(tmp_path, "cType2")
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    world.ev.plugged, world.ev.pp_ohm, world.ev.cp_state = True, 220.0, "C"
    run_until(service, clock, lambda: ctl.cp_letter is not None, 1.0, "C")
    ctl.cp_pwm(pwm(32.0), clock.t)
    run_until(service, clock, lambda: world.ac_current > 0, 1.0, "charging")
    t0 = clock.t
    world.ev.plugged = False
    t = run_until(service, clock, lambda: not world.contactor_closed, 1.0, "opened")
    assert t - t0 <= 0.1
    assert ctl.supervisor.trips[-1][1] is TripReason.CP_LOST


def test_rcd_trip_opens(tmp_path: Path) -> None:
    service, clock = ac_station(tmp_path)
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    world.ev.plugged, world.ev.pp_ohm, world.ev.cp_state = True, 220.0, "C"
    run_until(service, clock, lambda: ctl.cp_letter is not None, 1.0, "C")
    ctl.cp_pwm(pwm(32.0), clock.t)
    run_until(service, clock, lambda: world.contactor_closed, 1.0, "closed")
    world.rcd_tripped = True
    run_until(service, clock, lambda: not world.contactor_closed, 0.1, "opened")
    assert ctl.supervisor.trips[-1][1] is TripReason.RCD
    assert service.status_and_limits()[0].ac.rcd_error is True  # type: ignore[union-attr]


def test_socket_closes_only_when_locked_and_trips_when_the_lock_opens(tmp_path: Path) -> None:
    service, clock = ac_station(tmp_path)
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    world.lock_jammed = True  # the lock motor does not move
    world.ev.plugged, world.ev.pp_ohm, world.ev.cp_state = True, 220.0, "C"
    run_until(service, clock, lambda: ctl.cp_letter is not None, 1.0, "C")
    ctl.cp_pwm(pwm(32.0), clock.t)
    run_until(service, clock, lambda: clock.t > 1002.0, 3.0, "two seconds")
    assert world.lock_cmd and not world.locked
    assert not world.contactor_cmd  # never energised without the lock
    world.lock_jammed = False
    run_until(service, clock, lambda: world.contactor_closed, 1.0, "closed once locked")
    world.locked, world.lock_jammed = False, True  # the lock gives way under power
    run_until(service, clock, lambda: not world.contactor_closed, 0.1, "opened")
    assert ctl.supervisor.trips[-1][1] is TripReason.LOCK_LOST


def test_ac_hlc_draws_what_the_ev_simulator_says(tmp_path: Path) -> None:
    service, clock = ac_station(tmp_path)
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    world.ev.plugged, world.ev.pp_ohm, world.ev.cp_state = True, 220.0, "C"
    world.ev.max_current = 16.0
    run_until(service, clock, lambda: ctl.cp_letter is not None, 1.0, "C")
    ctl.cp_pwm(models.CpPwmRequest(evse_id=1, hlc=True, error_state=False, fault_state=False),
               clock.t)
    run_until(service, clock, lambda: world.ac_current > 0, 1.0, "current")
    assert world.duty == 5.0 and world.ac_current == 16.0
