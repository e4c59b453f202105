"""Our SLAC against an implementation we did not write, across the veth link: Qualcomm's
`pev` (PEV-HLE emulator) with our EVSE, and Qualcomm's `evse` (EVSE-HLE emulator) with our EV
simulator; both from open-plc-utils, Debian package plc-utils-extra.

`pev` drives a real Green PHY modem that is not here, so `ModemStandIn` plays the two modems'
part, and only that (why it exists: no QCA7000 on this machine):
- the EV's modem: answers pev's CM_SET_KEY.REQ (sent to the QCA local address) with
  CM_SET_KEY.CNF result 0;
- the EVSE's modem: for each CM_MNBC_SOUND.IND pev sends, the CM_ATTEN_PROFILE.IND the EVSE
  host would get from its modem.
Everything SLAC between pev and our EVSE core is theirs and ours: pev parses our
CM_SLAC_PARM.CNF, CM_ATTEN_CHAR.IND and CM_SLAC_MATCH.CNF, and it then gives our NMK/NID to
its modem, which is what the test checks. Its CM_SET_KEY.REQ frames are parsed with our
SetKeyReq (the same layout QcaModem sends), and pev accepts our SetKeyCnf encoding (what
QcaModem parses).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from josev import netsim
from josev.slac.driver import (
    QCA_LOCAL_MAC,
    SET_KEY_QCA_SUCCESS,
    SimulatedModem,
    open_raw,
    run_ev,
    run_evse,
)
from josev.slac.ev import EvMatched, EvSlac, EvSlacConfig
from josev.slac.evse import EvseSlac, Matched
from josev.slac.frames import (
    NUM_GROUPS,
    AttenProfileInd,
    Frame,
    MMType,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    encode,
    mac_bytes,
    parse_frame,
)
from tests.requirements import require_tools

pytestmark = [pytest.mark.netns, pytest.mark.interop]


@pytest.fixture(autouse=True)
def _plc_utils() -> None:
    require_tools("pev", "evse", "int6k", package="plc-utils-extra")

PEV_INI = """[default]
VehicleIdentifier = 4A4F5345562D54455354000000000000000000
NetworkMembershipKey = 50D3E4933F855B7040784DF815AA8DB7
NetworkIdentifier = B0F2E695666B03
AttenuationThreshold = 40
MSoundPause = 20
SettleTime = 0
ChargeTime = 0
"""
ETH_P_ALL = 0x0003
ATTENUATION_DB = 20  # the stand-in EVSE modem's measurement, under pev's 40 dB threshold


class ModemStandIn:
    """The two modems' part (see the module docstring). Where each listens follows from how
    Linux delivers frames to packet sockets: one bound to EtherType 0x88E1 (pev's, ours) does
    not see frames sent from its own host, a socket bound to all EtherTypes does.
    - `ev_side` (all EtherTypes, in the EV's namespace) sees pev's outgoing sounds and sends
      the CM_ATTEN_PROFILE.IND across the link to the EVSE host;
    - `evse_side` (in the EVSE's namespace) gets pev's CM_SET_KEY.REQ across the link and
      answers it, so the CNF reaches pev from outside its host, as a modem's would."""

    def __init__(self, ev_side: socket.socket, evse_side: socket.socket, pev_mac: bytes,
                 evse_mac: bytes) -> None:
        self.ev_side = ev_side
        self.evse_side = evse_side
        self.pev_mac = pev_mac
        self.evse_mac = evse_mac
        self.set_keys: list[SetKeyReq] = []
        self.sounds = 0

    async def run(self) -> None:
        await asyncio.gather(self._sounds(), self._set_keys())

    async def _frames(self, sock: socket.socket) -> AsyncIterator[Frame]:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(sock, 2048)
            try:
                frame = parse_frame(data)
            except ValueError:
                continue
            if frame.src == self.pev_mac:
                yield frame

    async def _sounds(self) -> None:
        async for frame in self._frames(self.ev_side):
            if frame.mmtype == MMType.CM_MNBC_SOUND_IND:
                assert len(frame.payload) < MnbcSoundInd.FMT.size  # pev's short sounds (frames)
                MnbcSoundInd.parse(frame.payload)
                self.sounds += 1
                profile = AttenProfileInd(frame.src, (ATTENUATION_DB,) * NUM_GROUPS)
                self.ev_side.send(encode(self.evse_mac, QCA_LOCAL_MAC, profile))

    async def _set_keys(self) -> None:
        async for frame in self._frames(self.evse_side):
            if frame.mmtype == MMType.CM_SET_KEY_REQ and frame.dst == QCA_LOCAL_MAC:
                self.set_keys.append(SetKeyReq.parse(frame.payload))
                cnf = SetKeyCnf(SET_KEY_QCA_SUCCESS)  # pev takes 0x00 as "can't set keys"
                self.evse_side.send(encode(frame.src, QCA_LOCAL_MAC, cnf))


def all_types_socket(endpoint: netsim.Endpoint) -> socket.socket:
    """A packet socket for every EtherType on the endpoint's interface (sees outgoing)."""
    sock = endpoint.netns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((endpoint.ifname, ETH_P_ALL))
    sock.setblocking(False)
    return sock


async def test_qualcomm_pev_matches_our_evse(link: netsim.Link, tmp_path: Path) -> None:
    ini = tmp_path / "pev.ini"
    ini.write_text(PEV_INI)
    evse_sock, evse_mac = open_raw(link.evse.ifname, link.evse.netns.socket)
    pev_mac = mac_bytes(link.ev.mac)
    ev_side = all_types_socket(link.ev)
    evse_side, _ = open_raw(link.evse.ifname, link.evse.netns.socket)
    stand_in = ModemStandIn(ev_side, evse_side, pev_mac, evse_mac)
    modem_task = asyncio.create_task(stand_in.run())
    core = EvseSlac(evse_mac)
    evse_task = asyncio.create_task(run_evse(evse_sock, core, SimulatedModem()))
    await asyncio.sleep(0.1)
    argv = link.ev.netns.argv(["pev", "-i", link.ev.ifname, "-p", str(ini), "-d", "-x",
                               "-t", "1000"])
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        result = await asyncio.wait_for(evse_task, 30)
        out_bytes, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        modem_task.cancel()
        for sock in (evse_sock, ev_side, evse_side):
            sock.close()
    out = out_bytes.decode(errors="replace")
    assert isinstance(result, Matched), out
    assert result.ev_mac == pev_mac
    assert result.run_id[:6] == pev_mac        # pev's RunID starts with its own MAC
    assert stand_in.sounds == 10
    assert result.attenuation == ATTENUATION_DB
    assert proc.returncode == 0, out
    assert "CM_SLAC_MATCH.CNF" in out and "Charging" in out, out
    # pev's modem got: its own key at start, then OUR key after the match, then its own back
    keys = [(k.nid, k.nmk) for k in stand_in.set_keys]
    assert (result.nid, result.nmk) in keys, (keys, out)
    assert keys.index((result.nid, result.nmk)) > 0


EVSE_INI = """[default]
StationIdentifier = 4A4F5345562D45565345000000000000000000
NetworkMembershipKey = B59319D7E8157BA001B018669CCEE30D
NetworkIdentifier = 026BCBA5354E08
NumberOfSounds = 10
TimeToSound = 6
ResponseType = 1
SettleTime = 0
ChargeTime = 0
"""


async def answer_set_keys(sock: socket.socket, seen: list[SetKeyReq]) -> None:
    """The EVSE modem's CM_SET_KEY part, across the link from `evse` (see ModemStandIn)."""
    loop = asyncio.get_running_loop()
    while True:
        frame = parse_frame(await loop.sock_recv(sock, 2048))
        if frame.mmtype == MMType.CM_SET_KEY_REQ and frame.dst == QCA_LOCAL_MAC:
            seen.append(SetKeyReq.parse(frame.payload))
            sock.send(encode(frame.src, QCA_LOCAL_MAC, SetKeyCnf(SET_KEY_QCA_SUCCESS)))


async def test_our_ev_matches_qualcomm_evse(link: netsim.Link, tmp_path: Path) -> None:
    """Our EV simulator sends the CM_ATTEN_PROFILE.IND the EVSE's modem would (the veth has
    no modem); `evse` averages them, and gives our EV the NMK/NID of its configuration.
    `evse -t 5000`: its default read timeout (1 s) is shorter than the time our EV takes to
    collect every EVSE's results (TT_EV_atten_results, 1.2 s) before it sends
    CM_SLAC_MATCH.REQ; the standard gives an EVSE TT_EVSE_match_session (10 s) for that."""
    ini = tmp_path / "evse.ini"
    ini.write_text(EVSE_INI)
    modem_sock, _ = open_raw(link.ev.ifname, link.ev.netns.socket)
    seen: list[SetKeyReq] = []
    modem_task = asyncio.create_task(answer_set_keys(modem_sock, seen))
    argv = link.evse.netns.argv(["evse", "-i", link.evse.ifname, "-p", str(ini), "-d", "-l",
                                 "-x", "-t", "5000"])
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    try:
        for _ in range(500):  # evse listens once its modem took the key
            if seen:
                break
            await asyncio.sleep(0.01)
        config = EvSlacConfig(attenuation=lambda mac: float(ATTENUATION_DB))
        result = await asyncio.wait_for(run_ev(ev_sock, EvSlac(ev_mac, config),
                                               SimulatedModem()), 30)
        out_bytes, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        modem_task.cancel()
        ev_sock.close()
        modem_sock.close()
    out = out_bytes.decode(errors="replace")
    assert isinstance(result, EvMatched), out
    assert result.evse_mac == mac_bytes(link.evse.mac)
    assert result.nmk == bytes.fromhex("B59319D7E8157BA001B018669CCEE30D")
    assert result.nid == bytes.fromhex("026BCBA5354E08")
    assert result.attenuation == ATTENUATION_DB  # evse's average of our profiles
    assert "MatchedState: Charging" in out and proc.returncode == 0, out
    assert [(k.nid, k.nmk) for k in seen][:1] == [(result.nid, result.nmk)]


async def test_qualcomm_int6k_reads_the_modem_responder_like_qca_modem_does(
    link: netsim.Link,
) -> None:
    """QcaModem is tested against our responder (test_qca_modem.fake_qca), not a QCA7000.
    Qualcomm's own host tool, int6k, decodes that responder's VS_NW_INFO.CNF (networks,
    stations, per-station fields) and VS_RS_DEV.CNF the same way QcaModem does, so the
    responder's frames are the vendor's layout, not only ours."""
    from josev.slac.driver import QcaModem
    from tests.integration.slac.test_qca_modem import fake_qca

    modem_sock, _ = open_raw(link.evse.ifname, link.evse.netns.socket)
    stop = asyncio.Event()
    # joins: the responder reports 1 station once it saw a CM_SLAC_MATCH.CNF; before, 0
    responder = asyncio.create_task(fake_qca(modem_sock, [], stop))

    async def int6k(*args: str) -> str:
        argv = link.ev.netns.argv(["int6k", "-i", link.ev.ifname, *args, "00:b0:52:00:00:01"])
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, out
        return out.decode(errors="replace")

    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    reader = asyncio.get_running_loop()
    modem = QcaModem(ev_sock, ev_mac, timeout=2.0)
    reader.add_reader(ev_sock.fileno(), lambda: modem.on_frame(ev_sock.recv(2048)))
    try:
        before = await int6k("-m")
        assert "Found 1 Network(s)" in before and "network->STATIONS = 0" in before, before
        assert await modem.link_up() is False
        from josev.slac.frames import SlacMatchCnf
        ev_sock.send(encode(mac_bytes(link.evse.mac), ev_mac, SlacMatchCnf(
            ev_mac, mac_bytes(link.evse.mac), b"R" * 8, b"N" * 7, b"K" * 16)))
        for _ in range(200):
            if "network->STATIONS = 1" in (after := await int6k("-m")):
                break
        assert "station->MAC = 02:00:00:00:00:01" in after and "station->TEI = 3" in after
        assert "AvgPHYDR_TX = 016 mbps" in after and "AvgPHYDR_RX = 032 mbps" in after
        assert await modem.link_up() is True
        assert "Resetting" in await int6k("-R")
        await modem.reset()
        assert modem.resets == 1
    finally:
        reader.remove_reader(ev_sock.fileno())
        stop.set()
        await responder
        modem_sock.close()
        ev_sock.close()
