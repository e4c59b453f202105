"""The simulated car: battery, limits and what it asks for.

Why this simple: the station under test needs a load that behaves like a battery (voltage rises
with SoC, current tapers near full) and a car that makes the decisions a real one makes (target
SoC, pause, unplug). `time_scale` makes a 20-minute charge take seconds of wall time.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass
class EvConfig:
    protocols: tuple[str, ...] = ("ISO20_DC", "DIN")   # offered, best first
    evcc_id: str = "WMIJOSEV0000000001"
    mac: str = "02:00:00:00:00:01"
    capacity_wh: float = 60_000.0
    soc: float = 30.0                 # %
    target_soc: float = 80.0          # %
    ocv_empty: float = 330.0          # V at 0 % SoC
    ocv_full: float = 410.0           # V at 100 % SoC
    resistance: float = 0.05          # Ohm, internal
    max_voltage: float = 450.0
    min_voltage: float = 150.0
    max_current: float = 200.0
    max_power: float = 100_000.0
    control_mode: str = "dynamic"     # -20: dynamic | scheduled
    bpt: bool = False                 # -20: ask for DC_BPT / AC_BPT; with target_soc below
                                      # soc the EV gives energy back (V2G) down to target_soc
    min_soc: float = 20.0             # BPT: the station may take energy out down to here
    ac: bool = False                  # -2: charge AC (three-phase) instead of DC
    ac_max_current: float = 32.0      # A per phase
    ac_phases: int = 3
    ac_voltage: float = 230.0         # V per phase
    time_scale: float = 1.0           # simulated seconds per real second for the SoC
    loop_interval: float = 0.1        # s between charge-loop requests
    poll_interval: float = 0.05       # s between requests while the SECC says Ongoing
    pause_at_soc: float | None = None  # pause the session (SessionStop Pause) at this SoC
    resume_after: float = 1.0         # s of sleep before the EV wakes the station itself
    bcb_toggles: int = 1              # B-C-B toggles the EV uses to wake the station (1..3)
    unplug_at_soc: float | None = None  # pull the plug (no SessionStop) at this SoC
    standby_at_soc: float | None = None   # -20: PowerDelivery(Standby) at this SoC ...
    standby_for: float = 1.0              # ... for this long, then Start again
    renegotiate_at_soc: float | None = None  # -20: SessionStop(ServiceRenegotiation) here
    schedule_renegotiate_at_soc: float | None = None  # -20 PowerDelivery(ScheduleRenegotiation),
                                                      # -2 PowerDelivery(Renegotiate) here
    welding_detection: bool = True
    unplug_after: float = 0.5         # s between the session's end and the driver unplugging
    precharge_hold: float = 0.5      # s the voltage must stay matched before the EV closes its
                                     # contactor and asks for power (the HAL sim's EV needs 0.3)

    def __post_init__(self) -> None:
        if not 1 <= self.bcb_toggles <= 3:
            raise ValueError(f"bcb_toggles must be 1..3 (ISO 15118-3), not {self.bcb_toggles}")
        if self.resume_after < 0:
            raise ValueError(f"resume_after must be >= 0 s, not {self.resume_after}")

    @classmethod
    def from_toml(cls, path: Path, **overrides: Any) -> EvConfig:
        """A TOML file with the field names above; unknown keys are an error, not ignored."""
        data = tomllib.loads(path.read_text())
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{path}: unknown EV setting(s) {', '.join(unknown)}")
        if "protocols" in data:
            data["protocols"] = tuple(data["protocols"])
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EvModel:
    """Battery state and the limits the car asks for at each moment."""

    def __init__(self, cfg: EvConfig) -> None:
        self.cfg = cfg
        self.soc = cfg.soc
        self.energy_wh = 0.0              # net, into the battery
        self.discharged_wh = 0.0          # out of the battery (BPT)
        # BPT with a target below the start: this session discharges (decided once).
        self.v2g = cfg.bpt and cfg.target_soc < cfg.soc
        self.last: float | None = None
        self.current = 0.0
        self.voltage = 0.0
        self.paused_once = False
        self.standby_done = False
        self.renegotiated = False
        self.schedule_renegotiated = False

    @property
    def ocv(self) -> float:
        c = self.cfg
        return c.ocv_empty + (c.ocv_full - c.ocv_empty) * self.soc / 100.0

    @property
    def full(self) -> bool:
        """The session's goal is reached (charged up, or discharged down, to target_soc)."""
        if self.v2g:
            return self.soc <= self.cfg.target_soc
        return self.soc >= self.cfg.target_soc

    def max_charge_current(self) -> float:
        """Constant current to 80 %, then a linear taper to 10 % of it at 100 %."""
        c = self.cfg
        if self.soc < 80.0:
            return c.max_current
        return max(c.max_current * (0.1 + 0.9 * (100.0 - self.soc) / 20.0), 1.0)

    def target_current(self) -> float:
        """What the EV asks for; negative while it discharges (V2G)."""
        volts = max(self.ocv, 1.0)
        if self.v2g:
            return -min(self.cfg.max_current, self.cfg.max_power / volts)
        return min(self.max_charge_current(), self.cfg.max_power / volts)

    def target_voltage(self) -> float:
        volts = self.ocv + self.target_current() * self.cfg.resistance
        return max(self.cfg.min_voltage, min(self.cfg.max_voltage, volts))

    def energy_request_wh(self) -> float:
        """Energy to reach target_soc; negative (energy to give back) only in a V2G session."""
        wh = (self.cfg.target_soc - self.soc) / 100.0 * self.cfg.capacity_wh
        return wh if self.v2g else max(wh, 0.0)

    def min_energy_request_wh(self) -> float:
        """-20's EVMinimumEnergyRequest: the energy to reach the minimum SoC; negative = this
        much may be taken out (a BPT EV above `min_soc`, e.g. for a station's discharge
        request), positive = it needs at least this much."""
        floor = min(self.cfg.min_soc, self.cfg.target_soc)
        return (floor - self.soc) / 100.0 * self.cfg.capacity_wh

    def max_energy_request_wh(self) -> float:
        return max(100.0 - self.soc, 0.0) / 100.0 * self.cfg.capacity_wh

    def measure(self, voltage: float, current: float, now: float) -> None:
        """The station reports present voltage/current: integrate the energy since last time."""
        if self.last is not None and now > self.last:
            dt = (now - self.last) * self.cfg.time_scale
            wh = self.voltage * self.current * dt / 3600.0
            self.energy_wh += wh
            if wh < 0:
                self.discharged_wh -= wh
            self.soc = min(100.0, max(0.0, self.soc + 100.0 * wh / self.cfg.capacity_wh))
        self.last = now
        self.voltage, self.current = voltage, current

    def stop_flow(self, now: float) -> None:
        self.measure(self.voltage, 0.0, now)
        self.current = 0.0
