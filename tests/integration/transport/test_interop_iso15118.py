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
import subprocess
import sys
from pathlib import Path

import pytest

from josev import netsim
from josev.exi import decode, to_json
from josev.pki import create_pki
from josev.transport.connection import V2gConnection
from josev.transport.secc import SeccConfig, serve_secc
from josev.transport.tls import TlsServerConfig
from josev.v2gtp import Message, PayloadType

pytestmark = [pytest.mark.interop, pytest.mark.netns, pytest.mark.slow]

PEER = "iso15118==0.31.2"
VENV = Path(__file__).resolve().parents[3] / ".cache" / "peers" / "iso15118-venv"


@pytest.fixture(scope="module")
def peer_python() -> Path:
    """The peer in its own venv (installed at test time, as ../shared/peers.md says)."""
    py = VENV / "bin" / "python"
    if shutil.which("java") is None:
        pytest.fail("the iso15118 peer needs Java 17 (apt: openjdk-17-jre-headless)")
    ok = py.exists() and subprocess.run([py, "-c", "import iso15118, aiofile"],
                                        capture_output=True, check=False).returncode == 0
    if not ok:
        subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", PEER, "aiofile"], check=True,
                       timeout=600)
    return py


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
    proc = await asyncio.create_subprocess_exec(
        *link.ev.netns.argv([str(py), "-m", "iso15118.evcc.main", str(tmp / "evcc.json")]),
        env=env, cwd=tmp, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        return await asyncio.wait_for(got, 90)
    except TimeoutError:
        proc.terminate()
        out = (await proc.communicate())[0].decode(errors="replace")
        pytest.fail(f"the peer EVCC sent nothing; its log:\n{out[-4000:]}")
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
