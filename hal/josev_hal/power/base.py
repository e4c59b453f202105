"""The DC-supply interface: one logical supply, whatever number of modules is behind it."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SupplyMeasurement:
    voltage: float
    current: float
    faults: tuple[str, ...] = field(default=())  # e.g. "module 2: over-temperature"


class DcSupply(abc.ABC):
    # Can it sink current (negative setpoints: energy from the EV back to the grid)? The CAN
    # module protocols implemented here are charge-only.
    bidirectional: bool = False

    @abc.abstractmethod
    def set_output(self, on: bool, voltage: float, current: float, now: float) -> None:
        """Target output: voltage (V) and current limit (A), or off. Called every control step."""

    @abc.abstractmethod
    def measure(self, now: float) -> SupplyMeasurement:
        """The latest output measurement and active faults (never blocks)."""

    def poll(self, now: float) -> None:
        """Do the periodic work: read incoming frames, send keep-alives. Never blocks."""
        return None

    def close(self) -> None:
        """Switch the modules off and release the bus."""
        return None
