"""The energy-meter interface. Reading a meter is slow I/O (Modbus), so it is async."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SignedReading:
    """A signed meter value as the meter gave it (OCMF), passed to OCPP unchanged."""

    measurand: str
    signed_meter_data: str  # base64
    signing_method: str
    encoding_method: str
    public_key: str


@dataclass(frozen=True, slots=True)
class MeterReading:
    voltage: tuple[float, float, float] = (0.0, 0.0, 0.0)
    current: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power_factor: float = 1.0
    frequency: float = 50.0
    energy_import_wh: float = 0.0
    energy_export_wh: float | None = None
    reactive_import_varh: float = 0.0
    reactive_export_varh: float | None = None
    dc_voltage: float | None = None
    dc_current: float | None = None
    signed: tuple[SignedReading, ...] = field(default=())


class EnergyMeter(abc.ABC):
    @abc.abstractmethod
    async def read(self) -> MeterReading:
        """Read every configured measurand now; raises MeterError when the meter fails."""

    async def close(self) -> None:
        """Release the connection."""
        return None


class MeterError(Exception):
    """The meter did not answer, or answered with an exception or garbage (the text says which)."""
