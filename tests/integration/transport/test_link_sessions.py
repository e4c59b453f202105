"""SDP, TCP, TLS 1.2 and TLS 1.3 between an EV namespace and an EVSE namespace (real veth)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from josev import netsim
from josev.pki import create_pki
from josev.transport.connection import ConnectionClosed, V2gConnection
from josev.transport.evcc import EvccConfig, EvccConnectError, connect_evcc
from josev.transport.secc import SeccConfig, SeccServer, serve_secc
from josev.transport.tls import TlsProfile, TlsServerConfig, client_credentials_from_store
from josev.v2gtp import PayloadType

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_pki(tmp_path_factory.mktemp("pki"))


async def echo(conn: V2gConnection) -> None:
    """A stand-in session layer: answer every message with its payload reversed."""
    async for msg in conn:
        await conn.send(msg.payload_type, msg.payload[::-1])


@pytest.fixture
async def secc_factory(
    link: netsim.Link,
) -> AsyncIterator[Callable[..., Awaitable[SeccServer]]]:
    servers: list[SeccServer] = []

    async def make(**kw: object) -> SeccServer:
        handler = kw.pop("handler", echo)
        cfg = SeccConfig(iface=link.evse.plc_interface(), handshake_timeout=2.0, **kw)  # type: ignore[arg-type]
        server = await serve_secc(cfg, handler)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for s in servers:
        await s.close()


async def roundtrip(conn: V2gConnection, payload: bytes = b"\x80hello") -> bytes:
    await conn.send(PayloadType.EXI, payload)
    msg = await asyncio.wait_for(conn.receive(), 5)
    return msg.payload


async def test_sdp_and_plain_tcp(
    link: netsim.Link, secc_factory: Callable[..., Awaitable[SeccServer]]
) -> None:
    server = await secc_factory(allow_plain=True)
    conn = await connect_evcc(EvccConfig(iface=link.ev.plc_interface(), profile=None))
    assert conn.tls_version is None
    assert conn.peer[0] == link.evse.link_local
    assert conn.peer[1] == server.tcp_port
    assert await roundtrip(conn) == b"olleh\x80"
    await conn.close()


async def test_tls_request_to_station_without_tls_gets_no_tls(
    link: netsim.Link, secc_factory: Callable[..., Awaitable[SeccServer]], store: Path
) -> None:
    await secc_factory(allow_plain=True)
    creds = client_credentials_from_store(store, TlsProfile.TLS12)
    strict = EvccConfig(iface=link.ev.plc_interface(), profile=TlsProfile.TLS12,
                        credentials=creds)
    with pytest.raises(EvccConnectError, match="offers no TLS"):
        await connect_evcc(strict)
    lenient = EvccConfig(iface=link.ev.plc_interface(), profile=TlsProfile.TLS12,
                         credentials=creds, accept_no_tls=True)
    conn = await connect_evcc(lenient)
    assert conn.tls_version is None
    await conn.close()


@pytest.mark.parametrize(
    ("profile", "version", "ciphers"),
    [
        (TlsProfile.TLS12, "TLSv1.2", {"ECDHE-ECDSA-AES128-SHA256"}),
        (TlsProfile.TLS13, "TLSv1.3", {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}),
    ],
)
async def test_sdp_then_tls_handshake_and_v2g_exchange(
    link: netsim.Link,
    secc_factory: Callable[..., Awaitable[SeccServer]],
    store: Path,
    profile: TlsProfile,
    version: str,
    ciphers: set[str],
) -> None:
    """The 'done when' case: SDP then TLS (1.2 for -2, 1.3 mutual for -20) on one port."""
    seen: list[V2gConnection] = []

    async def handler(conn: V2gConnection) -> None:
        seen.append(conn)
        await echo(conn)

    server = await secc_factory(tls=TlsServerConfig.from_store(store), allow_plain=False,
                                handler=handler)
    cfg = EvccConfig(iface=link.ev.plc_interface(), profile=profile,
                     credentials=client_credentials_from_store(store, profile))
    conn = await connect_evcc(cfg)
    assert conn.tls_version == version
    assert conn.cipher in ciphers
    assert conn.peer[1] == server.tls_port
    assert await roundtrip(conn) == b"olleh\x80"
    assert server.sdp is not None and server.sdp.answered == 1
    # -20 is mutual: the SECC saw the vehicle certificate; -2 is server-only
    assert (seen[0].peer_certificate is not None) == (profile is TlsProfile.TLS13)
    assert seen[0].tls_version == version
    await conn.close()


async def test_bad_v2gtp_headers_are_ignored_not_fatal(
    link: netsim.Link, secc_factory: Callable[..., Awaitable[SeccServer]], store: Path
) -> None:
    seen: list[V2gConnection] = []

    async def handler(conn: V2gConnection) -> None:
        seen.append(conn)
        await echo(conn)

    await secc_factory(tls=TlsServerConfig.from_store(store), allow_plain=False, handler=handler)
    cfg = EvccConfig(iface=link.ev.plc_interface(), profile=TlsProfile.TLS12,
                     credentials=client_credentials_from_store(store, TlsProfile.TLS12))
    conn = await connect_evcc(cfg)
    await conn.send_raw(b"\x02\xfd\x80\x01\x00\x00\x00\x01x")       # wrong version
    await conn.send_raw(b"\x01\xfe\x12\x34\x00\x00\x00\x02yy")      # unknown payload type
    await conn.send_raw(b"\x01\xfe\x80\x01\x7f\xff\xff\xff")        # length beyond maximum
    assert await roundtrip(conn, b"\x80ok") == b"ko\x80"            # still connected
    assert seen[0].ignored == 3
    await conn.close()


async def test_new_connection_after_a_drop_is_served(
    link: netsim.Link, secc_factory: Callable[..., Awaitable[SeccServer]]
) -> None:
    server = await secc_factory(allow_plain=True)
    cfg = EvccConfig(iface=link.ev.plc_interface(), profile=None)
    first = await connect_evcc(cfg)
    assert await roundtrip(first) == b"olleh\x80"
    second = await connect_evcc(cfg)  # e.g. the EV lost the first one and came back
    assert await roundtrip(second) == b"olleh\x80"
    assert server.current is not None and server.current.peer[1] == second.local[1]
    # one connection per EVSE: the first one was closed by the SECC
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(first.receive(), 5)
    await second.close()


async def test_sdp_without_a_secc_gives_up(link: netsim.Link) -> None:
    cfg = EvccConfig(iface=link.ev.plc_interface(), profile=None, sdp_interval=0.01,
                     sdp_max_requests=3)
    from josev.sdp.server import SdpUnanswered

    with pytest.raises(SdpUnanswered, match="after 3 requests"):
        await connect_evcc(cfg)


async def test_garbled_sdp_request_is_ignored_and_logged(
    link: netsim.Link, secc_factory: Callable[..., Awaitable[SeccServer]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    server = await secc_factory(allow_plain=True)
    sock = link.ev.netns.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(link.ev.sockaddr(0))
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, link.ev.ifindex)
    with caplog.at_level(logging.WARNING, logger="josev.sdp.server"):
        garbled = b"\x01\xfe\x90\x00\x00\x00\x00\x02\x55\x00"
        sock.sendto(garbled, ("ff02::1", 15118, 0, link.ev.ifindex))
        conn = await connect_evcc(EvccConfig(iface=link.ev.plc_interface(), profile=None))
    assert server.sdp is not None and server.sdp.ignored == 1
    assert "unknown SDP security value 0x55" in caplog.text
    sock.close()
    await conn.close()
