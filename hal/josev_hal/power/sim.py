"""Simulator backend: the simulated world's DC supply (ramps, limits, battery load)."""

from __future__ import annotations

from josev_hal.power.base import DcSupply, SupplyMeasurement
from josev_hal.sim.world import SimEvse


class SimDcSupply(DcSupply):
    """Negative current = discharge, within the world's `supply_max_discharge_current`."""

    def __init__(self, world: SimEvse) -> None:
        self._world = world
        self.bidirectional = world.supply_max_discharge_current > 0

    def set_output(self, on: bool, voltage: float, current: float, now: float) -> None:
        w = self._world
        w.supply_on = on
        w.supply_v_set = min(voltage, w.supply_max_voltage) if on else 0.0
        limited = max(min(current, w.supply_max_current), -w.supply_max_discharge_current)
        w.supply_i_set = limited if on else 0.0

    def measure(self, now: float) -> SupplyMeasurement:
        w = self._world
        return SupplyMeasurement(w.supply_voltage, w.supply_current, tuple(w.supply_faults))
