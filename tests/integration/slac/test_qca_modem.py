"""The modem interface: a (simulated) QCA modem answering CM_SET_KEY, and a silent one.

No real modem exists here, so the modem is a responder on the other end of the veth that
answers like a QCA7000 would (CM_SET_KEY.CNF); this tests our side of the exchange, and that
a modem that never answers makes SLAC fail instead of hang.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from josev import netsim
from josev.slac.driver import QCA_LOCAL_MAC, QcaModem, SimulatedModem, open_raw, run_ev, run_evse
from josev.slac.ev import EvMatched, EvSlac
from josev.slac.evse import EvseSlac, Failed, Matched
from josev.slac.frames import MMType, SetKeyCnf, SetKeyReq, encode, parse_frame

pytestmark = pytest.mark.netns


async def fake_qca(sock: socket.socket, seen: list[SetKeyReq], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 2048), 0.05)
        except TimeoutError:
            continue
        frame = parse_frame(data)
        if frame.mmtype == MMType.CM_SET_KEY_REQ and frame.dst == QCA_LOCAL_MAC:
            seen.append(SetKeyReq.parse(frame.payload))
            sock.send(encode(frame.src, QCA_LOCAL_MAC, SetKeyCnf(0)))


async def test_set_key_through_a_qca_modem_then_match(link: netsim.Link) -> None:
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    modem_sock, _ = open_raw(link.ev.ifname, link.ev.netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    seen: list[SetKeyReq] = []
    stop = asyncio.Event()
    responder = asyncio.ensure_future(fake_qca(modem_sock, seen, stop))
    core = EvseSlac(evse_mac)
    r_evse, r_ev = await asyncio.wait_for(asyncio.gather(
        run_evse(evse_sock, core, QcaModem(evse_sock, evse_mac, timeout=2.0)),
        run_ev(ev_sock, EvSlac(ev_mac), SimulatedModem())), 30)
    stop.set()
    await responder
    assert isinstance(r_evse, Matched) and isinstance(r_ev, EvMatched)
    assert [(k.nid, k.nmk) for k in seen] == [(r_evse.nid, r_evse.nmk)]
    for s in (evse_sock, modem_sock, ev_sock):
        s.close()


async def test_silent_modem_fails_instead_of_hanging(link: netsim.Link) -> None:
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    result = await asyncio.wait_for(
        run_evse(evse_sock, EvseSlac(evse_mac), QcaModem(evse_sock, evse_mac, timeout=0.2)), 30)
    assert isinstance(result, Failed) and "CM_SET_KEY" in result.reason
    evse_sock.close()
