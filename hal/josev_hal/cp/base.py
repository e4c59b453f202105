"""The one control-pilot interface every backend implements (python-can's BusABC shape)."""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass


class CpMode(enum.StrEnum):
    """What the EVSE drives on the pilot line."""

    STEADY = "steady"  # +12 V without PWM (X1: "100 % duty")
    PWM = "pwm"  # 1 kHz +-12 V PWM at `duty`
    STATE_E = "E"  # 0 V: error
    STATE_F = "F"  # -12 V: EVSE not available


@dataclass(frozen=True, slots=True)
class CpReading:
    """One sample of the pilot's positive and negative plateau and the PP resistance."""

    high_v: float
    low_v: float | None
    pp_ohm: float | None  # None: no cable on a socket, or no PP measurement on this board


class ControlPilot(abc.ABC):
    @abc.abstractmethod
    def set_output(self, mode: CpMode, duty: float = 100.0) -> None:
        """Drive the pilot; `duty` (0..100 %) counts only in PWM mode."""

    @abc.abstractmethod
    def read(self, now: float) -> CpReading:
        """Sample the pilot levels (and PP) now."""

    def close(self) -> None:
        """Release the hardware; the default has nothing to release."""
        return None
