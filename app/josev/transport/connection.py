"""One V2G connection (TCP or TLS): a stream of V2GTP messages and a writer.

The session layer (SECC or EVCC) drives it: `async for msg in conn`, `await conn.send(...)`.
Bad V2GTP headers are logged and skipped here, so the session never sees them [V2G2-800].
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable

from josev.transport.tls import session_group
from josev.v2gtp import (
    DEFAULT_MAX_PAYLOAD,
    TCP_PAYLOAD_TYPES,
    BadHeader,
    Message,
    Skipped,
    V2GTPParser,
    encode,
)

log = logging.getLogger(__name__)


class ConnectionClosed(ConnectionError):
    """The peer closed the connection (or it was replaced by a newer one)."""


class V2gConnection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        accepted: Iterable[int] = TCP_PAYLOAD_TYPES,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        name: str = "v2g",
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = V2GTPParser(accepted, max_payload)
        self.name = name
        self.ignored = 0
        peer = writer.get_extra_info("peername")
        self.peer: tuple[object, ...] = tuple(peer) if peer else ()
        local = writer.get_extra_info("sockname")
        self.local: tuple[object, ...] = tuple(local) if local else ()
        sslobj: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
        self.tls_version: str | None = sslobj.version() if sslobj else None
        cipher = sslobj.cipher() if sslobj else None
        self.cipher: str | None = cipher[0] if cipher else None
        # the key-exchange group (TLS 1.3: secp521r1 or X448), None for TCP or if unreadable
        self.group: str | None = session_group(sslobj) if sslobj else None
        self.peer_certificate: bytes | None = (
            sslobj.getpeercert(binary_form=True) if sslobj else None
        )
        self.closed = asyncio.Event()

    def __repr__(self) -> str:
        host = self.peer[0] if self.peer else "?"
        return f"<V2gConnection {self.name} {host} {self.tls_version or 'TCP'}>"

    async def receive(self) -> Message:
        """The next valid V2GTP message; raises ConnectionClosed at the end of the stream."""
        while True:
            ev = self._parser.next_event()
            if isinstance(ev, Message):
                return ev
            if isinstance(ev, BadHeader | Skipped):
                self.ignored += 1
                log.warning("%s: ignored V2GTP message from %s: %s", self.name,
                            self.peer[0] if self.peer else "?",
                            ev.reason if isinstance(ev, BadHeader)
                            else f"unexpected payload type {ev.payload_type:#06x}")
                continue
            try:
                data = await self._reader.read(65536)
            except (ConnectionError, ssl.SSLError) as exc:
                self._mark_closed()
                raise ConnectionClosed(f"{self.name}: {exc}") from exc
            if not data:
                self._mark_closed()
                raise ConnectionClosed(f"{self.name}: peer closed the connection")
            self._parser.receive_data(data)

    def __aiter__(self) -> V2gConnection:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.receive()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def send(self, payload_type: int, payload: bytes) -> None:
        if self.closed.is_set():
            raise ConnectionClosed(f"{self.name}: connection is closed")
        self._writer.write(encode(payload_type, payload))
        try:
            await self._writer.drain()
        except (ConnectionError, ssl.SSLError) as exc:
            self._mark_closed()
            raise ConnectionClosed(f"{self.name}: {exc}") from exc

    async def send_raw(self, data: bytes) -> None:
        """Bytes as they are (tests and fault injection only)."""
        self._writer.write(data)
        await self._writer.drain()

    def _mark_closed(self) -> None:
        self.closed.set()

    async def close(self) -> None:
        self._mark_closed()
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass
