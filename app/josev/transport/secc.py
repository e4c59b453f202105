"""The SECC's transport: SDP server plus TCP and/or TLS listeners on the PLC interface.

`serve_secc(config, on_connection)` starts everything and calls `on_connection(conn)` (a
coroutine) for each established connection. One connection per EVSE: when a new connection
completes its handshake, the previous one is closed: an EV that lost its connection comes back
through SDP with a new one, and resuming the session (same SessionID) is the session layer's job.
A peer that stalls in the handshake only occupies its own task, bounded by the handshake
timeout, so the next EV is served at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from josev.sdp import SDP_PORT
from josev.sdp.server import SdpServer
from josev.transport.connection import V2gConnection
from josev.transport.iface import PlcInterface
from josev.transport.tls import (
    TLS13_GROUPS,
    ClientHelloInfo,
    TlsPolicyError,
    TlsProfile,
    TlsServerConfig,
    check_session,
    client_hello_max_version,
    describe_error,
    parse_client_hello,
    server_context,
)
from josev.v2gtp import DEFAULT_MAX_PAYLOAD

log = logging.getLogger(__name__)

OnConnection = Callable[[V2gConnection], Awaitable[None]]
# The SECC's TCP port comes from the dynamic range (ISO 15118-2 Table 15).
PORT_RANGE = (49152, 65535)


@dataclass(frozen=True)
class SeccConfig:
    iface: PlcInterface
    tls: TlsServerConfig | None = None
    allow_plain: bool = True
    tls_port: int | None = None   # None: a free port from 49152-65535
    tcp_port: int | None = None
    sdp: bool = True
    sdp_port: int = SDP_PORT
    handshake_timeout: float = 5.0
    max_payload: int = DEFAULT_MAX_PAYLOAD
    evse_id: str = "1"


def _listen(iface: PlcInterface, port: int | None) -> socket.socket:
    """A listening socket on the link-local address; random dynamic port unless given."""
    attempts = [port] if port else [random.randint(*PORT_RANGE) for _ in range(20)]
    last: OSError | None = None
    for p in attempts:
        sock = iface.socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(iface.sockaddr(p))
            sock.listen(8)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise OSError(f"no free TCP port on {iface.name}: {last}")


async def _peek(sock: socket.socket, deadline: float) -> bytes:
    """The ClientHello bytes without consuming them (TLS then reads them itself)."""
    loop = asyncio.get_running_loop()
    size = 2048
    while True:
        try:
            data = sock.recv(size, socket.MSG_PEEK)
        except BlockingIOError:
            data = None
        if data == b"":
            raise ConnectionError("peer closed before the ClientHello")
        if data:
            if client_hello_max_version(data) is not None:
                return data
            if len(data) >= size:
                size *= 2
                if size > 1 << 15:
                    raise ValueError("ClientHello larger than 32 kB")
                continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError("no complete ClientHello")
        if data:
            await asyncio.sleep(min(0.01, remaining))  # partial: readable stays true
            continue
        fut: asyncio.Future[None] = loop.create_future()

        def readable(f: asyncio.Future[None] = fut) -> None:
            if not f.done():
                f.set_result(None)

        loop.add_reader(sock.fileno(), readable)
        try:
            await asyncio.wait_for(fut, remaining)
        finally:
            loop.remove_reader(sock.fileno())


class SeccServer:
    def __init__(self, config: SeccConfig, on_connection: OnConnection) -> None:
        self.config = config
        self._on_connection = on_connection
        self._contexts: dict[TlsProfile, ssl.SSLContext] = {}
        self._listeners: list[socket.socket] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.tls_port: int | None = None
        self.tcp_port: int | None = None
        self.sdp: SdpServer | None = None
        self.current: V2gConnection | None = None
        self._current_task: asyncio.Task[None] | None = None
        self.refused = 0

    async def start(self) -> None:
        cfg = self.config
        if cfg.tls is not None:
            if cfg.tls.tls12 is not None:
                self._contexts[TlsProfile.TLS12] = server_context(TlsProfile.TLS12, cfg.tls.tls12)
            if cfg.tls.tls13 is not None:
                self._contexts[TlsProfile.TLS13] = server_context(TlsProfile.TLS13, cfg.tls.tls13)
        if self._contexts:
            sock = _listen(cfg.iface, cfg.tls_port)
            self._listeners.append(sock)
            self.tls_port = sock.getsockname()[1]
            self._spawn(self._accept_loop(sock, tls=True))
        if cfg.allow_plain:
            sock = _listen(cfg.iface, cfg.tcp_port)
            self._listeners.append(sock)
            self.tcp_port = sock.getsockname()[1]
            self._spawn(self._accept_loop(sock, tls=False))
        if not self._listeners:
            raise ValueError("SECC configured with neither TLS nor plain TCP")
        if cfg.sdp:
            self.sdp = SdpServer(cfg.iface, lambda: self.tls_port, lambda: self.tcp_port,
                                 cfg.sdp_port)
            await self.sdp.start()
        log.info("SECC %s on %s: TLS port %s (%s), TCP port %s", cfg.evse_id, cfg.iface.name,
                 self.tls_port, ",".join(p.name for p in self._contexts) or "-", self.tcp_port)

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept_loop(self, listener: socket.socket, tls: bool) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, addr = await loop.sock_accept(listener)
            except OSError as exc:
                log.warning("SECC accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            self._spawn(self._serve_one(conn, addr, tls))

    def _choose_context(self, hello: bytes) -> ssl.SSLContext:
        version = client_hello_max_version(hello)
        if version is not None and version >= 0x0304 and TlsProfile.TLS13 in self._contexts:
            return self._contexts[TlsProfile.TLS13]
        if TlsProfile.TLS12 in self._contexts:
            return self._contexts[TlsProfile.TLS12]
        return self._contexts[TlsProfile.TLS13]

    def _explain(self, exc: BaseException, ctx: ssl.SSLContext | None, hello: bytes) -> str:
        """describe_error, plus what the EV offered when a -20 handshake found no group."""
        text = describe_error(exc)
        if ctx is None or ctx is not self._contexts.get(TlsProfile.TLS13):
            return text
        try:
            info: ClientHelloInfo | None = parse_client_hello(hello)
        except ValueError:
            return text
        if info is not None and not set(info.group_names) & set(TLS13_GROUPS):
            offered = ", ".join(info.group_names) or "none"
            text = (f"no common key-exchange group: the EV offers {offered}; ISO 15118-20 "
                    f"allows {', '.join(TLS13_GROUPS)} ({text})")
        return text

    async def _serve_one(self, sock: socket.socket, addr: tuple[object, ...], tls: bool) -> None:
        loop = asyncio.get_running_loop()
        peer = addr[0]
        timeout = self.config.handshake_timeout
        reader = asyncio.StreamReader(limit=2**17)
        protocol = asyncio.StreamReaderProtocol(reader)
        ctx: ssl.SSLContext | None = None
        hello = b""
        try:
            if tls:
                hello = await _peek(sock, loop.time() + timeout)
                ctx = self._choose_context(hello)
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=ctx,
                ssl_handshake_timeout=timeout if ctx is not None else None,
            )
        except (OSError, ssl.SSLError, TimeoutError, ValueError) as exc:
            self.refused += 1
            log.warning("SECC %s: connection from %s refused: %s", self.config.evse_id, peer,
                        self._explain(exc, ctx, hello))
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is not None:
            try:
                check_session(sslobj, self.config.tls.max_non_root_certs if self.config.tls
                              else 3)
            except TlsPolicyError as exc:
                self.refused += 1
                log.warning("SECC %s: TLS session from %s refused: %s", self.config.evse_id,
                            peer, describe_error(exc))
                writer.close()
                return
        conn = V2gConnection(writer=writer, reader=reader, max_payload=self.config.max_payload,
                             name=f"secc-{self.config.evse_id}")
        previous, prev_task = self.current, self._current_task
        self.current = conn
        self._current_task = asyncio.current_task()
        if previous is not None and not previous.closed.is_set():
            log.info("SECC %s: new connection from %s replaces the one from %s",
                     self.config.evse_id, peer, previous.peer[0] if previous.peer else "?")
            await previous.close()
        if prev_task is not None and not prev_task.done():
            prev_task.cancel()
        log.info("SECC %s: connection from %s (%s %s %s)", self.config.evse_id, peer,
                 conn.tls_version or "TCP", conn.cipher or "", conn.group or "")
        try:
            await self._on_connection(conn)
        except Exception:
            log.exception("SECC %s: connection handler failed", self.config.evse_id)
        finally:
            await conn.close()
            if self.current is conn:
                self.current = None

    async def close(self) -> None:
        if self.sdp is not None:
            self.sdp.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sock in self._listeners:
            sock.close()
        self._listeners.clear()

    async def __aenter__(self) -> SeccServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve_secc(config: SeccConfig, on_connection: OnConnection) -> SeccServer:
    """Start SDP and the listeners; returns the running server (close() it when done)."""
    server = SeccServer(config, on_connection)
    try:
        await server.start()
    except BaseException:
        await server.close()
        raise
    return server
