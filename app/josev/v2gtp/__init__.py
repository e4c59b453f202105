"""V2GTP (ISO 15118-2 clause 7.8): the 8-byte header that frames every V2G message.

Sans-I/O: `V2GTPParser` takes bytes from a TCP stream and hands back events; `encode` frames a
payload. A bad header is ignored, never fatal [V2G2-800]: the parser resynchronises on the next
plausible header and reports what it skipped, so a session survives a garbled message.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "HEADER",
    "HEADER_LEN",
    "PROTOCOL_VERSION",
    "BadHeader",
    "Message",
    "PayloadType",
    "Skipped",
    "V2GTPError",
    "V2GTPEvent",
    "V2GTPParser",
    "encode",
    "parse_datagram",
]

PROTOCOL_VERSION = 0x01
INVERSE_VERSION = 0xFE
HEADER = struct.Struct(">BBHI")
HEADER_LEN = HEADER.size  # 8
# The largest V2G message in practice is a CertificateInstallationRes (a few kB); 64 kB leaves
# room for long -20 chains while refusing the multi-GB lengths a garbled header announces.
DEFAULT_MAX_PAYLOAD = 64 * 1024


class PayloadType(enum.IntEnum):
    """V2GTP payload types (ISO 15118-2 Table 10, ISO 15118-20 Table 12)."""

    EXI = 0x8001  # supportedAppProtocol, DIN 70121, ISO 15118-2
    EXI_20_COMMON = 0x8002
    EXI_20_AC = 0x8003
    EXI_20_DC = 0x8004
    EXI_20_ACDP = 0x8005
    EXI_20_WPT = 0x8006
    SCHEDULE_RENEGOTIATION = 0x8101
    METERING_CONFIRMATION = 0x8102
    ACDP_SYSTEM_STATUS = 0x8103
    PARKING_STATUS = 0x8104
    SDP_REQUEST = 0x9000
    SDP_RESPONSE = 0x9001
    SDP_REQUEST_WIRELESS = 0x9002
    SDP_RESPONSE_WIRELESS = 0x9003


TCP_PAYLOAD_TYPES: frozenset[int] = frozenset(int(p) for p in PayloadType if p < 0x9000)


class V2GTPError(ValueError):
    """A datagram or header that is not valid V2GTP; the message is ignored, not the peer."""


@dataclass(frozen=True, slots=True)
class Message:
    """One complete V2GTP message."""

    payload_type: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class BadHeader:
    """A header was refused; `skipped` bytes were dropped to resynchronise."""

    reason: str
    header: bytes
    skipped: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """The payload of a refused message (known length, unexpected type) was discarded."""

    payload_type: int
    length: int


V2GTPEvent = Message | BadHeader | Skipped


def encode(payload_type: int, payload: bytes) -> bytes:
    """Frame one payload."""
    if not 0 <= payload_type <= 0xFFFF:
        raise ValueError(f"payload type {payload_type:#x} out of range")
    if len(payload) > 0xFFFFFFFF:
        raise ValueError("payload too long for V2GTP")
    return HEADER.pack(PROTOCOL_VERSION, INVERSE_VERSION, payload_type, len(payload)) + payload


def check_header(
    header: bytes, accepted: Iterable[int], max_payload: int
) -> tuple[int, int]:
    """Validate an 8-byte header; returns (payload type, length) or raises V2GTPError."""
    version, inverse, ptype, length = HEADER.unpack(header)
    if version != PROTOCOL_VERSION or inverse != INVERSE_VERSION:
        raise V2GTPError(f"wrong protocol version {version:#04x}/{inverse:#04x}")
    if ptype not in accepted:
        raise V2GTPError(f"unexpected payload type {ptype:#06x}")
    if length > max_payload:
        raise V2GTPError(f"payload length {length} exceeds the maximum {max_payload}")
    return ptype, length


def parse_datagram(
    data: bytes, accepted: Iterable[int], max_payload: int = DEFAULT_MAX_PAYLOAD
) -> Message:
    """Parse one UDP datagram (SDP): the header length must match the datagram exactly."""
    if len(data) < HEADER_LEN:
        raise V2GTPError(f"datagram of {len(data)} bytes is shorter than a V2GTP header")
    ptype, length = check_header(data[:HEADER_LEN], accepted, max_payload)
    if length != len(data) - HEADER_LEN:
        raise V2GTPError(
            f"payload length {length} does not match the datagram ({len(data) - HEADER_LEN})"
        )
    return Message(ptype, bytes(data[HEADER_LEN:]))


class V2GTPParser:
    """Stream parser for one TCP connection.

    Rules [V2G2-800]: a header with a wrong version is not trusted at all, so the parser drops
    one byte and scans for the next 0x01 0xFE; a header with a valid version but an unexpected
    payload type announces a trustworthy length, so that payload is skipped as it streams in
    (never buffered); a length beyond `max_payload` is refused without allocating it and the
    parser resynchronises by scanning, because such a length is most likely garbage.
    """

    def __init__(
        self,
        accepted: Iterable[int] = TCP_PAYLOAD_TYPES,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        self._accepted = frozenset(accepted)
        self._max = max_payload
        self._buf = bytearray()
        self._discard = 0  # payload bytes still to drop (Skipped message)
        self._events: list[V2GTPEvent] = []

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a message (bounded by max_payload + 8)."""
        return len(self._buf)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the stream; complete messages become events."""
        if self._discard:
            n = min(self._discard, len(data))
            self._discard -= n
            data = data[n:]
        self._buf += data
        self._parse()

    def next_event(self) -> V2GTPEvent | None:
        """The next event, or None when more bytes are needed."""
        return self._events.pop(0) if self._events else None

    def events(self) -> list[V2GTPEvent]:
        """All pending events, oldest first."""
        out, self._events = self._events, []
        return out

    def _parse(self) -> None:
        buf = self._buf
        while not self._discard and len(buf) >= HEADER_LEN:
            version, inverse, ptype, length = HEADER.unpack_from(buf)
            header = bytes(buf[:HEADER_LEN])
            if version != PROTOCOL_VERSION or inverse != INVERSE_VERSION:
                skipped = self._resync(1)
                self._events.append(
                    BadHeader(
                        f"wrong protocol version {version:#04x}/{inverse:#04x}", header, skipped
                    )
                )
                continue
            if length > self._max:
                skipped = self._resync(HEADER_LEN)
                self._events.append(
                    BadHeader(
                        f"payload length {length} exceeds the maximum {self._max}",
                        header,
                        skipped,
                    )
                )
                continue
            if ptype not in self._accepted:
                available = min(length, len(buf) - HEADER_LEN)
                del buf[: HEADER_LEN + available]
                self._discard = length - available
                self._events.append(Skipped(ptype, length))
                continue
            if len(buf) < HEADER_LEN + length:
                return
            payload = bytes(buf[HEADER_LEN : HEADER_LEN + length])
            del buf[: HEADER_LEN + length]
            self._events.append(Message(ptype, payload))

    def _resync(self, start: int) -> int:
        """Drop bytes up to the next 0x01 0xFE at or after `start`; returns the count dropped."""
        buf = self._buf
        idx = buf.find(bytes((PROTOCOL_VERSION, INVERSE_VERSION)), start)
        if idx < 0:
            # Keep a trailing 0x01: it may be the first byte of the next header.
            idx = len(buf) - 1 if buf and buf[-1] == PROTOCOL_VERSION else len(buf)
            idx = max(idx, start) if start <= len(buf) else len(buf)
        del buf[:idx]
        return idx
