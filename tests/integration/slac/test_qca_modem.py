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
from josev.slac.driver import (
    QCA_LOCAL_MAC,
    QCA_OUI,
    SET_KEY_HPGP_SUCCESS,
    SET_KEY_QCA_SUCCESS,
    VS_NW_INFO_REQ,
    VS_RS_DEV_REQ,
    ModemError,
    QcaModem,
    SimulatedModem,
    open_raw,
    run_ev,
    run_evse,
)
from josev.slac.ev import EvMatched, EvSlac
from josev.slac.evse import EvseSlac, Failed, Matched
from josev.slac.frames import (
    MMType,
    SetKeyCnf,
    SetKeyReq,
    encode,
    encode_vendor_frame,
    parse_frame,
    parse_vendor_frame,
)
from josev.slac.timers import SlacTimers

pytestmark = pytest.mark.netns


def nw_info_body(stations: int, networks: int = 1) -> bytes:
    """A VS_NW_INFO.CNF body in the layout Qualcomm's int6k decodes (see the interop test):
    per network 17 bytes and the station count, 15 bytes per station."""
    body = bytes([networks])
    for net in range(networks):
        body += bytes(range(1, 8)) + bytes([5 + net, 2, 1]) + QCA_LOCAL_MAC + b"\x01"
        body += bytes([stations])
        for i in range(stations):
            body += bytes.fromhex(f"02000000{net:02x}{i + 1:02x}") + bytes([3 + i])
            body += b"\xff" * 6 + bytes([16, 32])
    return body


async def fake_qca(
    sock: socket.socket, seen: list[SetKeyReq], stop: asyncio.Event, joins: bool = True,
    set_key_result: int = SET_KEY_QCA_SUCCESS,
) -> None:
    """Answers CM_SET_KEY.REQ (result 0x01, a Qualcomm modem's success), VS_RS_DEV.REQ, and
    VS_NW_INFO.REQ
    with 0 stations until it has seen the CM_SLAC_MATCH.CNF go to the EV (then 1: the EV
    joined), or always 0 if `joins` is off."""
    loop = asyncio.get_running_loop()
    joined = False
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 2048), 0.05)
        except TimeoutError:
            continue
        vendor = parse_vendor_frame(data)
        if vendor is not None:
            head, _ = vendor
            if head.mmtype == VS_RS_DEV_REQ and head.dst == QCA_LOCAL_MAC:
                sock.send(encode_vendor_frame(head.src, QCA_LOCAL_MAC, VS_RS_DEV_REQ + 1,
                                              QCA_OUI, b"\x00"))
            elif head.mmtype == VS_NW_INFO_REQ and head.dst == QCA_LOCAL_MAC:
                body = nw_info_body(1 if joined else 0)
                sock.send(encode_vendor_frame(head.src, QCA_LOCAL_MAC, VS_NW_INFO_REQ + 1,
                                              QCA_OUI, body))
            continue
        frame = parse_frame(data)
        if frame.mmtype == MMType.CM_SET_KEY_REQ and frame.dst == QCA_LOCAL_MAC:
            seen.append(SetKeyReq.parse(frame.payload))
            sock.send(encode(frame.src, QCA_LOCAL_MAC, SetKeyCnf(set_key_result)))
        elif frame.mmtype == MMType.CM_SLAC_MATCH_CNF and joins:
            joined = True


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


async def test_silent_modem_is_reset_once_then_fails_instead_of_hanging(
    link: netsim.Link,
) -> None:
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    modem = QcaModem(evse_sock, evse_mac, timeout=0.2, reset_wait=0.2)
    result = await asyncio.wait_for(run_evse(evse_sock, EvseSlac(evse_mac), modem), 30)
    assert isinstance(result, Failed) and "CM_SET_KEY" in result.reason
    assert modem.resets == 1
    evse_sock.close()


async def test_hung_modem_comes_back_after_a_chip_reset(link: netsim.Link) -> None:
    """The modem ignores CM_SET_KEY until it is reset (VS_RS_DEV), then works: SLAC matches."""
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    modem_sock, _ = open_raw(link.ev.ifname, link.ev.netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    key_set = asyncio.Event()
    seen: list[SetKeyReq] = []

    async def hung_until_reset() -> None:
        was_reset = False
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(loop.sock_recv(modem_sock, 2048), 0.05)
            except TimeoutError:
                continue
            vendor = parse_vendor_frame(data)
            if vendor is not None and vendor[0].mmtype == VS_RS_DEV_REQ:
                was_reset = True
                modem_sock.send(encode_vendor_frame(vendor[0].src, QCA_LOCAL_MAC,
                                                    VS_RS_DEV_REQ + 1, QCA_OUI, b"\x00"))
            elif vendor is None:
                frame = parse_frame(data)
                if frame.mmtype == MMType.CM_SET_KEY_REQ and was_reset:
                    seen.append(SetKeyReq.parse(frame.payload))
                    cnf = SetKeyCnf(SET_KEY_QCA_SUCCESS)
                    modem_sock.send(encode(frame.src, QCA_LOCAL_MAC, cnf))
                    key_set.set()

    responder = asyncio.ensure_future(hung_until_reset())
    modem = QcaModem(evse_sock, evse_mac, timeout=0.3, reset_wait=1.0)
    evse_task = asyncio.ensure_future(run_evse(evse_sock, EvseSlac(evse_mac), modem))
    await asyncio.wait_for(key_set.wait(), 30)  # the EV plugs in once the modem is back
    r_ev = await asyncio.wait_for(run_ev(ev_sock, EvSlac(ev_mac), SimulatedModem()), 30)
    r_evse = await asyncio.wait_for(evse_task, 30)
    stop.set()
    await responder
    assert modem.resets == 1 and len(seen) == 1
    assert isinstance(r_evse, Matched) and isinstance(r_ev, EvMatched)
    for s in (evse_sock, modem_sock, ev_sock):
        s.close()


@pytest.mark.parametrize("joins", [True, False])
async def test_link_status_detection_through_the_modem(link: netsim.Link, joins: bool) -> None:
    """With link detection the EVSE waits for the modem to see the EV in its network
    (VS_NW_INFO): joined -> Matched is returned; never joined -> TT_match_join failure."""
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    modem_sock, _ = open_raw(link.ev.ifname, link.ev.netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    stop = asyncio.Event()
    responder = asyncio.ensure_future(fake_qca(modem_sock, [], stop, joins=joins))
    core = EvseSlac(evse_mac, SlacTimers(TT_match_join=1.0), link_detection=True)
    r_evse, r_ev = await asyncio.wait_for(asyncio.gather(
        run_evse(evse_sock, core, QcaModem(evse_sock, evse_mac, timeout=1.0), poll_link=0.1),
        run_ev(ev_sock, EvSlac(ev_mac), SimulatedModem())), 30)
    stop.set()
    await responder
    assert isinstance(r_ev, EvMatched)
    if joins:
        assert isinstance(r_evse, Matched) and core.state.value == "joined"
    else:
        assert isinstance(r_evse, Failed) and "TT_match_join" in r_evse.reason
    for s in (evse_sock, modem_sock, ev_sock):
        s.close()


@pytest.mark.parametrize(("result", "success", "ok"), [
    (SET_KEY_QCA_SUCCESS, None, True),          # a Qualcomm modem's success
    (SET_KEY_HPGP_SUCCESS, None, False),        # 0x00 is "can't set keys" to Qualcomm's tools
    (SET_KEY_HPGP_SUCCESS, frozenset({SET_KEY_HPGP_SUCCESS}), True),  # a modem per the text
    (0x81, frozenset({SET_KEY_HPGP_SUCCESS, SET_KEY_QCA_SUCCESS}), False),
])
async def test_set_key_result_codes(
    link: netsim.Link, result: int, success: frozenset[int] | None, ok: bool,
) -> None:
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    modem_sock, _ = open_raw(link.ev.ifname, link.ev.netns.socket)
    stop = asyncio.Event()
    responder = asyncio.ensure_future(fake_qca(modem_sock, [], stop, set_key_result=result))
    if success is None:
        modem = QcaModem(evse_sock, evse_mac, timeout=1.0, reset_on_silence=False)
    else:
        modem = QcaModem(evse_sock, evse_mac, timeout=1.0, reset_on_silence=False,
                         set_key_success=success)
    reader = asyncio.get_running_loop()
    reader.add_reader(evse_sock.fileno(), lambda: modem.on_frame(evse_sock.recv(2048)))
    try:
        if ok:
            await modem.set_key(b"\x01" * 7, b"\x02" * 16)
        else:
            with pytest.raises(ModemError, match=f"result {result:#04x}"):
                await modem.set_key(b"\x01" * 7, b"\x02" * 16)
    finally:
        reader.remove_reader(evse_sock.fileno())
        stop.set()
        await responder
        evse_sock.close()
        modem_sock.close()
