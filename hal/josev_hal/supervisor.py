"""The safety supervisor: the last word on the power path, independent of the brain. Sans-I/O.

Every control step the EVSE controller says what it would like (a `Demand`: contactors, supply
setpoint, pilot) and what it measured (`Inputs`); `SafetySupervisor.step()` returns what the
hardware is actually told (`Command`). Rules (docs/hal.md, "Safety supervisor"):

- Trips: an input that cannot be read (pilot, mirror contact, e-stop, supply), the pilot
  leaving C/D while power flows, the emergency stop, silence from Josev for
  `brain_timeout_s` while power flows in an HLC session, contactor failure or welding, RCD.
  A trip switches the supply off and drives the pilot to F at once, and opens the contactors as
  soon as the current is below `safe_current_a` or `ramp_down_max_s` has passed (DC; AC opens at
  once). A pilot going from C to B with no power flowing (AC: always) is the normal end of
  charging (IEC 61851-1): the contactors open the same way, without F.
- A trip latches for at least `trip_hold_s` and until its cause is gone; welding latches until
  `reset()` (the station needs service).
- DC contactors close for power only after a positive isolation result (valid or warning) in
  this session. They may close before it only for the cable check itself, and then the supply is
  held to `precharge_max_current` and the cable-check voltage.
- After a passed cable check the IMD keeps monitoring; a fault while the path is closed trips.
- A socket's contactors close only with the cable locked (the lock's switch says so); the
  lock opening under power trips.
- Currents are clamped, never refused here: to the cable (PP or the captive cable's rating),
  the configuration and the supply, and to max_power / voltage. Clamping is logged by the
  controller; a demand above the limit never reaches the hardware.
- Discharge (a negative current, BPT) is clamped the same way to the discharge limits
  (cable, configuration, the supply's `max_discharge_current`, `max_discharge_power` /
  voltage); without them (0) nothing flows back. Never during the cable check, pre-charge or
  before a positive isolation result. "Power flows" counts current in either direction.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from typing import Literal

from josev_hal.contactor.base import ContactorStatus
from josev_hal.cp.base import CpMode
from josev_hal.cp.iec61851 import MAX_CURRENT, MIN_CURRENT, CpLetter, current_for_duty
from josev_hal.cp.iec61851 import duty_for_current as _duty

log = logging.getLogger(__name__)


class TripReason(enum.StrEnum):
    CP_LOST = "cp_lost"
    EMERGENCY_STOP = "emergency_stop"
    BRAIN_SILENT = "brain_silent"
    CONTACTOR_FAILED = "contactor_failed"
    CONTACTOR_WELDED = "contactor_welded"
    RCD = "rcd"
    SUPPLY_FAULT = "supply_fault"
    SENSOR_FAULT = "sensor_fault"
    LOCK_LOST = "lock_lost"
    ISOLATION_FAULT = "isolation_fault"


@dataclass(frozen=True, slots=True)
class Limits:
    """The static limits the supervisor enforces (from configuration and the supply)."""

    dc: bool
    config_max_current: float
    supply_max_current: float
    supply_max_voltage: float
    max_power: float
    precharge_max_current: float
    cable_check_voltage: float
    brain_timeout_s: float
    ramp_down_max_s: float
    safe_current_a: float
    trip_hold_s: float
    max_discharge_current: float = 0.0  # 0: not bidirectional
    max_discharge_power: float = 0.0


@dataclass(frozen=True, slots=True)
class Inputs:
    cp: CpLetter | None  # debounced; None until the first stable reading
    estop: bool
    current: float  # measured output current (DC; negative: discharge) / phase current (AC)
    contactor: ContactorStatus
    welded: bool
    isolation_ok: bool  # a valid or warning isolation result in this session
    rcd: bool
    cable_max_current: float  # PP rating or the captive cable's rating
    hlc: bool  # an HLC session is running (the brain owns the power loop)
    supply_fault: bool
    sensor_fault: bool = False  # an input (pilot, feedback, e-stop, supply) cannot be read
    lock_ok: bool = True  # a socket's cable is locked (always True without a lock)
    isolation_fault: bool = False  # the IMD, still watching after the cable check, saw a fault


@dataclass(frozen=True, slots=True)
class Demand:
    close: bool = False
    purpose: Literal["power", "cable_check"] = "power"
    supply_on: bool = False
    voltage: float = 0.0
    current: float = 0.0
    cp_mode: CpMode = CpMode.STEADY
    duty: float = 100.0


@dataclass(frozen=True, slots=True)
class Command:
    close: bool
    supply_on: bool
    voltage: float
    current: float
    cp_mode: CpMode
    duty: float
    tripped: TripReason | None


class SafetySupervisor:
    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self.tripped: TripReason | None = None
        self.trip_at: float | None = None
        self._last_heard = now
        self._closed = False  # what the coils are told
        self._opening_since: float | None = None
        self.trips: list[tuple[float, TripReason]] = []

    # -- events ----------------------------------------------------------------------------------

    def heard_from_brain(self, now: float) -> None:
        self._last_heard = now

    def reset(self, now: float, estop: bool) -> bool:
        """Clear a latched trip (the `reset` request); refused while the e-stop is pressed."""
        if estop:
            return False
        self.tripped = None
        self.trip_at = None
        self._last_heard = now
        return True

    def max_current(self, inputs: Inputs, voltage: float | None = None) -> float:
        """The most current the station may allow now: cable, configuration, supply, power."""
        lim = self.limits
        cap = min(inputs.cable_max_current, lim.config_max_current, lim.supply_max_current)
        if voltage is not None and voltage > 1.0:
            cap = min(cap, lim.max_power / voltage)
        return max(cap, 0.0)

    def max_discharge_current(self, inputs: Inputs, voltage: float | None = None) -> float:
        """The most current the station may take back from the EV now (BPT), as a magnitude."""
        lim = self.limits
        if lim.max_discharge_current <= 0.0 or lim.max_discharge_power <= 0.0:
            return 0.0
        cap = min(inputs.cable_max_current, lim.config_max_current, lim.max_discharge_current)
        if voltage is not None and voltage > 1.0:
            cap = min(cap, lim.max_discharge_power / voltage)
        return max(cap, 0.0)

    def brain_deadline(self) -> float:
        return self._last_heard + self.limits.brain_timeout_s

    # -- the step --------------------------------------------------------------------------------

    def step(self, inputs: Inputs, demand: Demand, now: float) -> Command:
        lim = self.limits
        cp_charging = inputs.cp in (CpLetter.C, CpLetter.D)
        # Power flows when current is measured, or (DC) the supply is asked for real current
        # or holds the cable-check voltage on the cable.
        commanded = lim.dc and demand.supply_on and (
            abs(demand.current) > lim.safe_current_a or demand.purpose == "cable_check"
        )
        power_flowing = self._closed and (abs(inputs.current) > lim.safe_current_a or commanded)
        trigger = self._trigger(inputs, cp_charging, power_flowing, now)
        if trigger is not None and self.tripped is None:
            self.tripped = trigger
            self.trip_at = now
            self.trips.append((now, trigger))
            log.warning("safety trip: %s", trigger.value)
        if self.tripped is not None and self._may_clear(inputs, now):
            log.info("safety trip %s cleared", self.tripped.value)
            self.tripped = None
            self.trip_at = None

        if self.tripped is not None:
            return self._safe_state(inputs, now, CpMode.STATE_F)

        # Contactor gating.
        want_close = (demand.close and cp_charging and not inputs.estop and not inputs.rcd
                      and inputs.lock_ok)
        if lim.dc and want_close and demand.purpose == "power" and not inputs.isolation_ok:
            want_close = False
        if not lim.dc and want_close and demand.cp_mode is not CpMode.PWM:
            want_close = False
        cmd = self._sequence(want_close, demand.supply_on, inputs, now)

        # Supply clamping.
        voltage = min(max(demand.voltage, 0.0), lim.supply_max_voltage)
        if demand.current >= 0.0:
            current = min(demand.current, self.max_current(inputs, voltage))
        else:
            current = -min(-demand.current, self.max_discharge_current(inputs, voltage))
        if lim.dc and (demand.purpose == "cable_check" or not inputs.isolation_ok):
            current = min(max(current, 0.0), lim.precharge_max_current)
            if demand.purpose == "cable_check":
                voltage = min(voltage, lim.cable_check_voltage)
        supply_on = cmd.supply_on and demand.supply_on and cp_charging
        if not supply_on:
            voltage = current = 0.0
        # Pilot: the advertised current never exceeds what is allowed (AC), F/E pass through.
        cp_mode, duty = demand.cp_mode, demand.duty
        if cp_mode is CpMode.PWM:
            cp_mode, duty = self._clamp_duty(duty, inputs)
        return Command(cmd.close, supply_on, voltage, current, cp_mode, duty, None)

    # -- helpers ---------------------------------------------------------------------------------

    def _trigger(
        self, inputs: Inputs, cp_charging: bool, power_flowing: bool, now: float
    ) -> TripReason | None:
        lim = self.limits
        if inputs.estop:
            return TripReason.EMERGENCY_STOP
        if inputs.sensor_fault:
            return TripReason.SENSOR_FAULT
        if inputs.welded:
            return TripReason.CONTACTOR_WELDED
        if inputs.contactor is ContactorStatus.ERROR and self._closed:
            return TripReason.CONTACTOR_FAILED
        if inputs.rcd and self._closed:
            return TripReason.RCD
        if not inputs.lock_ok and self._closed:
            return TripReason.LOCK_LOST
        if inputs.isolation_fault and self._closed:
            return TripReason.ISOLATION_FAULT
        if inputs.supply_fault and power_flowing:
            return TripReason.SUPPLY_FAULT
        if self._closed and not cp_charging:
            # C -> B is IEC 61851-1's normal end: always on AC, on DC only once the brain
            # has taken the current away (otherwise the EV left while power was asked for).
            normal_end = inputs.cp is CpLetter.B and (not lim.dc or not power_flowing)
            if not normal_end:
                return TripReason.CP_LOST
        if inputs.hlc and power_flowing and now - self._last_heard > lim.brain_timeout_s:
            return TripReason.BRAIN_SILENT
        return None

    def _may_clear(self, inputs: Inputs, now: float) -> bool:
        if self.tripped is TripReason.CONTACTOR_WELDED or self.trip_at is None:
            return False  # needs service: only reset() clears it
        if now - self.trip_at < self.limits.trip_hold_s or self._closed:
            return False
        if self.tripped is TripReason.EMERGENCY_STOP and inputs.estop:
            return False
        if self.tripped is TripReason.RCD and inputs.rcd:
            return False
        if self.tripped is TripReason.SENSOR_FAULT and inputs.sensor_fault:
            return False
        self._last_heard = now
        return True

    def _sequence(self, want_close: bool, supply_on: bool, inputs: Inputs, now: float) -> Command:
        """Close at once; open only after the supply has ramped down (DC) or at once (AC)."""
        if want_close:
            self._closed = True
            self._opening_since = None
            return Command(True, supply_on, 0, 0, CpMode.STEADY, 100.0, None)
        if self._closed:
            if self._opening_since is None:
                self._opening_since = now
            ramped = (
                not self.limits.dc
                or abs(inputs.current) <= self.limits.safe_current_a
                or now - self._opening_since >= self.limits.ramp_down_max_s
            )
            if ramped:
                self._closed = False
                self._opening_since = None
        return Command(self._closed, False, 0, 0, CpMode.STEADY, 100.0, None)

    def _safe_state(self, inputs: Inputs, now: float, cp_mode: CpMode) -> Command:
        cmd = self._sequence(False, False, inputs, now)
        return replace(cmd, cp_mode=cp_mode, duty=0.0, tripped=self.tripped)

    def _clamp_duty(self, duty: float, inputs: Inputs) -> tuple[CpMode, float]:
        advertised = current_for_duty(duty)
        if advertised is None or advertised == 0.0:
            return CpMode.PWM, duty  # 5 % (HLC) or "no charging" advertise no current
        cap = min(self.max_current(inputs), MAX_CURRENT)
        if advertised <= cap:
            return CpMode.PWM, duty
        if cap < MIN_CURRENT:
            return CpMode.STEADY, 100.0  # nothing may flow: stop advertising
        return CpMode.PWM, _duty(cap)
