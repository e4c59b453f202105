"""InfyPower modules (protocol V1.13), frames per ../shared/standards.md "DC power modules".

29-bit ID = err<<26 | dev<<22 | cmd<<16 | dst<<8 | src; dev 0x0A addresses one module,
controller address 0xF0. Commands used: 0x1C set voltage (mV) and current (mA), both u32
big-endian; 0x1A on/off (byte 0: 0 on, 1 off); 0x03 read voltage and current (two big-endian
floats); 0x04 status (three status bytes at 5, 6, 7). An answer comes back with dst and src
swapped and the same command; a non-zero error field is the module refusing the command.
"""

from __future__ import annotations

import math
import struct

import can

from josev_hal.config import PowerConfig
from josev_hal.power.can_supply import CanModuleSupply, ModuleCodec, ModuleReport

CONTROLLER = 0xF0
DEV_SINGLE = 0x0A
DEV_GROUP = 0x0B
CMD_MODULE_COUNT = 0x02
CMD_READ_VI = 0x03
CMD_STATUS = 0x04
CMD_CAPABILITIES = 0x0A
CMD_ON_OFF = 0x1A
CMD_SET_VI = 0x1C

# Status bits that mean the module is not delivering as asked: (byte index, bit, name).
FAULT_BITS: tuple[tuple[int, int, str], ...] = (
    (7, 0, "output short circuit"),
    (7, 5, "discharge abnormal"),
    (6, 1, "module fault"),
    (6, 2, "module protection"),
    (6, 3, "fan fault"),
    (6, 4, "over-temperature"),
    (6, 5, "output over-voltage"),
    (6, 7, "communication interrupted"),
    (5, 1, "address conflict"),
    (5, 2, "load sharing alarm"),
    (5, 3, "input phase lost"),
    (5, 4, "input unbalanced"),
    (5, 5, "input under-voltage"),
    (5, 6, "input over-voltage"),
)
DC_SIDE_OFF = (6, 0)


def can_id(cmd: int, dst: int, src: int, dev: int = DEV_SINGLE, err: int = 0) -> int:
    return (err & 0x7) << 26 | (dev & 0xF) << 22 | (cmd & 0x3F) << 16 | dst << 8 | src


def split_id(arbitration_id: int) -> tuple[int, int, int, int, int]:
    """(err, dev, cmd, dst, src)."""
    i = arbitration_id
    return (i >> 26) & 0x7, (i >> 22) & 0xF, (i >> 16) & 0x3F, (i >> 8) & 0xFF, i & 0xFF


def _msg(cmd: int, dst: int, data: bytes, src: int = CONTROLLER) -> can.Message:
    return can.Message(arbitration_id=can_id(cmd, dst, src), data=data.ljust(8, b"\0"),
                       is_extended_id=True)


def status_bytes(faults: set[str], off: bool) -> bytes:
    """Build a status answer's data (the module simulator uses it)."""
    data = bytearray(8)
    for byte, bit, name in FAULT_BITS:
        if name in faults:
            data[byte] |= 1 << bit
    if off:
        data[DC_SIDE_OFF[0]] |= 1 << DC_SIDE_OFF[1]
    return bytes(data)


class InfyPowerCodec(ModuleCodec):
    name = "infypower"

    def set_output(self, address: int, voltage: float, current: float) -> list[can.Message]:
        data = struct.pack(">II", round(max(voltage, 0.0) * 1000), round(max(current, 0.0) * 1000))
        return [_msg(CMD_SET_VI, address, data)]

    def on_off(self, address: int, on: bool) -> list[can.Message]:
        return [_msg(CMD_ON_OFF, address, bytes([0 if on else 1]))]

    def polls(self, address: int) -> list[can.Message]:
        return [_msg(CMD_READ_VI, address, b""), _msg(CMD_STATUS, address, b"")]

    def decode(self, msg: can.Message) -> ModuleReport | None:
        if not msg.is_extended_id:
            return None
        err, dev, cmd, dst, src = split_id(msg.arbitration_id)
        if dst != CONTROLLER or dev not in (DEV_SINGLE, DEV_GROUP):
            return None
        data = bytes(msg.data)
        if err:
            raise ValueError(f"module {src} refused command 0x{cmd:02X} (error code {err})")
        if cmd == CMD_READ_VI:
            if len(data) != 8:
                raise ValueError(f"read V/I answer has {len(data)} bytes, expected 8")
            voltage, current = struct.unpack(">ff", data)
            if not (math.isfinite(voltage) and math.isfinite(current)
                    and 0.0 <= voltage <= 2000.0 and -2000.0 <= current <= 2000.0):
                raise ValueError(f"implausible measurement {voltage} V {current} A")
            return ModuleReport(src, voltage=voltage, current=current)
        if cmd == CMD_STATUS:
            if len(data) != 8:
                raise ValueError(f"status answer has {len(data)} bytes, expected 8")
            faults = tuple(name for byte, bit, name in FAULT_BITS if data[byte] >> bit & 1)
            off = bool(data[DC_SIDE_OFF[0]] >> DC_SIDE_OFF[1] & 1)
            return ModuleReport(src, faults=faults, off=off)
        return ModuleReport(src)  # an acknowledgement: the module is alive


class InfyPowerSupply(CanModuleSupply):
    @classmethod
    def from_config(cls, cfg: PowerConfig) -> InfyPowerSupply:
        return cls(cls.open_bus(cfg), InfyPowerCodec(), cfg)
