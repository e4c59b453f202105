"""SLAC's failure/restart logic stays off while a V2G session is up on the EVSE.

The charger side is `start_charger_link` (SLAC driven by cp_status over a real mosquitto, and
the SECC); the EV matches across the veth link, opens a V2G connection, and then makes SLAC
fail under it. Before the hold, that failure switched the PWM off (cp_pwm hlc=false) and
started a new matching with a new NMK, which ends the session on a real PLC link."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from josev import netsim
from josev.api import ApiClient, models
from josev.slac.driver import open_raw
from josev.slac.frames import BROADCAST, SlacParmReq, encode
from josev.slac.timers import SlacTimers
from josev.transport.connection import V2gConnection
from josev.transport.evcc import EvccConfig, connect_evcc
from josev.transport.plugin import ev_plug_in, start_charger_link
from josev.transport.secc import SeccConfig
from josev.v2gtp import PayloadType

pytestmark = pytest.mark.netns


async def wait_until(cond: Any) -> None:
    for _ in range(1500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


class Station:
    """The station side of the API: answers cp_pwm, records it and slac_status."""

    def __init__(self, mosquitto: Any, tag: str) -> None:
        self.pwm: list[bool] = []
        self.statuses: list[str] = []
        self.cs = ApiClient({"cs"}, host=mosquitto.host, port=mosquitto.port,
                            client_id=f"cs-{tag}")
        self.cs.on_request("cp_pwm", self.on_pwm)
        self.cs.on_update("slac_status", lambda u: self.statuses.append(u.status))

    async def on_pwm(self, req: models.CpPwmRequest) -> models.CpPwmResponse:
        self.pwm.append(req.hlc)
        return models.CpPwmResponse(evse_id=req.evse_id, status="valid")

    async def cp(self, state: str) -> None:
        await self.cs.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1,
                                                                state=state))


async def echo(conn: V2gConnection) -> None:
    async for msg in conn:
        await conn.send(msg.payload_type, msg.payload)


async def round_trip(conn: V2gConnection, data: bytes) -> None:
    await conn.send(PayloadType.EXI, data)
    assert (await asyncio.wait_for(conn.receive(), 5)).payload == data


async def test_slac_failure_during_a_v2g_session_neither_restarts_nor_cuts_the_pwm(
    link: netsim.Link, mosquitto: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    st = Station(mosquitto, "hold1")
    josev = ApiClient({"josev"}, host=mosquitto.host, port=mosquitto.port, client_id="iso-hold1")
    timers = SlacTimers(TT_matching_repetition=0.2)
    charger = await start_charger_link(
        josev, 1, SeccConfig(link.evse.plc_interface(), allow_plain=True), echo,
        slac_timers=timers, restart_pause=0.05)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    try:
        async with st.cs, josev:
            await asyncio.sleep(0.2)
            await st.cp("B1")
            await wait_until(lambda: "matching" in st.statuses)
            cfg = EvccConfig(link.ev.plc_interface(), profile=None)
            ev = await asyncio.wait_for(ev_plug_in(cfg), 30)
            await wait_until(lambda: "matched" in st.statuses)
            await round_trip(ev.connection, b"\x80one")
            with caplog.at_level(logging.INFO, logger="josev.slac"):
                # The EV starts SLAC over with a new RunID under the session and goes
                # silent: that re-matching fails (TT_match_sequence, TT_matching_repetition).
                ev_sock.send(encode(BROADCAST, ev_mac, SlacParmReq(b"RESTART1")))
                await wait_until(lambda: "not failing, a V2G session is up" in caplog.text
                                 or "failed" in st.statuses)
            assert "failed" not in st.statuses
            assert st.pwm == [True]          # 5 % only: never switched off
            assert charger.slac.last is not None and charger.slac.last.ev_mac == ev_mac
            await round_trip(ev.connection, b"\x80two")  # the session goes on
            # The session ends: timeouts and restarts are on again. The same silent
            # restart now fails and does the 5 % restart (PWM off, then 5 % again).
            await ev.connection.close()
            await wait_until(lambda: not charger.slac.hlc_active)
            ev_sock.send(encode(BROADCAST, ev_mac, SlacParmReq(b"RESTART2")))
            await wait_until(lambda: st.pwm[-2:] == [False, True])
            assert "failed" in st.statuses
            await st.cp("A1")
    finally:
        ev_sock.close()
        await charger.close()


async def test_no_slac_timeout_while_a_v2g_session_is_up_then_resumed(
    link: netsim.Link, mosquitto: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    """The EV reaches the SECC over the link without this SLAC run matching it (e.g. it was
    already on the network): TT_EVSE_SLAC_init must not fire under the session; when the
    session ends it is re-armed, and the 5 % restart follows."""
    st = Station(mosquitto, "hold2")
    josev = ApiClient({"josev"}, host=mosquitto.host, port=mosquitto.port, client_id="iso-hold2")
    init = 0.3
    charger = await start_charger_link(
        josev, 1, SeccConfig(link.evse.plc_interface(), allow_plain=True), echo,
        slac_timers=SlacTimers(TT_EVSE_SLAC_init=init), restarts=1, restart_pause=0.05)
    try:
        async with st.cs, josev:
            await asyncio.sleep(0.2)
            await st.cp("B1")
            await wait_until(lambda: "matching" in st.statuses)
            conn = await connect_evcc(EvccConfig(link.ev.plc_interface(), profile=None))
            await wait_until(lambda: charger.secc.current is not None)
            # well past TT_EVSE_SLAC_init: before the hold, the attempt failed here and
            # the PWM went off under the session
            await asyncio.sleep(5 * init)
            await round_trip(conn, b"\x80up")
            assert st.statuses == ["matching"] and st.pwm == [True]
            await conn.close()
            await wait_until(lambda: st.statuses[-1:] == ["unmatched"])
            assert st.statuses == ["matching", "failed", "matching", "failed", "unmatched"]
            assert st.pwm == [True, False, True]
    finally:
        await charger.close()


async def test_the_iso15118_service_holds_slac_for_each_v2g_connection(mosquitto: Any) -> None:
    """josev.services.hlc: EvseHlc.on_connection holds its EVSE's SLAC for as long as the
    session driver runs (the connection here is a socket pair: the hold does not depend on
    the link, and SLAC itself is not started)."""
    import ipaddress
    import socket

    from josev.services.hlc import EvseHlc, HlcConfig
    from josev.slac.service import SlacService
    from josev.station import StationState
    from josev.transport.iface import PlcInterface

    state = StationState()
    state.set_cp(models.CpStatusUpdate(evse_id=1, connector_id=1, state="B2"))
    brain = ApiClient({"josev", "iso15118"}, host=mosquitto.host, port=mosquitto.port,
                      client_id="iso-hold3")
    evse = EvseHlc(brain, state, 1, HlcConfig(slac=False),
                   PlcInterface("lo", 1, ipaddress.IPv6Address("fe80::1")))  # no server
    evse.slac = slac = SlacService(brain, 1, "unused")
    a, b = socket.socketpair()
    r1, w1 = await asyncio.open_connection(sock=a)
    r2, w2 = await asyncio.open_connection(sock=b)
    secc_conn, ev_conn = V2gConnection(r1, w1, name="secc"), V2gConnection(r2, w2, name="ev")
    async with brain:
        assert not slac.hlc_active
        task = asyncio.create_task(evse.on_connection(secc_conn))
        await wait_until(lambda: slac.hlc_active)
        await ev_conn.close()   # the EV goes away: the session driver ends
        await asyncio.wait_for(task, 10)
        assert not slac.hlc_active
