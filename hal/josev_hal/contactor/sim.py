"""Simulator backend: contactors with travel time and a mirror contact, e-stop, RCD."""

from __future__ import annotations

from josev_hal.contactor.base import ConnectorLock, ContactorBank
from josev_hal.sim.world import SimEvse, SimStation


class SimContactorBank(ContactorBank):
    def __init__(self, station: SimStation, world: SimEvse) -> None:
        self._station = station
        self._world = world

    def command(self, closed: bool) -> None:
        self._world.command_contactor(closed, self._station.now)

    def feedback(self, now: float) -> bool | None:
        return self._world.contactor_closed if self._world.has_mirror else None

    def estop_pressed(self, now: float) -> bool:
        return self._station.estop

    def rcd_tripped(self, now: float) -> bool:
        return self._world.rcd_tripped


class SimConnectorLock(ConnectorLock):
    """A lock motor that takes `lock_delay_s` and reports through its switch."""

    def __init__(self, station: SimStation, world: SimEvse) -> None:
        self._station = station
        self._world = world

    def command(self, locked: bool) -> None:
        self._world.command_lock(locked, self._station.now)

    def feedback(self, now: float) -> bool | None:
        return self._world.locked
