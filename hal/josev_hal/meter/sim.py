"""Simulator backend: a meter that reads the simulated world's integrated energy."""

from __future__ import annotations

from josev_hal.meter.base import EnergyMeter, MeterReading
from josev_hal.sim.world import SimEvse


class SimMeter(EnergyMeter):
    def __init__(self, world: SimEvse) -> None:
        self._world = world

    async def read(self) -> MeterReading:
        w = self._world
        if w.dc:
            # The AC side of a DC charger: what the modules draw from the grid (96 % efficient).
            # Discharging, the grid gets the DC power less the losses (negative: export).
            dc_power = w.supply_voltage * w.supply_current
            grid_power = dc_power / 0.96 if dc_power >= 0 else dc_power * 0.96
            phase_i = grid_power / (3 * w.grid_voltage)
            return MeterReading(
                voltage=(w.grid_voltage,) * 3,
                current=(phase_i,) * 3,
                power_factor=0.99,
                energy_import_wh=w.energy_wh,
                energy_export_wh=w.energy_export_wh,
                dc_voltage=w.supply_voltage,
                dc_current=w.supply_current,
            )
        i = w.ac_current
        current = (i, i if w.phases > 1 else 0.0, i if w.phases > 2 else 0.0)
        return MeterReading(
            voltage=(w.grid_voltage,) * 3,
            current=current,
            power_factor=1.0,
            energy_import_wh=w.energy_wh,
            energy_export_wh=w.energy_export_wh,
        )
