"""Simulator backend: an IMD whose measurement takes a few seconds, graded like a real one."""

from __future__ import annotations

from josev_hal.isolation.base import IsolationMonitor, IsolationResult, grade
from josev_hal.sim.world import SimEvse


class SimIsolationMonitor(IsolationMonitor):
    def __init__(self, world: SimEvse, warning_ohm_per_v: float, fault_ohm_per_v: float) -> None:
        self._world = world
        self._warn = warning_ohm_per_v
        self._fault = fault_ohm_per_v

    def start(self, voltage: float, now: float) -> None:
        self._world.imd_started_at = now
        self._world.imd_voltage = voltage

    def poll(self, now: float) -> IsolationResult:
        ongoing, ohm = self._world.imd_result(now)
        if ongoing:
            return IsolationResult(ongoing=True, level="invalid")
        if ohm is None:
            return IsolationResult(ongoing=False, level="invalid")
        # The measurement needs the test voltage on the cable; without it the result is invalid.
        voltage = self._world.supply_voltage if self._world.contactor_closed else 0.0
        if voltage < 0.5 * self._world.imd_voltage:
            return IsolationResult(ongoing=False, level="invalid", resistance_ohm=ohm)
        level = grade(ohm, self._world.imd_voltage, self._warn, self._fault)
        return IsolationResult(ongoing=False, level=level, resistance_ohm=ohm)

    def stop(self, now: float) -> None:
        self._world.imd_started_at = None
