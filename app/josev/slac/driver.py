"""asyncio drivers for SLAC: raw AF_PACKET sockets (EtherType 0x88E1) and the modem interface.

The modem is behind `Modem` (python-can style: one interface, backends by configuration):
- `QcaModem`: a real Qualcomm (QCA7000/7005) Green PHY modem on the interface: CM_SET_KEY.REQ
  is sent to it and its CNF awaited with a timeout (a modem that never answers is an error,
  not a hang); link status from the vendor VS_NW_INFO request (number of stations).
  CM_SET_KEY.CNF result: HomePlug GP names 0x00 success, but Qualcomm modems answer 0x01 on
  success (Qualcomm's own open-plc-utils treats 0x00 as "can't set keys"; EVerest's libslac
  defaults to 0x01 for the same reason), so 0x01 is success by default (`set_key_success`).
- `SimulatedModem`: the veth link has no modem. set_key succeeds at once (the NMK only
  matters to the EV, which gets it in CM_SLAC_MATCH.CNF); link status is unknown (None), so the
  EVSE reports "matched" without waiting for a join.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import socket
import struct
from collections.abc import Callable

from josev.slac.ev import EvMatched, EvSlac
from josev.slac.evse import EvseSlac, Failed, Joined, Matched, SendFrame, SetKey, State
from josev.slac.frames import (
    ETH_P_HOMEPLUG,
    MMType,
    SetKeyCnf,
    SetKeyReq,
    encode,
    encode_vendor_frame,
    parse_frame,
    parse_vendor_frame,
)

log = logging.getLogger(__name__)

SocketFactory = Callable[[int, int, int], socket.socket]
QCA_LOCAL_MAC = bytes.fromhex("00b052000001")  # a QCA modem's local management address
QCA_OUI = bytes.fromhex("00b052")
SET_KEY_HPGP_SUCCESS = 0x00   # CM_SET_KEY.CNF result "success" in the HomePlug GP text
SET_KEY_QCA_SUCCESS = 0x01    # what Qualcomm modems answer on success
VS_NW_INFO_REQ = 0xA038
VS_RS_DEV_REQ = 0xA01C


def open_raw(ifname: str, factory: SocketFactory = socket.socket) -> tuple[socket.socket, bytes]:
    """A non-blocking raw socket for HomePlug frames on `ifname`, and the interface's MAC."""
    sock = factory(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_HOMEPLUG))
    try:
        sock.bind((ifname, ETH_P_HOMEPLUG))
        sock.setblocking(False)
        mac = sock.getsockname()[4]
    except OSError:
        sock.close()
        raise
    return sock, bytes(mac)


NW_INFO_NETWORK_LEN = 17  # NID 7, SNID, TEI, role, CCo MAC 6, CCo TEI
NW_INFO_STATION_LEN = 15  # MAC 6, TEI, bridged MAC 6, average PHY rate TX, RX


def nw_info_stations(body: bytes) -> int:
    """Stations seen in a VS_NW_INFO.CNF (MMV 0 layout, as Qualcomm's int6k decodes it):
    the number of networks, then per network its 17 bytes, its number of stations and
    15 bytes per station. A truncated answer counts what it holds."""
    if not body:
        return 0
    total, at = 0, 1
    for _ in range(body[0]):
        if len(body) <= at + NW_INFO_NETWORK_LEN:
            break
        n = body[at + NW_INFO_NETWORK_LEN]
        total += n
        at += NW_INFO_NETWORK_LEN + 1 + NW_INFO_STATION_LEN * n
    return total


class ModemError(RuntimeError):
    pass


class Modem(abc.ABC):
    """The PLC modem on the host's interface."""

    @abc.abstractmethod
    async def set_key(self, nid: bytes, nmk: bytes) -> None:
        """Make the modem use this NMK/NID (raises ModemError when it refuses or is silent)."""

    async def link_up(self) -> bool | None:
        """True once a peer has joined; None when this modem cannot tell."""
        return None

    def on_frame(self, data: bytes) -> bool:
        """Offer a received frame; True if it was the modem's (not for SLAC)."""
        return False


class SimulatedModem(Modem):
    def __init__(self) -> None:
        self.keys: list[tuple[bytes, bytes]] = []

    async def set_key(self, nid: bytes, nmk: bytes) -> None:
        self.keys.append((nid, nmk))


class QcaModem(Modem):
    """A Qualcomm Green PHY modem. Field practice: a modem that stops answering is reset
    (VS_RS_DEV) and asked once more, instead of failing the session at the first silence."""

    def __init__(
        self, sock: socket.socket, host_mac: bytes, timeout: float = 2.0,
        *, reset_on_silence: bool = True, reset_wait: float = 2.0,
        set_key_success: frozenset[int] = frozenset({SET_KEY_QCA_SUCCESS}),
    ) -> None:
        self._sock = sock
        self._success = set_key_success
        self._mac = host_mac
        self._timeout = timeout
        self._reset_on_silence = reset_on_silence
        self._reset_wait = reset_wait
        self._cnf: asyncio.Future[int] | None = None
        self._nw_info: asyncio.Future[int] | None = None
        self._reset_cnf: asyncio.Future[None] | None = None
        self.resets = 0

    async def _set_key_once(self, nid: bytes, nmk: bytes) -> int | None:
        self._cnf = asyncio.get_running_loop().create_future()
        self._sock.send(encode(QCA_LOCAL_MAC, self._mac, SetKeyReq(nid, nmk)))
        try:
            return await asyncio.wait_for(self._cnf, self._timeout)
        except TimeoutError:
            return None

    async def reset(self) -> None:
        """VS_RS_DEV.REQ; waits for its CNF (or reset_wait) and then for the chip to boot."""
        self.resets += 1
        self._reset_cnf = asyncio.get_running_loop().create_future()
        self._sock.send(encode_vendor_frame(QCA_LOCAL_MAC, self._mac, VS_RS_DEV_REQ, QCA_OUI,
                                            b""))
        try:
            await asyncio.wait_for(self._reset_cnf, self._reset_wait)
        except TimeoutError:
            log.warning("QCA modem: no VS_RS_DEV.CNF; going on after %.1f s", self._reset_wait)

    async def set_key(self, nid: bytes, nmk: bytes) -> None:
        result = await self._set_key_once(nid, nmk)
        if result is None and self._reset_on_silence:
            log.warning("QCA modem: no CM_SET_KEY.CNF within %.1f s; resetting the chip",
                        self._timeout)
            await self.reset()
            result = await self._set_key_once(nid, nmk)
        if result is None:
            raise ModemError(f"no CM_SET_KEY.CNF within {self._timeout} s")
        if result not in self._success:
            expected = ", ".join(f"{r:#04x}" for r in sorted(self._success))
            raise ModemError(f"CM_SET_KEY.CNF result {result:#04x} (success is {expected})")

    async def link_up(self) -> bool | None:
        self._nw_info = asyncio.get_running_loop().create_future()
        self._sock.send(encode_vendor_frame(QCA_LOCAL_MAC, self._mac, VS_NW_INFO_REQ, QCA_OUI,
                                            b""))
        try:
            stations = await asyncio.wait_for(self._nw_info, self._timeout)
        except TimeoutError:
            return None
        return stations > 0

    def on_frame(self, data: bytes) -> bool:
        vendor = parse_vendor_frame(data)
        if vendor is not None:
            head, body = vendor
            if head.payload != QCA_OUI:
                return False
            if head.mmtype == VS_RS_DEV_REQ + 1:
                if self._reset_cnf is not None and not self._reset_cnf.done():
                    self._reset_cnf.set_result(None)
                return True
            if head.mmtype != VS_NW_INFO_REQ + 1:
                return False
            count = nw_info_stations(body)
            if self._nw_info is not None and not self._nw_info.done():
                self._nw_info.set_result(count)
            return True
        try:
            frame = parse_frame(data)
        except ValueError:
            return False
        if frame.mmtype == MMType.CM_SET_KEY_CNF:
            if self._cnf is not None and not self._cnf.done():
                self._cnf.set_result(SetKeyCnf.parse(frame.payload).result)
            return True
        return False


class _Reader:
    """Reads frames as they come; the modem's own frames go to it at once, because the loop
    may be waiting on the modem (CM_SET_KEY) and must not deadlock on its answer."""

    def __init__(self, sock: socket.socket, modem: Modem,
                 queue: asyncio.Queue[bytes] | None = None) -> None:
        self.sock = sock
        self.modem = modem
        self.queue: asyncio.Queue[bytes] = queue if queue is not None else asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        while True:
            try:
                data = self.sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("SLAC socket error: %s", exc)
                return
            if not self.modem.on_frame(data):
                self.queue.put_nowait(data)

    def close(self) -> None:
        self._loop.remove_reader(self.sock.fileno())

    async def get(self, deadline: float | None) -> bytes | None:
        timeout = None if deadline is None else max(0.0, deadline - self._loop.time())
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)
    except OSError as exc:
        log.warning("SLAC: frame not sent: %s", exc)


EvseEvent = Matched | Joined | Failed


async def serve_evse(
    sock: socket.socket,
    core: EvseSlac,
    modem: Modem,
    on_event: Callable[[EvseEvent], None],
    *,
    poll_link: float = 0.5,
    stop_on_match: bool = False,
    inbox: asyncio.Queue[bytes] | None = None,
) -> Failed | Matched:
    """Run an EVSE SLAC session (core.start() is called here).

    Keeps serving after a match (answering a repeated MATCH.REQ, matching again when the EV
    starts over) until it is cancelled (CP A/E/F) or the core fails; `stop_on_match` returns
    at the first match instead. Every Matched/Joined/Failed goes to `on_event`.
    `inbox` is the frame queue; a caller that changed the core from outside (hlc_session)
    puts b"" in it so the loop takes the core's new actions and deadline at once.
    """
    loop = asyncio.get_running_loop()
    reader = _Reader(sock, modem, inbox)
    matched: Matched | None = None
    next_poll = 0.0
    try:
        core.start(loop.time())
        while True:
            while (action := core.next_action()) is not None:
                if isinstance(action, SendFrame):
                    _send(sock, action.data)
                elif isinstance(action, SetKey):
                    try:
                        await modem.set_key(action.nid, action.nmk)
                        ok = True
                    except ModemError as exc:
                        log.warning("SLAC EVSE: set key failed: %s", exc)
                        ok = False
                    core.key_set(loop.time(), ok)
                else:
                    on_event(action)
                    if isinstance(action, Failed):
                        return action
                    if isinstance(action, Matched):
                        matched = action
                        if stop_on_match and not core.link_detection:
                            return action
                    if isinstance(action, Joined) and stop_on_match and matched is not None:
                        return matched
            deadline = core.get_timer()
            if core.link_detection and core.state is State.MATCHED:
                if loop.time() >= next_poll:  # ask the modem at most every poll_link seconds
                    up = await modem.link_up()
                    next_poll = loop.time() + poll_link
                    core.link_status(loop.time(), bool(up))
                    continue
                deadline = min(deadline or next_poll, next_poll)
            data = await reader.get(deadline)
            if not data:  # None: a deadline; b"": woken up after an outside change
                core.handle_timer(loop.time())
            else:
                core.receive_frame(data, loop.time())
    finally:
        reader.close()


async def run_evse(
    sock: socket.socket, core: EvseSlac, modem: Modem, *, poll_link: float = 0.5
) -> Matched | Failed:
    """One EVSE SLAC session until the first match (joined, with link detection) or failure."""
    return await serve_evse(sock, core, modem, lambda ev: None, poll_link=poll_link,
                            stop_on_match=True)


async def run_ev(sock: socket.socket, core: EvSlac, modem: Modem) -> EvMatched | Failed:
    """Run the EV side until matched (and joined through its modem) or failed."""
    loop = asyncio.get_running_loop()
    reader = _Reader(sock, modem)
    try:
        core.start(loop.time())
        while True:
            while (action := core.next_action()) is not None:
                if isinstance(action, SendFrame):
                    _send(sock, action.data)
                elif isinstance(action, SetKey):
                    await modem.set_key(action.nid, action.nmk)  # join the EVSE's network
                elif isinstance(action, EvMatched | Failed):
                    return action
            data = await reader.get(core.get_timer())
            if data is None:
                core.handle_timer(loop.time())
            else:
                core.receive_frame(data, loop.time())
    finally:
        reader.close()


def garbage_frame(dst: bytes, src: bytes, payload: bytes) -> bytes:
    """A HomePlug frame with an arbitrary payload (fault injection in tests)."""
    head = dst + src + struct.pack(">H", ETH_P_HOMEPLUG)
    return head + payload
