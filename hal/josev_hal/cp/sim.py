"""Simulator backend: the pilot as the simulated world (sim/world.py) sees it."""

from __future__ import annotations

from josev_hal.cp.base import ControlPilot, CpMode, CpReading
from josev_hal.sim.world import SimEvse


class SimControlPilot(ControlPilot):
    def __init__(self, world: SimEvse) -> None:
        self._world = world

    def set_output(self, mode: CpMode, duty: float = 100.0) -> None:
        self._world.cp_mode = mode
        self._world.duty = duty

    def read(self, now: float) -> CpReading:
        high, low = self._world.cp_levels()
        return CpReading(high_v=high, low_v=low, pp_ohm=self._world.pp_ohm())
