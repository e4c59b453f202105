"""The simulated station's physics: one coherent world that every simulator backend looks into.

The EV side (plug, PP resistor, CP resistor state, battery, its own contactor) is set through
the sim/ control channel; the station side (pilot output, contactors, supply, IMD, meter, card
reader, e-stop) is driven by josev-hal through the simulator backends. `step(now)` advances the
physics; time is an argument, so a test can run the world on its own clock.
"""

from __future__ import annotations

import collections
import enum
import math
from dataclasses import dataclass, field
from typing import Literal

from josev_hal.cp.base import CpMode
from josev_hal.cp.iec61851 import current_for_duty

EvCpState = Literal["B", "C", "D"]

_CP_LEVEL = {"B": 9.0, "C": 6.0, "D": 3.0}


class EvContactor(enum.StrEnum):
    AUTO = "auto"
    OPEN = "open"
    CLOSED = "closed"


@dataclass
class SimEv:
    """The EV end of the cable, as the EV simulator (or the CLI) sets it."""

    plugged: bool = False
    pp_ohm: float = 220.0  # 32 A cable (IEC 61851-1 Table B.2)
    cp_state: EvCpState = "B"
    diode: bool = True
    battery_voltage: float = 400.0
    battery_resistance: float = 0.05
    max_current: float = 500.0  # what the EV draws at most (DC) / per phase (AC)
    contactor_mode: EvContactor = EvContactor.AUTO
    contactor_closed: bool = False


@dataclass
class SimEvse:
    """One EVSE's hardware: pilot, contactors, DC supply, IMD, meter, lock, card reader."""

    dc: bool = True
    phases: int = 3
    ev: SimEv = field(default_factory=SimEv)
    # pilot driven by the station
    cp_mode: CpMode = CpMode.STEADY
    duty: float = 100.0
    # contactors: command and the physical contacts that follow after a delay
    contactor_cmd: bool = False
    contactor_closed: bool = False
    contactor_close_delay_s: float = 0.03
    contactor_open_delay_s: float = 0.02
    contactor_welded: bool = False
    _contactor_cmd_at: float = 0.0
    has_mirror: bool = True
    rcd_tripped: bool = False
    locked: bool = False
    lock_cmd: bool = False
    lock_delay_s: float = 0.2
    lock_jammed: bool = False
    _lock_cmd_at: float = 0.0
    # DC supply (all modules as one)
    supply_on: bool = False
    supply_v_set: float = 0.0
    supply_i_set: float = 0.0
    supply_voltage: float = 0.0
    supply_current: float = 0.0
    supply_max_voltage: float = 920.0
    supply_max_current: float = 125.0
    supply_max_discharge_current: float = 0.0  # > 0: the modules can also sink (BPT)
    ramp_a_per_s: float = 500.0
    ramp_v_per_s: float = 2000.0
    shutdown_a_per_s: float = 20000.0  # off: the modules' output stage stops within ~10 ms
    supply_faults: list[str] = field(default_factory=list)
    # isolation monitor
    isolation_ohm: float = 10e6
    imd_started_at: float | None = None
    imd_voltage: float = 0.0
    imd_duration_s: float = 3.0
    # meter: energy into the EV (imported from the grid) and back out of it (exported)
    energy_wh: float = 0.0
    energy_export_wh: float = 0.0
    ac_current: float = 0.0
    # AC under HLC: what the station agreed to (negative: BPT feed-back; None: no setpoint
    # yet) and the most it allows; a cooperating EV keeps to both.
    hlc_current: float | None = None
    hlc_max_current: float = float("inf")
    grid_voltage: float = 230.0
    cards: collections.deque[str] = field(default_factory=collections.deque)
    display: str | None = None
    ev_precharge_settle_s: float = 0.3
    _matched_since: float | None = None

    # -- what the station's pilot input reads ------------------------------------------------

    def cp_levels(self) -> tuple[float, float]:
        """(positive plateau, negative plateau) at the station's CP measurement point."""
        if self.cp_mode is CpMode.STATE_F:
            return -12.0, -12.0
        if self.cp_mode is CpMode.STATE_E:
            return 0.0, 0.0
        high = _CP_LEVEL[self.ev.cp_state] if self.ev.plugged else 12.0
        if self.cp_mode is CpMode.STEADY or self.duty >= 100.0:
            return high, high
        if self.duty <= 0.0:
            return -12.0, -12.0
        low = -12.0 if (self.ev.diode or not self.ev.plugged) else -high
        return high, low

    def pp_ohm(self) -> float | None:
        return self.ev.pp_ohm if self.ev.plugged else None

    def advertised_current(self) -> float:
        """What the PWM currently allows (A); 0 without PWM, 5 % (HLC) leaves it to HLC."""
        if self.cp_mode is not CpMode.PWM:
            return 0.0
        allowed = current_for_duty(self.duty)
        return 0.0 if allowed is None else allowed

    # -- station outputs -----------------------------------------------------------------------

    def command_contactor(self, closed: bool, now: float) -> None:
        if closed != self.contactor_cmd:
            self.contactor_cmd = closed
            self._contactor_cmd_at = now

    def command_lock(self, locked: bool, now: float) -> None:
        if locked != self.lock_cmd:
            self.lock_cmd = locked
            self._lock_cmd_at = now

    # -- physics ---------------------------------------------------------------------------------

    def step(self, now: float, dt: float) -> None:
        # Contacts follow the coil after their travel time; welded contacts stay closed.
        delay = self.contactor_close_delay_s if self.contactor_cmd else self.contactor_open_delay_s
        if now - self._contactor_cmd_at >= delay and not (
            self.contactor_welded and self.contactor_closed
        ):
            self.contactor_closed = self.contactor_cmd
        if now - self._lock_cmd_at >= self.lock_delay_s and not self.lock_jammed:
            # A lock engages only with a plug in the socket.
            self.locked = self.lock_cmd and self.ev.plugged
        if not self.ev.plugged:
            self.locked = False
        ev = self.ev
        charging_state = ev.plugged and ev.cp_state in ("C", "D")
        if self.dc:
            self._step_dc(now, dt, charging_state)
        else:
            self._step_ac(dt, charging_state)

    def _step_dc(self, now: float, dt: float, charging_state: bool) -> None:
        ev = self.ev
        cable_v = self.supply_voltage if self.contactor_closed else 0.0
        # The EV closes its own contactor once precharge has held the cable at its battery
        # voltage for a while (a cable check only passes through that voltage).
        if ev.contactor_mode is EvContactor.AUTO:
            matched = abs(cable_v - ev.battery_voltage) <= 20.0
            if not (charging_state and self.contactor_closed):
                ev.contactor_closed = False
                self._matched_since = None
            elif not ev.contactor_closed and not matched:
                self._matched_since = None
            elif not ev.contactor_closed:
                if self._matched_since is None:
                    self._matched_since = now
                elif now - self._matched_since >= self.ev_precharge_settle_s:
                    ev.contactor_closed = True
        else:
            ev.contactor_closed = ev.contactor_mode is EvContactor.CLOSED
        loaded = ev.plugged and self.contactor_closed and ev.contactor_closed
        on = self.supply_on and not self.supply_faults
        if loaded:
            if on and self.supply_i_set >= 0.0:
                headroom = (self.supply_v_set - ev.battery_voltage) / ev.battery_resistance
                i_target = max(0.0, min(self.supply_i_set, headroom, ev.max_current))
            elif on:
                # Discharge (BPT): the modules sink current, the battery drives it; the cable
                # sits below the battery's voltage by I*R.
                i_target = max(self.supply_i_set, -ev.max_current,
                               -self.supply_max_discharge_current)
            else:
                i_target = 0.0
            rate = self.ramp_a_per_s if on else self.shutdown_a_per_s
            self.supply_current = _towards(self.supply_current, i_target, rate * dt)
            self.supply_voltage = ev.battery_voltage + self.supply_current * ev.battery_resistance
        else:
            self.supply_current = _towards(self.supply_current, 0.0, self.shutdown_a_per_s * dt)
            v_target = self.supply_v_set if on else 0.0
            self.supply_voltage = _towards(self.supply_voltage, v_target, self.ramp_v_per_s * dt)
        if self.contactor_closed:
            self._meter(self.supply_voltage * self.supply_current, dt)

    def _meter(self, power: float, dt: float) -> None:
        if power >= 0.0:
            self.energy_wh += power * dt / 3600.0
        else:
            self.energy_export_wh -= power * dt / 3600.0

    def _step_ac(self, dt: float, charging_state: bool) -> None:
        ev = self.ev
        flowing = self.contactor_closed and charging_state and not self.rcd_tripped
        hlc = self.cp_mode is CpMode.PWM and current_for_duty(self.duty) is None
        # Basic charging: the EV follows the PWM. HLC (5 %): the limit was agreed over ISO 15118,
        # which the EV simulator expresses as its max_current (`battery` command).
        if hlc and self.hlc_current is not None and self.hlc_current < 0:
            allowed = max(self.hlc_current, -ev.max_current)  # BPT: the EV's inverter feeds back
        elif hlc:
            agreed = self.hlc_current if self.hlc_current is not None else self.hlc_max_current
            allowed = min(ev.max_current, agreed, self.hlc_max_current)
        else:
            allowed = min(self.advertised_current(), ev.max_current)
        self.ac_current = allowed if flowing else 0.0
        self._meter(self.grid_voltage * self.ac_current * self.phases, dt)

    # -- isolation monitor ---------------------------------------------------------------------

    def imd_result(self, now: float) -> tuple[bool, float | None]:
        """(ongoing, measured resistance) of the simulated IMD."""
        if self.imd_started_at is None:
            return False, None
        if now - self.imd_started_at < self.imd_duration_s:
            return True, None
        return False, self.isolation_ohm


@dataclass
class SimStation:
    """All simulated EVSEs plus what is shared: the e-stop chain and the clock."""

    evses: dict[int, SimEvse] = field(default_factory=dict)
    estop: bool = False
    now: float = 0.0
    _started: bool = False

    def step(self, now: float) -> None:
        dt = 0.0 if not self._started else max(0.0, now - self.now)
        self._started = True
        self.now = now
        # Large gaps (a paused process) are integrated in 1 ms steps so ramps stay physical.
        steps = max(1, min(1000, math.ceil(dt / 0.001)))
        for i in range(steps):
            t = now - dt + dt * (i + 1) / steps
            for evse in self.evses.values():
                evse.step(t, dt / steps)


def _towards(value: float, target: float, max_step: float) -> float:
    if value < target:
        return min(target, value + max_step)
    return max(target, value - max_step)
