"""ISO 15118-20 TLS 1.3 key exchange on real sockets across the veth link: our SECC and our EV
offer both secp521r1 and X448; a client or server limited to either one still completes the
handshake, with that group; a client offering only groups -20 does not allow is refused with a
clear log line. The negotiated group is read from OpenSSL on both ends, and independently by
`openssl s_client` (its "Server Temp Key" line)."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from josev import netsim
from josev.pki import create_pki
from josev.sdp import SdpResponse, Security, Transport
from josev.transport.connection import V2gConnection
from josev.transport.evcc import EvccConfig, connect_evcc, connect_to
from josev.transport.secc import SeccConfig, SeccServer, serve_secc
from josev.transport.tls import (
    TLS13_GROUPS,
    TlsProfile,
    TlsServerConfig,
    client_context,
    client_credentials_from_store,
)
from josev.v2gtp import PayloadType
from tests.requirements import require_tools

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def servers() -> AsyncIterator[list[SeccServer]]:
    out: list[SeccServer] = []
    yield out
    for s in out:
        await s.close()


async def echo(conn: V2gConnection) -> None:
    async for msg in conn:
        await conn.send(msg.payload_type, msg.payload)


async def wait_for(cond: Callable[[], bool]) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def logged(caplog: pytest.LogCaptureFixture, text: str, times: int) -> Callable[[], bool]:
    return lambda: caplog.text.count(text) >= times


async def start_secc(link: netsim.Link, tls: TlsServerConfig) -> SeccServer:
    return await serve_secc(SeccConfig(link.evse.plc_interface(), tls=tls, allow_plain=False,
                                       handshake_timeout=3.0), echo)


@pytest.mark.parametrize("group", TLS13_GROUPS)
async def test_secc_accepts_a_client_limited_to_either_group(
    link: netsim.Link, store: Path, servers: list[SeccServer], group: str,
) -> None:
    server = await start_secc(link, TlsServerConfig.from_store(store))
    servers.append(server)
    creds = replace(client_credentials_from_store(store, TlsProfile.TLS13), group=group)
    conn = await connect_evcc(EvccConfig(link.ev.plc_interface(), profile=TlsProfile.TLS13,
                                         credentials=creds))
    try:
        await conn.send(PayloadType.EXI, b"\x80g")
        assert (await asyncio.wait_for(conn.receive(), 5)).payload == b"\x80g"
        assert conn.tls_version == "TLSv1.3"
        assert conn.group == group
        assert server.current is not None and server.current.group == group
    finally:
        await conn.close()


@pytest.mark.parametrize("group", TLS13_GROUPS)
async def test_our_ev_is_accepted_by_a_server_limited_to_either_group(
    link: netsim.Link, store: Path, servers: list[SeccServer], group: str,
) -> None:
    tls = TlsServerConfig.from_store(store, tls12=False)
    assert tls.tls13 is not None
    server = await start_secc(link, replace(tls, tls13=replace(tls.tls13, group=group)))
    servers.append(server)
    conn = await connect_evcc(EvccConfig(
        link.ev.plc_interface(), profile=TlsProfile.TLS13,
        credentials=client_credentials_from_store(store, TlsProfile.TLS13)))
    try:
        await conn.send(PayloadType.EXI, b"\x80e")
        assert (await asyncio.wait_for(conn.receive(), 5)).payload == b"\x80e"
        assert conn.group == group
    finally:
        await conn.close()


@pytest.mark.parametrize("groups", ["prime256v1", "X25519:prime256v1:secp384r1"])
async def test_secc_refuses_a_client_without_an_iso20_group(
    link: netsim.Link, store: Path, servers: list[SeccServer],
    caplog: pytest.LogCaptureFixture, groups: str,
) -> None:
    server = await start_secc(link, TlsServerConfig.from_store(store))
    servers.append(server)
    assert server.tls_port is not None
    ctx = client_context(TlsProfile.TLS13, client_credentials_from_store(store, TlsProfile.TLS13))
    from josev.transport import ossl

    ossl.set_groups(ctx, groups.split(":"))  # the EV's offer, not ours
    sock = link.ev.netns.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, link.evse.sockaddr(server.tls_port))
    with caplog.at_level(logging.WARNING, logger="josev.transport"):
        with pytest.raises(OSError):  # an alert (SSLError) or a reset, as the timing falls
            await asyncio.open_connection(sock=sock, ssl=ctx, server_hostname="",
                                          ssl_handshake_timeout=3.0)
        await wait_for(lambda: server.refused == 1)
    offered = groups.replace(":", ", ")
    assert (f"no common key-exchange group: the EV offers {offered}; ISO 15118-20 allows "
            "secp521r1, X448") in caplog.text
    assert server.current is None
    sock.close()


def openssl_s_client(link: netsim.Link, store: Path, port: int, group: str) -> str:
    d = store / "iso20"
    # -cert sends the leaf only: the Sub-CAs go in -cert_chain
    pem = (d / "vehicle_chain.pem").read_text()
    marker = "-----BEGIN CERTIFICATE-----"
    subs = d / "vehicle_subcas.pem"
    subs.write_text(marker + marker.join(pem.split(marker)[2:]))
    argv = ["openssl", "s_client", "-connect", f"[{link.evse.link_local}%{link.ev.ifname}]:{port}",
            "-tls1_3", "-groups", group, "-CAfile", str(d / "v2g_root.pem"),
            "-cert", str(d / "vehicle_chain.pem"), "-cert_chain", str(subs),
            "-key", str(d / "vehicle.key"), "-verify_return_error", "-brief"]
    proc = subprocess.run(link.ev.netns.argv(argv), input=b"", capture_output=True, timeout=20)
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


async def test_openssl_s_client_sees_each_group(
    link: netsim.Link, store: Path, servers: list[SeccServer], caplog: pytest.LogCaptureFixture,
) -> None:
    """An implementation we did not configure (the openssl CLI, one group at a time, with the
    vehicle chain) reports the group the server used; the SECC accepts it (no refusal)."""
    require_tools("openssl", package="openssl")
    server = await start_secc(link, TlsServerConfig.from_store(store))
    servers.append(server)
    assert server.tls_port is not None
    with caplog.at_level(logging.INFO, logger="josev.transport"):
        for n, (group, shown) in enumerate((("secp521r1", "ECDH, secp521r1, 521 bits"),
                                            ("X448", "X448, 448 bits"))):
            out = await asyncio.to_thread(openssl_s_client, link, store, server.tls_port, group)
            assert "Protocol version: TLSv1.3" in out, out
            assert f"Server Temp Key: {shown}" in out, out
            await wait_for(logged(caplog, "(TLSv1.3 TLS_AES_256_GCM_SHA384", n + 1))
            assert f"TLS_AES_256_GCM_SHA384 {group})" in caplog.text
        assert server.refused == 0, caplog.text
        out = await asyncio.to_thread(openssl_s_client, link, store, server.tls_port, "P-256")
        assert "Protocol version: TLSv1.3" not in out
        await wait_for(lambda: server.refused == 1)
    assert "the EV offers prime256v1; ISO 15118-20 allows secp521r1, X448" in caplog.text


async def test_connect_to_names_the_group_in_its_log(
    link: netsim.Link, store: Path, servers: list[SeccServer], caplog: pytest.LogCaptureFixture,
) -> None:
    server = await start_secc(link, TlsServerConfig.from_store(store))
    servers.append(server)
    assert server.tls_port is not None
    import ipaddress

    resp = SdpResponse(ipaddress.IPv6Address(link.evse.link_local), server.tls_port,
                       Security.TLS, Transport.TCP)
    with caplog.at_level(logging.INFO, logger="josev.transport"):
        conn = await connect_to(EvccConfig(
            link.ev.plc_interface(), profile=TlsProfile.TLS13,
            credentials=client_credentials_from_store(store, TlsProfile.TLS13)), resp)
        await wait_for(lambda: server.current is not None)
    await conn.close()
    assert "TLSv1.3 TLS_AES_256_GCM_SHA384 secp521r1" in caplog.text
