"""Certificates are always validated: bad chains are refused with a clear log line, and a
peer that stalls in the handshake does not block the next EV."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from josev import netsim
from josev.pki import Issued, chain, create_pki, issue, load, write, write_chain
from josev.transport.connection import V2gConnection
from josev.transport.evcc import EvccConfig, EvccConnectError, connect_evcc
from josev.transport.secc import SeccConfig, SeccServer, serve_secc
from josev.transport.tls import (
    TlsProfile,
    TlsServerConfig,
    client_context,
    client_credentials_from_store,
)
from josev.v2gtp import PayloadType

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_pki(tmp_path_factory.mktemp("pki"))


def variant(good: Path, tmp: Path, profile: str, prefix: str, leaf_first: list[Issued]) -> Path:
    """A copy of the good store where one chain (secc or vehicle) is replaced."""
    store = tmp / "store"
    shutil.copytree(good, store)
    write_chain(store / profile / f"{prefix}_chain.pem", leaf_first)
    write(store / profile, prefix, leaf_first[0])
    return store


def bad_chains(good: Path, profile: str, leaf: str, dc: str) -> dict[str, list[Issued]]:
    """leaf-first chains that must all be refused."""
    p = "iso2" if profile == "iso2" else "iso20"
    d = good / p
    sub1_name, sub2_name, root_name = (
        ("cpo_sub_ca1", "cpo_sub_ca2", "v2g_root") if leaf == "secc"
        else ("vehicle_sub_ca1", "vehicle_sub_ca2", "oem_root")
    )
    sub1, sub2, root = load(d, sub1_name), load(d, sub2_name), load(d, root_name)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = issue("expired", p, sub2, ca=False, dc=dc, not_before=past, days=1)  # type: ignore[arg-type]
    other = chain(p, ["Other Root", "Other Sub 1", "Other Sub 2", "wrong"], dc)  # type: ignore[arg-type]
    selfsigned = issue("selfsigned", p, None, ca=False, dc=dc)  # type: ignore[arg-type]
    longc = chain(p, ["-", "S1", "S2", "S3", "S4", "too long"], dc, root=root)  # type: ignore[arg-type]
    return {
        "expired": [expired, sub2, sub1],
        "wrong": [other[3], other[2], other[1]],
        "selfsigned": [selfsigned],
        "overlong": list(reversed(longc[1:])),
    }


REASONS = {
    "expired": "certificate has expired",
    "wrong": "unable to get local issuer certificate",
    "selfsigned": "self-signed certificate",
    "overlong": "5 non-root certificates, at most 3 allowed",
}


async def echo(conn: V2gConnection) -> None:
    async for msg in conn:
        await conn.send(msg.payload_type, msg.payload)


@pytest.fixture
async def servers() -> AsyncIterator[list[SeccServer]]:
    out: list[SeccServer] = []
    yield out
    for s in out:
        await s.close()


async def wait_for(cond: Callable[[], bool]) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize("case", ["expired", "wrong", "selfsigned", "overlong"])
@pytest.mark.parametrize("profile", [TlsProfile.TLS12, TlsProfile.TLS13])
async def test_ev_refuses_bad_secc_chain(
    link: netsim.Link, good: Path, tmp_path: Path, servers: list[SeccServer],
    caplog: pytest.LogCaptureFixture, case: str, profile: TlsProfile,
) -> None:
    dc = "CPO"
    bad = bad_chains(good, profile.value, "secc", dc)[case]
    store = variant(good, tmp_path, profile.value, "secc", bad)
    tls = TlsServerConfig.from_store(store)
    servers.append(await serve_secc(SeccConfig(link.evse.plc_interface(), tls=tls,
                                               allow_plain=False), echo))
    cfg = EvccConfig(iface=link.ev.plc_interface(), profile=profile,
                     credentials=client_credentials_from_store(good, profile))
    with caplog.at_level(logging.WARNING, logger="josev.transport"):
        with pytest.raises(EvccConnectError, match=REASONS[case]):
            await connect_evcc(cfg)
    assert REASONS[case] in caplog.text


@pytest.mark.parametrize("case", ["expired", "wrong", "selfsigned", "overlong"])
async def test_secc_refuses_bad_vehicle_chain_for_iso20(
    link: netsim.Link, good: Path, tmp_path: Path, servers: list[SeccServer],
    caplog: pytest.LogCaptureFixture, case: str,
) -> None:
    bad = bad_chains(good, "iso20", "vehicle", "OEM")[case]
    ev_store = variant(good, tmp_path, "iso20", "vehicle", bad)
    server = await serve_secc(SeccConfig(link.evse.plc_interface(),
                                         tls=TlsServerConfig.from_store(good),
                                         allow_plain=False, handshake_timeout=2.0), echo)
    servers.append(server)
    cfg = EvccConfig(iface=link.ev.plc_interface(), profile=TlsProfile.TLS13,
                     credentials=client_credentials_from_store(ev_store, TlsProfile.TLS13))
    with caplog.at_level(logging.WARNING, logger="josev.transport"):
        try:
            conn = await connect_evcc(cfg)
        except EvccConnectError:
            pass  # the client may learn of the refusal during the handshake
        else:
            # TLS 1.3: the client finishes first; the refusal arrives on first use.
            await conn.send(PayloadType.EXI, b"\x80")
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(conn.receive(), 5)
        await wait_for(lambda: server.refused == 1)
    assert REASONS[case] in caplog.text
    assert server.current is None


async def test_secc_refuses_iso20_ev_without_certificate(
    link: netsim.Link, good: Path, servers: list[SeccServer], caplog: pytest.LogCaptureFixture,
) -> None:
    server = await serve_secc(SeccConfig(link.evse.plc_interface(),
                                         tls=TlsServerConfig.from_store(good),
                                         allow_plain=False), echo)
    servers.append(server)
    creds = client_credentials_from_store(good, TlsProfile.TLS13)
    cfg = EvccConfig(iface=link.ev.plc_interface(), profile=TlsProfile.TLS13,
                     credentials=type(creds)(creds.roots))
    with caplog.at_level(logging.WARNING, logger="josev.transport"):
        try:
            conn = await connect_evcc(cfg)
            await conn.send(PayloadType.EXI, b"\x80")
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(conn.receive(), 5)
        except EvccConnectError:
            pass
        await wait_for(lambda: server.refused == 1)
    assert "peer did not return a certificate" in caplog.text


async def test_stalled_handshake_does_not_block_the_next_ev(
    link: netsim.Link, good: Path, servers: list[SeccServer], caplog: pytest.LogCaptureFixture,
) -> None:
    server = await serve_secc(SeccConfig(link.evse.plc_interface(),
                                         tls=TlsServerConfig.from_store(good),
                                         allow_plain=False, handshake_timeout=2.0), echo)
    servers.append(server)
    assert server.tls_port is not None
    loop = asyncio.get_running_loop()
    # Staller 1: half a ClientHello. Staller 2: a whole ClientHello, then silence.
    hello_bio_in, hello_bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = client_context(TlsProfile.TLS12, client_credentials_from_store(good, TlsProfile.TLS12))
    obj = ctx.wrap_bio(hello_bio_in, hello_bio_out, server_hostname=None)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = hello_bio_out.read()
    stallers = []
    for data in (hello[:20], hello):
        s = link.ev.netns.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setblocking(False)
        await loop.sock_connect(s, link.evse.sockaddr(server.tls_port))
        await loop.sock_sendall(s, data)
        stallers.append(s)
    with caplog.at_level(logging.WARNING, logger="josev.transport"):
        cfg = EvccConfig(iface=link.ev.plc_interface(), profile=TlsProfile.TLS12,
                         credentials=client_credentials_from_store(good, TlsProfile.TLS12))
        conn = await connect_evcc(cfg)
        await conn.send(PayloadType.EXI, b"\x80x")
        assert (await asyncio.wait_for(conn.receive(), 5)).payload == b"\x80x"
        assert server.refused == 0  # the stallers are still pending while the EV is served
        await wait_for(lambda: server.refused == 2)
    assert caplog.text.count("handshake timed out") == 2
    await conn.close()
    for s in stallers:
        s.close()
