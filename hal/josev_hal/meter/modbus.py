"""Linux backend: a Modbus RTU or TCP meter whose register map comes from configuration.

Each measurand is (address, holding|input, encoding, word order, scale); energy registers
in kWh take scale 1000 to give Wh. Where the meter keeps a signed OCMF record (Eichrecht
meters do), `ocmf_register` names it: the registers hold the record as ASCII, passed on
unchanged (base64) as the signed meter value with the algorithm from its signature section.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct

from josev_hal.config import MeterConfig, MeterRegister
from josev_hal.meter.base import EnergyMeter, MeterError, MeterReading, SignedReading
from josev_hal.modbus import ModbusError, ModbusRtuClient, ModbusTcpClient

log = logging.getLogger(__name__)

_WORDS = {"float32": 2, "int32": 2, "uint32": 2, "int16": 1, "uint16": 1, "int64": 4,
          "uint64": 4}
_FORMATS = {"float32": ">f", "int32": ">i", "uint32": ">I", "int16": ">h", "uint16": ">H",
            "int64": ">q", "uint64": ">Q"}


def decode(words: list[int], reg: MeterRegister) -> float:
    if reg.word_order == "little":
        words = list(reversed(words))
    raw = struct.pack(f">{len(words)}H", *words)
    (value,) = struct.unpack(_FORMATS[reg.encoding], raw)
    return float(value) * reg.scale


def encode(value: float, reg: MeterRegister) -> list[int]:
    """The inverse of decode (the meter simulator uses it)."""
    raw = value / reg.scale
    fmt = _FORMATS[reg.encoding]
    packed = struct.pack(fmt, raw if reg.encoding == "float32" else round(raw))
    words = list(struct.unpack(f">{len(packed) // 2}H", packed))
    return list(reversed(words)) if reg.word_order == "little" else words


def parse_ocmf(record: str, public_key: str) -> SignedReading:
    """`OCMF|{payload}|{signature}`: keep the record whole, take SA from the signature."""
    parts = record.split("|", 2)
    if len(parts) != 3 or parts[0] != "OCMF":
        raise MeterError(f"not an OCMF record: {record[:40]!r}")
    try:
        signature = json.loads(parts[2])
        json.loads(parts[1])
    except ValueError as exc:
        raise MeterError(f"OCMF record with invalid JSON: {exc}") from exc
    method = str(signature.get("SA", "ECDSA-secp256r1-SHA256"))
    return SignedReading(
        measurand="Energy.Active.Import.Register",
        signed_meter_data=base64.b64encode(record.encode()).decode(),
        signing_method=method[:50],
        encoding_method="OCMF",
        public_key=public_key,
    )


class ModbusMeter(EnergyMeter):
    def __init__(self, cfg: MeterConfig, tcp: ModbusTcpClient | None,
                 rtu: ModbusRtuClient | None) -> None:
        self.cfg = cfg
        self.tcp = tcp
        self.rtu = rtu

    @classmethod
    def from_config(cls, cfg: MeterConfig) -> ModbusMeter:
        if cfg.backend == "modbus_rtu":
            return cls(cfg, None, ModbusRtuClient(cfg.serial_port, cfg.baudrate, cfg.parity))
        return cls(cfg, ModbusTcpClient(cfg.host, cfg.port), None)

    async def _read(self, reg: MeterRegister, count: int | None = None) -> list[int]:
        n = count or _WORDS[reg.encoding]
        if self.tcp is not None:
            return await self.tcp.read(self.cfg.unit, reg.kind, reg.address, n)
        assert self.rtu is not None
        return await asyncio.to_thread(self.rtu.read, self.cfg.unit, reg.kind, reg.address, n)

    async def read(self) -> MeterReading:
        values: dict[str, float] = {}
        try:
            for name, reg in self.cfg.registers.items():
                values[name] = decode(await self._read(reg), reg)
            signed: tuple[SignedReading, ...] = ()
            if self.cfg.ocmf_register is not None:
                reg = MeterRegister(address=self.cfg.ocmf_register, encoding="uint16")
                words = await self._read(reg, self.cfg.ocmf_length)
                text = struct.pack(f">{len(words)}H", *words).rstrip(b"\0").decode("ascii")
                if text:
                    signed = (parse_ocmf(text, self.cfg.public_key),)
        except (ModbusError, UnicodeDecodeError) as exc:
            raise MeterError(f"meter unit {self.cfg.unit}: {exc}") from exc

        def v(name: str, default: float = 0.0) -> float:
            return values.get(name, default)

        return MeterReading(
            voltage=(v("voltage_l1"), v("voltage_l2"), v("voltage_l3")),
            current=(v("current_l1"), v("current_l2"), v("current_l3")),
            power_factor=min(max(abs(v("power_factor", 1.0)), 0.0), 1.0),
            frequency=v("frequency", 50.0),
            energy_import_wh=v("energy_import_wh"),
            energy_export_wh=values.get("energy_export_wh"),
            reactive_import_varh=v("reactive_import_varh"),
            reactive_export_varh=values.get("reactive_export_varh"),
            dc_voltage=values.get("dc_voltage"),
            dc_current=values.get("dc_current"),
            signed=signed,
        )

    async def close(self) -> None:
        if self.tcp is not None:
            await self.tcp.close()
        if self.rtu is not None:
            self.rtu.close()
