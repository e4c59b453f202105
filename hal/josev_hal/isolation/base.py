"""The isolation-monitor interface and the IEC 61851-23 thresholds that grade a resistance."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal

IsolationLevel = Literal["invalid", "valid", "warning", "fault", "no_imd"]


@dataclass(frozen=True, slots=True)
class IsolationResult:
    """`ongoing` while measuring; else the level the API reports and the measured resistance."""

    ongoing: bool
    level: IsolationLevel
    resistance_ohm: float | None = None


def grade(resistance_ohm: float, voltage: float, warning_ohm_per_v: float,
          fault_ohm_per_v: float) -> IsolationLevel:
    """IEC 61851-23 (6.3.1.105): > 500 Ohm/V valid, 100-500 Ohm/V warning, < 100 fault."""
    per_volt = resistance_ohm / max(voltage, 1.0)
    if per_volt < fault_ohm_per_v:
        return "fault"
    if per_volt < warning_ohm_per_v:
        return "warning"
    return "valid"


class IsolationMonitor(abc.ABC):
    @abc.abstractmethod
    def start(self, voltage: float, now: float) -> None:
        """Begin a measurement with `voltage` applied to the cable."""

    @abc.abstractmethod
    def poll(self, now: float) -> IsolationResult:
        """The current result (ongoing until the measurement is complete)."""

    def stop(self, now: float) -> None:
        """End monitoring (the output is de-energised)."""
        return None

    def close(self) -> None:
        """Release the hardware."""
        return None
