"""SDP asyncio drivers: the SECC's UDP server and the EV's discovery client."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import cast

from josev.sdp import (
    ALL_NODES,
    SDP_PORT,
    SdpClient,
    SdpError,
    SdpRequest,
    SdpResponse,
    Security,
    answer,
)
from josev.transport.iface import PlcInterface

log = logging.getLogger(__name__)


class SdpUnanswered(TimeoutError):
    """No SECC answered the EV's SDP requests (50 tries)."""


def _join_all_nodes(sock: socket.socket, index: int) -> None:
    mreq = ALL_NODES.packed + index.to_bytes(4, "little")
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)


class _SeccProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: SdpServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        reply = self.server.handle(data, addr)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.warning("SDP server socket error: %s", exc)


class SdpServer:
    """Answers SDP requests on one PLC interface.

    The socket is bound to ff02::1 with the interface's scope id (port 15118): that is the one
    address SDP requests go to, and the scope ties the socket to the PLC interface, so several
    EVSEs on one host each answer only their own link. (Bound to the unicast link-local address
    the kernel would not deliver multicast to it.) Replies leave from the link-local address.
    """

    def __init__(
        self,
        iface: PlcInterface,
        tls_port: Callable[[], int | None],
        tcp_port: Callable[[], int | None],
        port: int = SDP_PORT,
    ) -> None:
        self.iface = iface
        self._tls_port = tls_port
        self._tcp_port = tcp_port
        self.port = port
        self.answered = 0
        self.ignored = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        sock = self.iface.socket(socket.AF_INET6, socket.SOCK_DGRAM, 0)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((str(ALL_NODES), self.port, 0, self.iface.index))
            _join_all_nodes(sock, self.iface.index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.iface.index)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _SeccProtocol(self), sock=sock)
        self._transport = transport
        log.info("SDP server on [ff02::1%%%s]:%d", self.iface.name, self.port)

    def handle(self, data: bytes, addr: tuple[object, ...]) -> bytes | None:
        try:
            req = SdpRequest.parse(data)
        except SdpError as exc:
            self.ignored += 1
            log.warning("SDP: ignored datagram from %s: %s", addr[0], exc)
            return None
        resp = answer(req, self.iface.link_local, self._tls_port(), self._tcp_port())
        if resp is None:
            self.ignored += 1
            log.warning("SDP: no service for %s from %s", req, addr[0])
            return None
        self.answered += 1
        log.info(
            "SDP: %s asked %s/%s, answered %s port %d",
            addr[0], req.security.name, req.transport.name, resp.security.name, resp.port,
        )
        return resp.encode()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class _EvProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.queue.put_nowait(data)


async def discover(
    iface: PlcInterface,
    security: Security = Security.TLS,
    port: int = SDP_PORT,
    client: SdpClient | None = None,
) -> SdpResponse:
    """EV side: multicast SDP requests on the PLC interface until a SECC answers."""
    client = client or SdpClient(security)
    loop = asyncio.get_running_loop()
    sock = iface.socket(socket.AF_INET6, socket.SOCK_DGRAM, 0)
    sock.bind(iface.sockaddr(0))
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, iface.index)
    sock.setblocking(False)
    transport, proto = await loop.create_datagram_endpoint(_EvProtocol, sock=sock)
    dest = (str(ALL_NODES), port, 0, iface.index)
    try:
        client.start(loop.time())
        while not client.done:
            out = client.datagram_to_send()
            if out is not None:
                transport.sendto(out, dest)
            deadline = client.get_timer()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                data = await asyncio.wait_for(proto.queue.get(), timeout)
            except TimeoutError:
                client.handle_timer(loop.time())
                continue
            if client.receive_datagram(data, loop.time()) is None and client.ignored:
                log.warning("SDP client: ignored reply: %s", client.ignored[-1])
    finally:
        transport.close()
    if client.response is None:
        raise SdpUnanswered(f"no SDP response after {client.sent} requests")
    log.info("SDP: SECC at [%s]:%d %s", client.response.address, client.response.port,
             client.response.security.name)
    return client.response
