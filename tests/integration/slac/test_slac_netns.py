"""SLAC over raw AF_PACKET sockets across the simulated PLC link (real veth / bridge)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import pytest

from josev import netsim
from josev.slac.driver import SimulatedModem, garbage_frame, open_raw, run_ev, run_evse
from josev.slac.ev import EvMatched, EvSlac, EvSlacConfig
from josev.slac.evse import EvseSlac, Failed, Matched
from josev.slac.frames import BROADCAST
from josev.slac.timers import SlacTimers

pytestmark = pytest.mark.netns


async def test_whole_matching_across_the_veth(link: netsim.Link) -> None:
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    assert evse_mac.hex(":") == link.evse.mac
    evse_modem, ev_modem = SimulatedModem(), SimulatedModem()
    evse = EvseSlac(evse_mac)
    ev = EvSlac(ev_mac)
    r_evse, r_ev = await asyncio.wait_for(
        asyncio.gather(run_evse(evse_sock, evse, evse_modem), run_ev(ev_sock, ev, ev_modem)), 30
    )
    assert isinstance(r_evse, Matched) and isinstance(r_ev, EvMatched)
    assert r_evse.ev_mac == ev_mac and r_ev.evse_mac == evse_mac
    assert evse_modem.keys == [(r_evse.nid, r_evse.nmk)]  # fresh key set on the EVSE modem
    assert ev_modem.keys == [(r_evse.nid, r_evse.nmk)]    # the EV joined with the same NMK
    evse_sock.close()
    ev_sock.close()


async def test_garbage_on_the_wire_is_ignored(link: netsim.Link) -> None:
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    junk_sock, _ = open_raw(link.ev.ifname, link.ev.netns.socket)
    evse = EvseSlac(evse_mac)
    task = asyncio.ensure_future(run_evse(evse_sock, evse, SimulatedModem()))
    await asyncio.sleep(0)
    for payload in (b"\x01", b"\x01\x64\x60\x00\x00" + os.urandom(3), b"\x02" + os.urandom(40)):
        junk_sock.send(garbage_frame(BROADCAST, ev_mac, payload))
    r_ev = await asyncio.wait_for(run_ev(ev_sock, EvSlac(ev_mac), SimulatedModem()), 30)
    r_evse = await asyncio.wait_for(task, 30)
    assert isinstance(r_ev, EvMatched) and isinstance(r_evse, Matched)
    assert len(evse.ignored) >= 3
    for s in (evse_sock, ev_sock, junk_sock):
        s.close()


async def test_two_evs_on_one_medium_only_the_plugged_one_matches(
    make_link: Callable[..., netsim.Link],
) -> None:
    """A bridge with three veths: EV 0 is plugged in (12 dB), EV 1 hears us by crosstalk."""
    link = make_link(evs=2)
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    socks = [open_raw(ep.ifname, ep.netns.socket) for ep in link.evs]
    cfgs = [EvSlacConfig(attenuation=lambda mac: 12.0),
            EvSlacConfig(attenuation=lambda mac: 68.0, repeat=False)]
    evse = EvseSlac(evse_mac)
    results = await asyncio.wait_for(
        asyncio.gather(
            run_evse(evse_sock, evse, SimulatedModem()),
            *(run_ev(s, EvSlac(mac, cfg), SimulatedModem())
              for (s, mac), cfg in zip(socks, cfgs, strict=True)),
        ),
        30,
    )
    r_evse, r_ev0, r_ev1 = results
    assert isinstance(r_evse, Matched) and r_evse.ev_mac == socks[0][1]
    assert isinstance(r_ev0, EvMatched)
    assert isinstance(r_ev1, Failed) and "beyond" in r_ev1.reason
    for s, _ in [(evse_sock, b""), *socks]:
        s.close()


async def test_ev_that_never_sounds_fails_the_evse(link: netsim.Link) -> None:
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    t = SlacTimers(TT_matching_repetition=0.3)  # how long the EVSE waits for a repeat
    r_evse, r_ev = await asyncio.wait_for(asyncio.gather(
        run_evse(evse_sock, EvseSlac(evse_mac, t), SimulatedModem()),
        run_ev(ev_sock, EvSlac(ev_mac, EvSlacConfig(sounds=0, repeat=False)), SimulatedModem()),
    ), 30)
    assert isinstance(r_evse, Failed) and "never sounded" in r_evse.reason
    assert isinstance(r_ev, Failed)
    evse_sock.close()
    ev_sock.close()


async def test_ev_hearing_two_evses_matches_the_nearer_one(
    make_link: Callable[..., netsim.Link],
) -> None:
    """Two chargers on one medium (crosstalk): the EV sounds to both and matches the one it is
    plugged into (lower attenuation); the other one never gets a CM_SLAC_MATCH.REQ."""
    link = make_link(evs=2)
    a_sock, a_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    b_sock, b_mac = open_raw(link.evs[1].ifname, link.evs[1].netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    model = {a_mac: 9.0, b_mac: 31.0}
    b_core = EvseSlac(b_mac)
    b_task = asyncio.ensure_future(run_evse(b_sock, b_core, SimulatedModem()))
    r_a, r_ev = await asyncio.wait_for(asyncio.gather(
        run_evse(a_sock, EvseSlac(a_mac), SimulatedModem()),
        run_ev(ev_sock, EvSlac(ev_mac, EvSlacConfig(attenuation=lambda mac: model[mac])),
               SimulatedModem())), 30)
    assert isinstance(r_a, Matched) and r_a.ev_mac == ev_mac
    assert isinstance(r_ev, EvMatched) and r_ev.evse_mac == a_mac
    assert r_ev.attenuation == pytest.approx(9.0)
    assert not b_task.done() and b_core.matched is None  # B heard the EV but was not chosen
    b_task.cancel()
    for s in (a_sock, b_sock, ev_sock):
        s.close()


async def test_evse_keeps_serving_after_the_match(link: netsim.Link) -> None:
    """The EV starts SLAC again (e.g. it lost the MATCH.CNF): the EVSE, still serving,
    matches it again with the same key instead of ignoring it."""
    from josev.slac.driver import serve_evse

    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    events: list[object] = []
    serving = asyncio.ensure_future(
        serve_evse(evse_sock, EvseSlac(evse_mac), SimulatedModem(), events.append))
    first = await asyncio.wait_for(run_ev(ev_sock, EvSlac(ev_mac), SimulatedModem()), 30)
    second = await asyncio.wait_for(run_ev(ev_sock, EvSlac(ev_mac), SimulatedModem()), 30)
    assert isinstance(first, EvMatched) and isinstance(second, EvMatched)
    assert first.nmk == second.nmk
    matches = [e for e in events if isinstance(e, Matched)]
    assert len(matches) == 2 and matches[0].run_id != matches[1].run_id
    assert not serving.done()
    serving.cancel()
    evse_sock.close()
    ev_sock.close()
