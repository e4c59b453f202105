"""Scripted sessions on the simulated station, driven through the controller's API methods.

Shared by the supervisor tests (on the simulator's clock) and bench/hal.py (on real time):
bring the station to a given charging current the way josev-iso15118 would, then pull a
trigger and see how long the station takes to be safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from josev.api import models
from josev_hal.cp.base import CpMode
from josev_hal.service import HalService
from josev_hal.sim.world import SimEvse


@dataclass
class SimClock:
    """A clock that only moves when told: the service and the world both read it."""

    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


class NotReached(AssertionError):
    pass


def run_until(
    service: HalService, clock: SimClock, predicate: Callable[[], bool], limit_s: float,
    what: str, heartbeat: bool = True,
) -> float:
    """Step the station on the simulated clock until `predicate()`; returns the time it held.

    `heartbeat` keeps Josev audible (as CurrentDemand traffic does) while waiting.
    """
    period = service.cfg.loop_period_s
    end = clock.t + limit_s
    while clock.t <= end:
        service.step(clock.t)
        if predicate():
            return clock.t
        if heartbeat:
            for ctl in service.controllers.values():
                ctl.heard(clock.t)
        clock.t += period
    raise NotReached(f"{what}: not reached within {limit_s} s of simulated time")


def setpoint(volts: float, amps: float, precharge: bool = False,
             evse_id: int = 1) -> models.PowerElectronicsSetpointRequest:
    """A DC setpoint; negative `amps` asks for discharge (BPT)."""
    dc = (models.DcSetpoint(voltage=volts, charge_current=amps) if amps >= 0
          else models.DcSetpoint(voltage=volts, discharge_current=-amps))
    return models.PowerElectronicsSetpointRequest(
        evse_id=evse_id, ev_limits=models.EvLimits(maximum_voltage=volts + 50.0),
        is_precharge=precharge, dc=dc,
    )


def bring_to_charging(service: HalService, clock: SimClock, amps: float = 100.0,
                      battery_v: float = 380.0, evse_id: int = 1) -> SimEvse:
    """Plug, C, 5 % PWM, cable check, precharge, charge at `amps` (DC station)."""
    ctl = service.controllers[evse_id]
    world = service.built.world.evses[evse_id]
    world.ev.plugged, world.ev.pp_ohm = True, 220.0
    world.ev.battery_voltage = battery_v
    world.ev.cp_state = "C"
    ctl.cp_pwm(models.CpPwmRequest(evse_id=evse_id, hlc=True, error_state=False,
                                   fault_state=False), clock.t)
    run_until(service, clock, lambda: ctl.cp_letter is not None and ctl.cp_letter.value == "C",
              2.0, "CP C")
    ctl.cable_check(models.CableCheckRequest(evse_id=evse_id, cable_check_action="start"),
                    clock.t)
    run_until(service, clock, lambda: ctl.state.isolation == "valid", 40.0, "cable check")
    ctl.setpoint(setpoint(battery_v, 2.0, precharge=True, evse_id=evse_id), clock.t)
    run_until(service, clock, lambda: world.ev.contactor_closed, 10.0, "precharge")
    ctl.setpoint(setpoint(battery_v + 20.0, amps, evse_id=evse_id), clock.t)
    run_until(service, clock, lambda: world.supply_current >= amps * 0.98, 5.0, "current")
    return world


def is_safe(service: HalService, evse_id: int = 1, signal: bool = True) -> bool:
    """Contacts physically open, supply below the safe current, pilot at F (when `signal`)."""
    world = service.built.world.evses[evse_id]
    safe_i = service.cfg.supervisor.safe_current_a
    ok = not world.contactor_closed and abs(world.supply_current) <= safe_i
    return ok and (not signal or world.cp_mode is CpMode.STATE_F)
