"""Energy meters: Modbus RTU/TCP with a configured register map (OCMF where given), simulator."""

from josev_hal.meter.base import EnergyMeter, MeterReading, SignedReading

__all__ = ["EnergyMeter", "MeterReading", "SignedReading"]
