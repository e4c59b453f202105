"""Interop: the independent `iso15118` package's EV (EVCC) against our SDP server and SECC
transport, across the veth link, plain TCP and TLS 1.2 (./dev test-slow).

Their EVCC does SDP, connects, and sends supportedAppProtocolReq; we check that it arrived
as one V2GTP message that our EXI codec decodes. Their EVCC offers no client certificate, so
TLS 1.3 with the mutual authentication -20 requires is not testable against it (peers.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from josev import netsim
from josev.exi import decode, to_json
from josev.pki import create_pki
from josev.transport.connection import V2gConnection
from josev.transport.secc import SeccConfig, serve_secc
from josev.transport.tls import TlsServerConfig
from josev.v2gtp import Message, PayloadType
from tests.peers import iso15118_python

pytestmark = [pytest.mark.interop, pytest.mark.netns, pytest.mark.slow]

@pytest.fixture(scope="module")
def peer_python() -> Path:
    """The peer in its own venv (installed at test time, as ../shared/peers.md says)."""
    return iso15118_python()


async def run_peer_evcc(
    link: netsim.Link, py: Path, tmp: Path, use_tls: bool, store: Path | None
) -> tuple[Message, V2gConnection]:
    got: asyncio.Future[tuple[Message, V2gConnection]] = (
        asyncio.get_running_loop().create_future())

    async def handler(conn: V2gConnection) -> None:
        msg = await conn.receive()
        if not got.done():
            got.set_result((msg, conn))

    tls = TlsServerConfig.from_store(store) if store else None
    server = await serve_secc(SeccConfig(link.evse.plc_interface(), tls=tls,
                                         allow_plain=not use_tls), handler)
    pki = tmp / "peer-pki"
    if store is not None:  # the peer EV trusts our V2G root
        (pki / "iso15118_2" / "certs").mkdir(parents=True)
        shutil.copy(store / "iso2" / "v2g_root.pem",
                    pki / "iso15118_2" / "certs" / "v2gRootCACert.pem")
    cfg = {"supportedProtocols": ["ISO_15118_2"], "supportedEnergyServices": ["DC"],
           "energyTransferMode": "DC_extended", "isCertInstallNeeded": False,
           "useTls": use_tls, "enforceTls": use_tls, "chargeLoopCycle": 60}
    (tmp / "evcc.json").write_text(json.dumps(cfg))
    env = dict(os.environ, NETWORK_INTERFACE=link.ev.ifname, PKI_PATH=f"{pki}/")
    log = tmp / "peer-evcc.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *link.ev.netns.argv([str(py), "-m", "iso15118.evcc.main", str(tmp / "evcc.json")]),
            env=env, cwd=tmp, stdout=out, stderr=asyncio.subprocess.STDOUT)
    try:
        return await asyncio.wait_for(got, 90)
    except TimeoutError:
        text = log.read_text(errors="replace")
        pytest.fail(f"the peer EVCC sent nothing; its log:\n{text[-4000:]}")
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        await server.close()


def check_sap(msg: Message) -> None:
    assert msg.payload_type == PayloadType.EXI
    sap = to_json(decode(msg.payload, "appHand"))
    protocols = sap["supportedAppProtocolReq"]["AppProtocol"]
    assert protocols[0]["ProtocolNamespace"] == "urn:iso:15118:2:2013:MsgDef"


async def test_peer_evcc_sdp_and_plain_tcp(
    link: netsim.Link, peer_python: Path, tmp_path: Path
) -> None:
    msg, conn = await run_peer_evcc(link, peer_python, tmp_path, False, None)
    assert conn.tls_version is None
    check_sap(msg)


async def test_peer_evcc_sdp_and_tls12(
    link: netsim.Link, peer_python: Path, tmp_path: Path
) -> None:
    store = create_pki(tmp_path / "store")
    msg, conn = await run_peer_evcc(link, peer_python, tmp_path, True, store)
    assert conn.tls_version == "TLSv1.2" and conn.cipher == "ECDHE-ECDSA-AES128-SHA256"
    check_sap(msg)


async def test_our_ev_against_the_peer_secc_over_tls12(
    link: netsim.Link, peer_python: Path, tmp_path: Path
) -> None:
    """Our EV side (SDP client, TLS 1.2 client, V2GTP) against the peer's charger: it answers
    our supportedAppProtocolReq. The peer's SECC loads our SECC chain and key."""
    from josev.exi import encode, from_json
    from josev.transport.evcc import EvccConfig, connect_evcc
    from josev.transport.tls import TlsProfile, client_credentials_from_store

    store = create_pki(tmp_path / "store")
    pki = tmp_path / "peer-pki" / "iso15118_2"
    (pki / "certs").mkdir(parents=True)
    (pki / "private_keys").mkdir(parents=True)
    shutil.copy(store / "iso2" / "secc_chain.pem", pki / "certs" / "cpoCertChain.pem")
    shutil.copy(store / "iso2" / "secc.key", pki / "private_keys" / "seccLeaf.key")
    (pki / "private_keys" / "seccLeafPassword.txt").write_text("unused: the key is plain")
    env = dict(os.environ, NETWORK_INTERFACE=link.evse.ifname,
               PKI_PATH=f"{tmp_path / 'peer-pki'}/", PROTOCOLS="ISO_15118_2", AUTH_MODES="EIM")
    with (tmp_path / "peer-secc.log").open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *link.evse.netns.argv([str(peer_python), "-m", "iso15118.secc.main"]),
            env=env, cwd=tmp_path, stdout=out, stderr=asyncio.subprocess.STDOUT)
    try:
        # the peer's JVM start takes seconds: SDP keeps asking (250 ms x 50 is too short here)
        cfg = EvccConfig(link.ev.plc_interface(), profile=TlsProfile.TLS12,
                         credentials=client_credentials_from_store(store, TlsProfile.TLS12),
                         sdp_interval=0.5, sdp_max_requests=120)
        conn = await asyncio.wait_for(connect_evcc(cfg), 90)
        assert conn.tls_version == "TLSv1.2" and conn.cipher == "ECDHE-ECDSA-AES128-SHA256"
        sap = from_json({"supportedAppProtocolReq": {"AppProtocol": [{
            "ProtocolNamespace": "urn:iso:15118:2:2013:MsgDef", "VersionNumberMajor": 2,
            "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 1}]}}, "appHand")
        await conn.send(PayloadType.EXI, encode(sap))
        reply = await asyncio.wait_for(conn.receive(), 30)
        res = to_json(decode(reply.payload, "appHand"))["supportedAppProtocolRes"]
        assert res["ResponseCode"] == "OK_SuccessfulNegotiation" and res["SchemaID"] == 1
        await conn.close()
    finally:
        proc.terminate()
        await proc.wait()
