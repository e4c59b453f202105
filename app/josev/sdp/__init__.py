"""SECC Discovery Protocol (ISO 15118-2 clause 7.10): codec and sans-I/O EV-side client.

The request is 2 bytes (security, transport), the response 20 (SECC IPv6 address, TCP port,
security, transport), both inside a V2GTP header (payload types 0x9000/0x9001). The SECC
answers with the security it actually offers; the EV decides whether that is acceptable.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from josev.v2gtp import PayloadType, V2GTPError, encode, parse_datagram

__all__ = [
    "SDP_PORT",
    "SdpClient",
    "SdpError",
    "SdpRequest",
    "SdpResponse",
    "Security",
    "Transport",
    "answer",
]

SDP_PORT = 15118
ALL_NODES = ipaddress.IPv6Address("ff02::1")
# [V2G2-161]: the EVCC waits at least 250 ms for a response; [V2G2-162]: at most 50 requests.
SDP_RETRY_INTERVAL = 0.25
SDP_MAX_REQUESTS = 50
_RESPONSE = struct.Struct(">16sHBB")


class Security(enum.IntEnum):
    TLS = 0x00
    NO_TLS = 0x10


class Transport(enum.IntEnum):
    TCP = 0x00
    UDP = 0x10  # reserved by the standard; parsed so the SECC can echo it, never served


class SdpError(ValueError):
    """An SDP datagram that is not valid; it is ignored (and logged by the driver)."""


@dataclass(frozen=True, slots=True)
class SdpRequest:
    security: Security
    transport: Transport

    def encode(self) -> bytes:
        return encode(PayloadType.SDP_REQUEST, bytes((self.security, self.transport)))

    @classmethod
    def parse(cls, datagram: bytes) -> SdpRequest:
        try:
            msg = parse_datagram(datagram, {PayloadType.SDP_REQUEST}, max_payload=64)
        except V2GTPError as exc:
            raise SdpError(f"SDP request: {exc}") from exc
        if len(msg.payload) != 2:
            raise SdpError(f"SDP request payload is {len(msg.payload)} bytes, expected 2")
        return cls(_security(msg.payload[0]), _transport(msg.payload[1]))


@dataclass(frozen=True, slots=True)
class SdpResponse:
    address: ipaddress.IPv6Address
    port: int
    security: Security
    transport: Transport

    def encode(self) -> bytes:
        body = _RESPONSE.pack(self.address.packed, self.port, self.security, self.transport)
        return encode(PayloadType.SDP_RESPONSE, body)

    @classmethod
    def parse(cls, datagram: bytes) -> SdpResponse:
        try:
            msg = parse_datagram(datagram, {PayloadType.SDP_RESPONSE}, max_payload=64)
        except V2GTPError as exc:
            raise SdpError(f"SDP response: {exc}") from exc
        if len(msg.payload) != _RESPONSE.size:
            raise SdpError(f"SDP response payload is {len(msg.payload)} bytes, expected 20")
        addr, port, sec, tr = _RESPONSE.unpack(msg.payload)
        if port == 0:
            raise SdpError("SDP response announces TCP port 0")
        return cls(ipaddress.IPv6Address(addr), port, _security(sec), _transport(tr))


def _security(value: int) -> Security:
    try:
        return Security(value)
    except ValueError:
        raise SdpError(f"unknown SDP security value {value:#04x}") from None


def _transport(value: int) -> Transport:
    try:
        return Transport(value)
    except ValueError:
        raise SdpError(f"unknown SDP transport value {value:#04x}") from None


def answer(
    request: SdpRequest,
    address: ipaddress.IPv6Address,
    tls_port: int | None,
    tcp_port: int | None,
) -> SdpResponse | None:
    """The SECC's answer: what it actually offers, nearest to what was asked.

    A station without TLS answers a TLS request with NO_TLS (the EV decides whether it goes on);
    a TLS-only station answers a NO_TLS request with TLS. The transport is echoed. None when
    the station serves nothing the request could use (UDP transport), so no answer is sent.
    """
    if request.transport is not Transport.TCP:
        return None
    if request.security is Security.TLS and tls_port is not None:
        return SdpResponse(address, tls_port, Security.TLS, request.transport)
    if tcp_port is not None:
        return SdpResponse(address, tcp_port, Security.NO_TLS, request.transport)
    if tls_port is not None:
        return SdpResponse(address, tls_port, Security.TLS, request.transport)
    return None


class SdpClient:
    """EV side: resend the request every >= 250 ms, give up after 50 requests.

    Sans-I/O: the driver sends `datagram_to_send()` whenever it is not None, calls
    `handle_timer(now)` at `get_timer()`, and feeds replies to `receive_datagram()`.
    """

    def __init__(
        self,
        security: Security = Security.TLS,
        interval: float = SDP_RETRY_INTERVAL,
        max_requests: int = SDP_MAX_REQUESTS,
    ) -> None:
        self.request = SdpRequest(security, Transport.TCP)
        self._interval = interval
        self._max = max_requests
        self.sent = 0
        self._deadline: float | None = None
        self._pending = False
        self.response: SdpResponse | None = None
        self.failed = False
        self.ignored: list[str] = []

    def start(self, now: float) -> None:
        self._send(now)

    def _send(self, now: float) -> None:
        self.sent += 1
        self._pending = True
        self._deadline = now + self._interval

    def datagram_to_send(self) -> bytes | None:
        if not self._pending:
            return None
        self._pending = False
        return self.request.encode()

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline or self.done:
            return
        if self.sent >= self._max:
            self.failed = True
            self._deadline = None
            return
        self._send(now)

    def receive_datagram(self, data: bytes, now: float) -> SdpResponse | None:
        """A valid response ends discovery; anything else is recorded and ignored."""
        if self.done:
            return None
        try:
            resp = SdpResponse.parse(data)
        except SdpError as exc:
            self.ignored.append(str(exc))
            return None
        self.response = resp
        self._deadline = None
        return resp

    @property
    def done(self) -> bool:
        return self.response is not None or self.failed
