"""Bidirectional power (BPT) on the simulated DC station, on the simulator's clock: discharge
flows only within the station's discharge limits, is metered as export, and trips like charge."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from josev.api import models
from josev_hal.contactor.base import ContactorStatus
from josev_hal.cp.iec61851 import CpLetter
from josev_hal.service import HalService
from josev_hal.sim.scenario import SimClock, bring_to_charging, is_safe, run_until, setpoint
from josev_hal.supervisor import Demand, Inputs, TripReason
from tests.unit.hal.conftest import make_service

BPT = {"evses": [{"power": {"max_discharge_current": 80.0, "max_discharge_power": 20000.0,
                            "min_discharge_current": 1.0}}]}


def _bpt_station(tmp_path: Path) -> tuple[HalService, SimClock]:
    return make_service(tmp_path, **BPT)


def test_discharge_flows_back_and_is_metered_as_export(tmp_path: Path) -> None:
    service, clock = _bpt_station(tmp_path)
    world = bring_to_charging(service, clock, amps=50.0)
    ctl = service.controllers[1]
    imported = world.energy_wh
    assert ctl.setpoint(setpoint(370.0, -40.0), clock.t).status == "accepted"
    run_until(service, clock, lambda: world.supply_current <= -39.0, 2.0, "discharging")
    start = clock.t
    run_until(service, clock, lambda: clock.t - start >= 2.0, 3.0, "2 s of discharge")
    assert world.energy_export_wh > 0.0
    # The EV's battery drives the current: the cable sits below its voltage.
    assert world.supply_voltage < world.ev.battery_voltage
    assert world.energy_wh - imported < 0.5  # only the ramp from +50 A to -40 A imported
    limits = ctl.status_and_limits()
    assert limits.dc is not None and limits.dc.present_current == pytest.approx(-40.0, abs=0.5)
    assert limits.dc_bpt is not None
    assert limits.dc_bpt.evse_max_discharge_power == 20000.0
    assert limits.dc_bpt.evse_max_discharge_current == 80.0
    assert ctl.supervisor.trips == []


@pytest.mark.parametrize("ask", [
    {"discharge_current": 500.0},                 # beyond the 80 A discharge limit
    {"discharge_power": 900_000.0},               # beyond the 20 kW discharge limit
    {"discharge_current": 70.0},                  # 70 A at ~375 V is 26 kW > 20 kW
])
def test_discharge_never_exceeds_the_discharge_limits(tmp_path: Path,
                                                      ask: dict[str, float]) -> None:
    service, clock = _bpt_station(tmp_path)
    world = bring_to_charging(service, clock, amps=20.0)
    ctl = service.controllers[1]
    req = models.PowerElectronicsSetpointRequest(
        evse_id=1, ev_limits=models.EvLimits(maximum_voltage=450.0),
        dc=models.DcSetpoint(voltage=370.0, **ask))
    assert ctl.setpoint(req, clock.t).status == "accepted"
    worst = 0.0
    start = clock.t
    while clock.t - start < 2.0:
        service.step(clock.t)
        ctl.heard(clock.t)
        worst = min(worst, world.supply_current)
        assert -world.supply_current * world.supply_voltage <= 20000.0 * 1.01
        clock.t += service.cfg.loop_period_s
    assert worst >= -80.0
    assert worst < -40.0  # it did discharge, up to the limit


def test_a_station_without_bpt_refuses_discharge(tmp_path: Path) -> None:
    service, clock = make_service(tmp_path)
    world = bring_to_charging(service, clock, amps=20.0)
    ctl = service.controllers[1]
    assert ctl.status_and_limits().dc_bpt is None
    assert ctl.setpoint(setpoint(370.0, -40.0), clock.t).status == "rejected"
    run_until(service, clock, lambda: clock.t > 1e9 or world.supply_current > 19.0, 1.0, "on")
    assert world.energy_export_wh == 0.0


def test_no_discharge_in_precharge_or_both_directions_at_once(tmp_path: Path) -> None:
    service, clock = _bpt_station(tmp_path)
    bring_to_charging(service, clock, amps=20.0)
    ctl = service.controllers[1]
    assert ctl.setpoint(setpoint(370.0, -10.0, precharge=True), clock.t).status == "rejected"
    both = models.PowerElectronicsSetpointRequest(
        evse_id=1, ev_limits=models.EvLimits(maximum_voltage=450.0),
        dc=models.DcSetpoint(voltage=370.0, charge_current=10.0, discharge_current=10.0))
    assert ctl.setpoint(both, clock.t).status == "rejected"


def test_supervisor_clamps_a_negative_demand_whatever_the_controller_asks(
    tmp_path: Path,
) -> None:
    """The supervisor alone: no discharge without limits, before isolation, in a cable check."""
    plain, _ = make_service(tmp_path / "a")
    bpt, _ = _bpt_station(tmp_path / "b")
    inputs = Inputs(cp=CpLetter.C, estop=False, current=0.0, contactor=ContactorStatus.CLOSED,
                    welded=False, isolation_ok=True, rcd=False, cable_max_current=200.0,
                    hlc=True, supply_fault=False)
    ask = Demand(close=True, supply_on=True, voltage=380.0, current=-300.0)
    now = 2000.0
    assert plain.controllers[1].supervisor.step(inputs, ask, now).current == 0.0
    sup = bpt.controllers[1].supervisor
    assert sup.step(inputs, ask, now).current == pytest.approx(-20000.0 / 380.0)
    assert sup.step(replace(inputs, isolation_ok=False), ask, now).current >= 0.0
    check = replace(ask, purpose="cable_check")
    assert sup.step(inputs, check, now).current >= 0.0


@pytest.mark.parametrize("trigger", ["cp_b", "estop", "unplug"])
def test_a_trip_while_discharging_makes_it_safe_within_100_ms(tmp_path: Path,
                                                             trigger: str) -> None:
    service, clock = _bpt_station(tmp_path)
    world = bring_to_charging(service, clock, amps=20.0)
    service.controllers[1].setpoint(setpoint(370.0, -50.0), clock.t)
    run_until(service, clock, lambda: world.supply_current <= -49.0, 2.0, "discharging")
    t0 = clock.t
    if trigger == "cp_b":
        world.ev.cp_state = "B"
    elif trigger == "estop":
        service.built.world.estop = True
    else:
        world.ev.plugged = False
    t_safe = run_until(service, clock, lambda: is_safe(service), 1.0, "safe")
    assert t_safe - t0 <= 0.100
    reason = TripReason.EMERGENCY_STOP if trigger == "estop" else TripReason.CP_LOST
    assert service.controllers[1].supervisor.trips[-1][1] is reason


def _ac_station(tmp_path: Path, back: float = 16.0) -> tuple[HalService, SimClock]:
    return make_service(tmp_path, evses=[{
        "kind": "ac", "connectors": [{"id": 1, "connector_type": "cType2",
                                      "cable_max_current": 32.0}],
        "ac": {"phases": 3, "max_current": 32.0, "max_discharge_current": back},
    }])


def _ac_hlc_charging(service: HalService, clock: SimClock, watts: float) -> None:
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    world.ev.plugged, world.ev.cp_state = True, "B"
    ctl.cp_pwm(models.CpPwmRequest(evse_id=1, hlc=True, error_state=False, fault_state=False),
               clock.t)
    ctl.on_hlc_charging(models.HlcChargingUpdate(evse_id=1, status=True))
    ctl.setpoint(_ac(charge_active_power=watts), clock.t)
    world.ev.cp_state = "C"
    run_until(service, clock, lambda: world.ac_current > 0, 2.0, "AC current")


def _ac(**kw: float) -> models.PowerElectronicsSetpointRequest:
    return models.PowerElectronicsSetpointRequest(
        evse_id=1, ev_limits=models.EvLimits(maximum_voltage=400.0), ac=models.AcSetpoint(**kw))


def test_ac_hlc_follows_the_agreed_power_both_ways_within_the_limits(tmp_path: Path) -> None:
    service, clock = _ac_station(tmp_path)
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    _ac_hlc_charging(service, clock, 6900.0)
    assert world.ac_current == pytest.approx(10.0)  # 6.9 kW over 3 x 230 V
    limits = ctl.status_and_limits()
    assert limits.ac_bpt is not None
    assert limits.ac_bpt.evse_max_discharge_power.l1 == pytest.approx(16.0 * 230.0)
    assert ctl.setpoint(_ac(discharge_active_power=4140.0), clock.t).status == "accepted"
    run_until(service, clock, lambda: world.ac_current < 0, 1.0, "feeding back")
    assert world.ac_current == pytest.approx(-6.0)
    start = clock.t
    run_until(service, clock, lambda: clock.t - start >= 1.0, 2.0, "1 s")
    assert world.energy_export_wh > 0.0
    # Far more than the 16 A per phase the station takes back: clamped.
    ctl.setpoint(_ac(discharge_active_power=500_000.0), clock.t)
    run_until(service, clock, lambda: world.ac_current <= -15.9, 1.0, "clamped")
    assert world.ac_current == pytest.approx(-16.0)
    # The EV leaving under feed-back trips like under charge.
    world.ev.plugged = False
    run_until(service, clock, lambda: not world.contactor_closed and world.ac_current == 0.0,
              0.2, "open")


def test_ac_station_without_bpt_refuses_feed_back(tmp_path: Path) -> None:
    service, clock = _ac_station(tmp_path, back=0.0)
    _ac_hlc_charging(service, clock, 6900.0)
    ctl = service.controllers[1]
    assert ctl.status_and_limits().ac_bpt is None
    assert ctl.setpoint(_ac(discharge_active_power=4000.0), clock.t).status == "rejected"
    assert service.built.world.evses[1].ac_current > 0


def test_ac_hlc_never_draws_more_than_the_station_allows(tmp_path: Path) -> None:
    """Before any setpoint (and whatever the EV's own cap), a cooperating EV keeps to it."""
    service, clock = _ac_station(tmp_path)
    world = service.built.world.evses[1]
    world.ev.max_current = 200.0
    ctl = service.controllers[1]
    world.ev.plugged, world.ev.cp_state = True, "B"
    ctl.cp_pwm(models.CpPwmRequest(evse_id=1, hlc=True, error_state=False, fault_state=False),
               clock.t)
    ctl.on_hlc_charging(models.HlcChargingUpdate(evse_id=1, status=True))
    world.ev.cp_state = "C"
    run_until(service, clock, lambda: world.ac_current > 0, 2.0, "AC current")
    assert world.ac_current == pytest.approx(32.0)
