"""A small Modbus client (RTU and TCP): the meter and the IMD need four function codes only.

Written here rather than pulling pymodbus: ~200 lines cover read holding/input registers
(0x03/0x04) and write single/multiple registers (0x06/0x10), the framing is a few lines, and
the image carries no extra dependency. The codec is sans-I/O (bytes in, values out); the
clients do the I/O: TCP with asyncio streams, RTU with pyserial (blocking, used from a thread).
"""

from __future__ import annotations

import asyncio
import os
import select
import struct
import threading
from collections.abc import Callable
from typing import Literal

import serial

READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10

EXCEPTIONS = {
    1: "illegal function", 2: "illegal data address", 3: "illegal data value",
    4: "server device failure", 5: "acknowledge", 6: "server device busy",
    8: "memory parity error", 10: "gateway path unavailable", 11: "gateway target failed",
}

RegisterKind = Literal["holding", "input"]


class ModbusError(Exception):
    """A Modbus exception answer, a malformed frame, a CRC error or a timeout."""


def crc16(data: bytes) -> int:
    """Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


# -- PDUs -------------------------------------------------------------------------------------


def read_pdu(kind: RegisterKind, address: int, count: int) -> bytes:
    if not 1 <= count <= 125:
        raise ValueError(f"can read 1..125 registers, not {count}")
    fc = READ_HOLDING if kind == "holding" else READ_INPUT
    return struct.pack(">BHH", fc, address, count)


def write_pdu(address: int, values: list[int]) -> bytes:
    if len(values) == 1:
        return struct.pack(">BHH", WRITE_SINGLE, address, values[0])
    body = struct.pack(f">{len(values)}H", *values)
    return struct.pack(">BHHB", WRITE_MULTIPLE, address, len(values), len(body)) + body


def parse_pdu(request: bytes, response: bytes) -> list[int]:
    """Registers read (or the values written) from the answer to `request`."""
    if not response:
        raise ModbusError("empty answer")
    fc = request[0]
    if response[0] == fc | 0x80:
        code = response[1] if len(response) > 1 else 0
        raise ModbusError(f"exception {code}: {EXCEPTIONS.get(code, 'unknown')}")
    if response[0] != fc:
        raise ModbusError(f"answer has function 0x{response[0]:02X}, asked 0x{fc:02X}")
    if fc in (READ_HOLDING, READ_INPUT):
        (count,) = struct.unpack(">H", request[3:5])
        if len(response) < 2 or response[1] != 2 * count or len(response) != 2 + 2 * count:
            raise ModbusError(f"answer carries {len(response) - 2} bytes, expected {2 * count}")
        return list(struct.unpack(f">{count}H", response[2:]))
    if response[:5] != request[:5]:
        raise ModbusError("write answer does not echo the request")
    return []


def answer_pdu(request: bytes, registers: dict[int, int]) -> bytes:
    """A server's answer (for the simulators): reads from / writes into `registers`."""
    fc = request[0]
    try:
        if fc in (READ_HOLDING, READ_INPUT):
            address, count = struct.unpack(">HH", request[1:5])
            values = [registers[a] for a in range(address, address + count)]
            return struct.pack(f">BB{count}H", fc, 2 * count, *values)
        if fc == WRITE_SINGLE:
            address, value = struct.unpack(">HH", request[1:5])
            registers[address] = value
            return request[:5]
        if fc == WRITE_MULTIPLE:
            address, count, _n = struct.unpack(">HHB", request[1:6])
            for i, value in enumerate(struct.unpack(f">{count}H", request[6:6 + 2 * count])):
                registers[address + i] = value
            return request[:5]
    except KeyError:
        return bytes([fc | 0x80, 2])
    except struct.error:
        return bytes([fc | 0x80, 3])
    return bytes([fc | 0x80, 1])


# -- RTU framing ----------------------------------------------------------------------------------


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    adu = bytes([unit]) + pdu
    return adu + struct.pack("<H", crc16(adu))


def rtu_answer_length(request_pdu: bytes, head: bytes) -> int | None:
    """Total length of an RTU answer once its first 3 bytes are known (None: need more)."""
    if len(head) < 3:
        return None
    fc = head[1]
    if fc & 0x80:
        return 5
    if fc in (READ_HOLDING, READ_INPUT):
        return 3 + head[2] + 2
    return 8  # write answers echo address and value/count


def rtu_unframe(frame: bytes, unit: int) -> bytes:
    if len(frame) < 4:
        raise ModbusError(f"RTU frame of {len(frame)} bytes")
    (crc,) = struct.unpack("<H", frame[-2:])
    if crc16(frame[:-2]) != crc:
        raise ModbusError("RTU CRC mismatch")
    if frame[0] != unit:
        raise ModbusError(f"answer from unit {frame[0]}, asked {unit}")
    return frame[1:-2]


def rtu_request_length(head: bytes) -> int | None:
    """Length of an RTU request from its first bytes (for the simulators)."""
    if len(head) < 2:
        return None
    if head[1] in (READ_HOLDING, READ_INPUT, WRITE_SINGLE):
        return 8
    if head[1] == WRITE_MULTIPLE:
        return None if len(head) < 7 else 9 + head[6]
    return 4


# -- TCP --------------------------------------------------------------------------------------


class ModbusTcpClient:
    """One TCP connection (reconnected on demand), one request at a time."""

    def __init__(self, host: str, port: int, timeout: float = 1.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tid = 0
        self._lock = asyncio.Lock()

    async def _transact(self, unit: int, pdu: bytes) -> bytes:
        async with self._lock:
            try:
                return await asyncio.wait_for(self._exchange(unit, pdu), self.timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                await self.close()
                raise ModbusError(f"{self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc

    async def _exchange(self, unit: int, pdu: bytes) -> bytes:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._tid = (self._tid + 1) & 0xFFFF
        self._writer.write(struct.pack(">HHHB", self._tid, 0, len(pdu) + 1, unit) + pdu)
        await self._writer.drain()
        while True:
            head = await self._reader.readexactly(7)
            tid, proto, length, _unit = struct.unpack(">HHHB", head)
            if proto != 0 or not 2 <= length <= 254:
                raise ModbusError(f"bad MBAP header {head.hex()}")
            body = await self._reader.readexactly(length - 1)
            if tid == self._tid:
                return body  # answers to earlier, timed-out requests are skipped

    async def read(self, unit: int, kind: RegisterKind, address: int, count: int) -> list[int]:
        pdu = read_pdu(kind, address, count)
        return parse_pdu(pdu, await self._transact(unit, pdu))

    async def write(self, unit: int, address: int, values: list[int]) -> None:
        pdu = write_pdu(address, values)
        parse_pdu(pdu, await self._transact(unit, pdu))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = None


# -- RTU --------------------------------------------------------------------------------------


class ModbusRtuClient:
    """Modbus RTU on a serial line; blocking calls (run them in a thread), thread-safe."""

    def __init__(self, port: str, baudrate: int = 19200, parity: str = "E",
                 timeout: float = 0.5) -> None:
        self.serial = serial.Serial(port, baudrate=baudrate, parity=parity, stopbits=1,
                                    bytesize=8, timeout=timeout)
        self._lock = threading.Lock()

    def _transact(self, unit: int, pdu: bytes) -> bytes:
        with self._lock:
            self.serial.reset_input_buffer()
            self.serial.write(rtu_frame(unit, pdu))
            frame = self.serial.read(3)
            total = rtu_answer_length(pdu, frame)
            if total is None:
                raise ModbusError(f"no answer from unit {unit} ({len(frame)} bytes)")
            frame += self.serial.read(total - len(frame))
            if len(frame) < total:
                raise ModbusError(f"answer from unit {unit} cut short ({len(frame)}/{total})")
            return rtu_unframe(frame, unit)

    def read(self, unit: int, kind: RegisterKind, address: int, count: int) -> list[int]:
        pdu = read_pdu(kind, address, count)
        return parse_pdu(pdu, self._transact(unit, pdu))

    def write(self, unit: int, address: int, values: list[int]) -> None:
        pdu = write_pdu(address, values)
        parse_pdu(pdu, self._transact(unit, pdu))

    def close(self) -> None:
        self.serial.close()


def serve_rtu(fd: int, unit: int, stopped: Callable[[], bool],
              answer: Callable[[bytes], bytes]) -> None:
    """A Modbus RTU device on a serial fd, for the simulators (a thread runs it): each valid
    request for `unit` is answered with `answer(pdu)`; a bad CRC drops the buffer (a real
    device resynchronises on the silence after garbage). Returns when `stopped()` or the fd
    closes."""
    buf = b""
    while not stopped():
        readable, _, _ = select.select([fd], [], [], 0.05)
        if not readable:
            continue
        try:
            buf += os.read(fd, 256)
        except OSError:
            return
        while (n := rtu_request_length(buf)) is not None and len(buf) >= n:
            frame, buf = buf[:n], buf[n:]
            if crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                buf = b""
                break
            if frame[0] == unit:
                os.write(fd, rtu_frame(unit, answer(frame[1:-2])))
