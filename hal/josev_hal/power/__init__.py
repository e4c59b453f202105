"""The DC supply: CAN power modules (InfyPower, Winline) in parallel, or the simulator."""

from josev_hal.power.base import DcSupply, SupplyMeasurement

__all__ = ["DcSupply", "SupplyMeasurement"]
