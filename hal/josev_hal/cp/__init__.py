"""Control pilot and proximity pilot (IEC 61851-1): interface, Linux sysfs/IIO and simulator."""

from josev_hal.cp.base import ControlPilot, CpMode, CpReading

__all__ = ["ControlPilot", "CpMode", "CpReading"]
