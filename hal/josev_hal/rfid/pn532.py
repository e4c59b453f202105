"""NXP PN532 over UART (HSU, 115200 8N1): polls for ISO14443A cards, one tap per presentation.

Frames (PN532 user manual, 6.2): 00 00 FF LEN LCS TFI PD... DCS 00, LEN + LCS = 0 and
TFI + sum(PD) + DCS = 0 (mod 256); TFI D4 host->PN532, D5 back; ACK is 00 00 FF 00 FF 00.
Commands: GetFirmwareVersion 0x02, SAMConfiguration 0x14 (normal mode), RFConfiguration 0x32
item 5 (finite passive-activation retries, so a poll returns when no card is there) and
InListPassiveTarget 0x4A (1 target, 106 kbps type A): answer NbTg, Tg, SENS_RES(2),
SEL_RES, NFCID length, NFCID. The codec is sans-I/O; serial I/O runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import serial

from josev_hal.config import RfidReaderConfig
from josev_hal.rfid.base import CardReader, CardTap

log = logging.getLogger(__name__)

ACK = bytes.fromhex("0000ff00ff00")
WAKEUP = b"\x55\x55" + bytes(14)
HOST, DEVICE = 0xD4, 0xD5
GET_FIRMWARE_VERSION = 0x02
SAM_CONFIGURATION = 0x14
RF_CONFIGURATION = 0x32
IN_LIST_PASSIVE_TARGET = 0x4A


class Pn532Error(Exception):
    pass


def frame(tfi: int, data: bytes) -> bytes:
    body = bytes([tfi]) + data
    length = len(body)
    if length > 254:
        raise ValueError("normal frames carry at most 254 bytes")
    return (b"\x00\x00\xff" + bytes([length, (-length) & 0xFF]) + body
            + bytes([(-sum(body)) & 0xFF, 0x00]))


def parse_frame(buf: bytes) -> tuple[bytes | None, bytes]:
    """(body incl. TFI, rest) for the first complete frame in `buf`; (None, buf) if incomplete.

    ACK frames come back as b"" bodies. Raises Pn532Error on a checksum mismatch.
    """
    start = buf.find(b"\x00\xff")
    if start < 0:
        return None, buf[-1:]
    buf = buf[start:]
    if len(buf) < 4:
        return None, buf
    length, lcs = buf[2], buf[3]
    if length == 0 and lcs == 0xFF:
        return b"", buf[4:]
    if (length + lcs) & 0xFF:
        raise Pn532Error("length checksum mismatch")
    if len(buf) < 4 + length + 1:
        return None, buf
    body, dcs = buf[4:4 + length], buf[4 + length]
    if (sum(body) + dcs) & 0xFF:
        raise Pn532Error("data checksum mismatch")
    return body, buf[4 + length + 1:]


def parse_target(body: bytes) -> str | None:
    """The UID from an InListPassiveTarget answer body (TFI D5, 0x4B ...); None: no card."""
    if len(body) < 3 or body[0] != DEVICE or body[1] != IN_LIST_PASSIVE_TARGET + 1:
        raise Pn532Error(f"unexpected answer {body[:4].hex()}")
    if body[2] == 0:
        return None
    if len(body) < 8:
        raise Pn532Error("target data cut short")
    n = body[7]
    uid = body[8:8 + n]
    if len(uid) != n or n not in (4, 7, 10):
        raise Pn532Error(f"bad NFCID length {n}")
    return uid.hex().upper()


class Pn532:
    """Blocking command/answer exchange with one PN532 (used from a thread)."""

    def __init__(self, port: str, baudrate: int = 115200, timeout: float = 1.0) -> None:
        self.serial = serial.Serial(port, baudrate=baudrate, timeout=0.05)
        self.timeout = timeout
        self._buf = b""

    def _read_body(self, deadline: float) -> bytes:
        while True:
            body, self._buf = parse_frame(self._buf)
            if body is not None:
                return body
            if time.monotonic() > deadline:
                raise Pn532Error("no answer from the PN532")
            self._buf += self.serial.read(64)

    def command(self, cmd: int, params: bytes = b"") -> bytes:
        self.serial.write(frame(HOST, bytes([cmd]) + params))
        deadline = time.monotonic() + self.timeout
        if self._read_body(deadline) != b"":
            raise Pn532Error(f"no ACK for command 0x{cmd:02X}")
        body = self._read_body(deadline)
        if len(body) < 2 or body[0] != DEVICE or body[1] != cmd + 1:
            raise Pn532Error(f"answer {body[:2].hex()} to command 0x{cmd:02X}")
        return body

    def setup(self) -> str:
        self.serial.write(WAKEUP)
        fw = self.command(GET_FIRMWARE_VERSION)
        self.command(SAM_CONFIGURATION, b"\x01\x14\x01")
        self.command(RF_CONFIGURATION, b"\x05\xff\x01\x02")  # 2 passive-activation retries
        return f"PN5{fw[2]:02X} firmware {fw[3]}.{fw[4]}" if len(fw) >= 5 else "PN532"

    def poll(self) -> str | None:
        return parse_target(self.command(IN_LIST_PASSIVE_TARGET, b"\x01\x00"))

    def close(self) -> None:
        self.serial.close()


class Pn532Reader(CardReader):
    def __init__(self, port: str, baudrate: int = 115200, interval_s: float = 0.2) -> None:
        self.port = port
        self.baudrate = baudrate
        self.interval_s = interval_s
        self._closed = False

    @classmethod
    def from_config(cls, cfg: RfidReaderConfig) -> Pn532Reader:
        return cls(cfg.serial_port, cfg.baudrate)

    async def taps(self) -> AsyncIterator[CardTap]:
        """Yield each card once per presentation; reconnect after errors, never give up."""
        while not self._closed:
            try:
                dev = await asyncio.to_thread(Pn532, self.port, self.baudrate)
            except (OSError, serial.SerialException) as exc:
                log.warning("PN532 on %s: %s; retrying", self.port, exc)
                await asyncio.sleep(2.0)
                continue
            try:
                log.info("PN532 on %s: %s", self.port, await asyncio.to_thread(dev.setup))
                present: str | None = None
                while not self._closed:
                    uid = await asyncio.to_thread(dev.poll)
                    if uid is not None and uid != present:
                        yield CardTap(uid=uid, reader=f"pn532:{self.port}")
                    present = uid
                    await asyncio.sleep(self.interval_s)
            except (Pn532Error, OSError, serial.SerialException) as exc:
                log.warning("PN532 on %s: %s; reconnecting", self.port, exc)
                await asyncio.sleep(1.0)
            finally:
                dev.close()

    async def close(self) -> None:
        self._closed = True
