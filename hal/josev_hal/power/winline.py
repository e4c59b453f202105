"""Winline modules, frames per ../shared/standards.md "DC power modules".

29-bit ID = 0x060<<20 | ptp<<19 | dst<<11 | src<<3 | group (ptp 1 = to one module),
controller address 0xF0. Data: byte 0 function (0x10 read, 0x03 set), byte 1 reserved,
bytes 2-3 register (big-endian), bytes 4-7 value. Answers carry the data type in byte 0
(0x41 float, 0x42 integer), 0xF0 in byte 1 when normal (anything else: a fault, the frame is
discarded), the register and the value. Registers: 0x0021 set voltage (float), 0x001B set
current (A x 1024, integer), 0x0030 on/off (0 on, 0x00010000 off), 0x0001 output voltage,
0x0002 output current (floats), 0x0040 status bits (integer).
"""

from __future__ import annotations

import math
import struct

import can

from josev_hal.config import PowerConfig
from josev_hal.power.can_supply import CanModuleSupply, ModuleCodec, ModuleReport

PROTNO = 0x060
CONTROLLER = 0xF0
FN_SET = 0x03
FN_READ = 0x10
TYPE_FLOAT = 0x41
TYPE_INT = 0x42
OK = 0xF0
REG_VOLTAGE = 0x0001
REG_CURRENT = 0x0002
REG_STATUS = 0x0040
REG_SET_CURRENT = 0x001B
REG_SET_VOLTAGE = 0x0021
REG_POWER = 0x0030
POWER_ON = 0x00000000
POWER_OFF = 0x00010000

FAULT_BITS: tuple[tuple[int, str], ...] = (
    (0, "module fault"),
    (1, "module protection"),
    (3, "internal communication failure"),
    (4, "input wiring error"),
    (7, "DC/DC over-voltage"),
    (8, "PFC voltage abnormal"),
    (9, "AC over-voltage"),
    (14, "AC under-voltage"),
    (16, "CAN communication failure"),
    (17, "current imbalance"),
    (27, "fan fault"),
    (28, "output short circuit"),
    (30, "over-temperature"),
    (31, "output over-voltage"),
)
OFF_BIT = 22


def can_id(dst: int, src: int, group: int = 0, ptp: bool = True) -> int:
    return PROTNO << 20 | int(ptp) << 19 | dst << 11 | src << 3 | (group & 0x7)


def split_id(arbitration_id: int) -> tuple[int, bool, int, int, int]:
    """(protocol number, ptp, dst, src, group)."""
    i = arbitration_id
    return (i >> 20) & 0x1FF, bool(i >> 19 & 1), (i >> 11) & 0xFF, (i >> 3) & 0xFF, i & 0x7


def request(dst: int, fn: int, register: int, value: bytes = b"\0\0\0\0", group: int = 0,
            src: int = CONTROLLER) -> can.Message:
    data = bytes([fn, 0]) + struct.pack(">H", register) + value
    return can.Message(arbitration_id=can_id(dst, src, group), data=data, is_extended_id=True)


def status_value(faults: set[str], off: bool) -> int:
    value = 0
    for bit, name in FAULT_BITS:
        if name in faults:
            value |= 1 << bit
    return value | (1 << OFF_BIT if off else 0)


class WinlineCodec(ModuleCodec):
    name = "winline"

    def __init__(self, group: int = 0) -> None:
        self.group = group

    def set_output(self, address: int, voltage: float, current: float) -> list[can.Message]:
        return [
            request(address, FN_SET, REG_SET_VOLTAGE, struct.pack(">f", max(voltage, 0.0)),
                    self.group),
            request(address, FN_SET, REG_SET_CURRENT,
                    struct.pack(">I", round(max(current, 0.0) * 1024)), self.group),
        ]

    def on_off(self, address: int, on: bool) -> list[can.Message]:
        value = struct.pack(">I", POWER_ON if on else POWER_OFF)
        return [request(address, FN_SET, REG_POWER, value, self.group)]

    def polls(self, address: int) -> list[can.Message]:
        return [request(address, FN_READ, r, group=self.group)
                for r in (REG_VOLTAGE, REG_CURRENT, REG_STATUS)]

    def decode(self, msg: can.Message) -> ModuleReport | None:
        if not msg.is_extended_id:
            return None
        protno, _ptp, dst, src, _group = split_id(msg.arbitration_id)
        if protno != PROTNO or dst != CONTROLLER:
            return None
        data = bytes(msg.data)
        if len(data) != 8:
            raise ValueError(f"answer has {len(data)} bytes, expected 8")
        kind, code = data[0], data[1]
        (register,) = struct.unpack(">H", data[2:4])
        if code != OK:
            raise ValueError(f"module {src} answered register 0x{register:04X} with fault "
                             f"code 0x{code:02X}")
        if kind not in (TYPE_FLOAT, TYPE_INT):
            raise ValueError(f"unknown data type 0x{kind:02X}")
        if register in (REG_VOLTAGE, REG_CURRENT):
            if kind != TYPE_FLOAT:
                raise ValueError(f"register 0x{register:04X} must be a float")
            (value,) = struct.unpack(">f", data[4:8])
            if not math.isfinite(value) or not -2000.0 <= value <= 2000.0:
                raise ValueError(f"implausible value {value}")
            if register == REG_VOLTAGE:
                return ModuleReport(src, voltage=value)
            return ModuleReport(src, current=value)
        if register == REG_STATUS:
            (bits,) = struct.unpack(">I", data[4:8])
            faults = tuple(name for bit, name in FAULT_BITS if bits >> bit & 1)
            return ModuleReport(src, faults=faults, off=bool(bits >> OFF_BIT & 1))
        return ModuleReport(src)


class WinlineSupply(CanModuleSupply):
    @classmethod
    def from_config(cls, cfg: PowerConfig) -> WinlineSupply:
        return cls(cls.open_bus(cfg), WinlineCodec(cfg.group), cfg)
