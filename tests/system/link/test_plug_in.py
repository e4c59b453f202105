"""The issue's 'done when': an EV completes SLAC, SDP and a TLS 1.2 and a TLS 1.3 handshake
against the charger side across the veth link, with the charger's SLAC driven by cp_status
through the Josev API (real mosquitto) and the SECC serving both TLS versions on one port."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from josev import netsim
from josev.api import ApiClient, models
from josev.pki import create_pki
from josev.transport.connection import V2gConnection
from josev.transport.evcc import EvccConfig
from josev.transport.plugin import ev_plug_in, start_charger_link
from josev.transport.secc import SeccConfig
from josev.transport.tls import TlsProfile, TlsServerConfig, client_credentials_from_store
from josev.v2gtp import PayloadType

pytestmark = pytest.mark.netns


async def wait_until(cond: Any) -> None:
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_plug_in_slac_sdp_tls12_then_tls13(
    link: netsim.Link, mosquitto: Any, tmp_path: Path
) -> None:
    store = create_pki(tmp_path / "pki")
    statuses: list[str] = []
    received: list[tuple[str | None, bytes]] = []

    async def on_pwm(req: models.CpPwmRequest) -> models.CpPwmResponse:
        return models.CpPwmResponse(evse_id=req.evse_id, status="valid")

    async def session(conn: V2gConnection) -> None:  # stands in for the SECC session layer
        async for msg in conn:
            received.append((conn.tls_version, msg.payload))
            await conn.send(PayloadType.EXI, b"\x80res")

    cs = ApiClient({"cs"}, host=mosquitto.host, port=mosquitto.port, client_id="cs-sys")
    josev = ApiClient({"josev"}, host=mosquitto.host, port=mosquitto.port, client_id="iso-sys")
    cs.on_request("cp_pwm", on_pwm)
    cs.on_update("slac_status", lambda u: statuses.append(u.status))
    charger = await start_charger_link(
        josev, 1, SeccConfig(link.evse.plc_interface(), tls=TlsServerConfig.from_store(store),
                             allow_plain=False), session)
    slac = charger.slac
    try:
        async with cs, josev:
            await asyncio.sleep(0.2)
            for n, profile in enumerate((TlsProfile.TLS12, TlsProfile.TLS13)):
                await cs.update("cp_status", models.CpStatusUpdate(
                    evse_id=1, connector_id=1, state="B1"))
                await wait_until(lambda n=n: statuses.count("matching") == n + 1)
                cfg = EvccConfig(link.ev.plc_interface(), profile=profile,
                                 credentials=client_credentials_from_store(store, profile))
                ev = await asyncio.wait_for(ev_plug_in(cfg), 30)
                assert ev.slac.evse_mac.hex(":") == link.evse.mac
                await ev.connection.send(PayloadType.EXI, b"\x80req")
                reply = await asyncio.wait_for(ev.connection.receive(), 5)
                assert reply.payload == b"\x80res"
                await wait_until(lambda n=n: statuses.count("matched") == n + 1)
                await ev.connection.close()
                # unplug before the next EV
                await cs.update("cp_status", models.CpStatusUpdate(
                    evse_id=1, connector_id=1, state="A1"))
                await wait_until(lambda: slac.last is None)
    finally:
        await charger.close()
    assert received == [("TLSv1.2", b"\x80req"), ("TLSv1.3", b"\x80req")]
