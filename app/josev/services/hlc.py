"""HLC inside josev-iso15118: the SECC cores bound to the transport and to the Josev API.

One `EvseHlc` per EVSE runs the transport's SECC server (SDP + TCP/TLS) on the EVSE's PLC
interface; each V2G connection gets a `SessionDriver`, which feeds one sans-I/O `SeccCore`
from a single queue (messages, timers, API responses, station changes), so the core never sees
two events at once. Setpoints and status updates go out without waiting (the charge loops
answer from the station-state cache); API responses come back as events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from josev.api import ApiClient, ApiError
from josev.lean.generated import api as models
from josev.lean.generated.config import HlcConfig
from josev.sap import PROTOCOLS
from josev.secc.common.actions import (
    Action,
    ApiRequest,
    ApiUpdate,
    CancelTimer,
    EndSession,
    Send,
    SetTimer,
)
from josev.secc.common.core import IMPLEMENTED, SeccCore
from josev.secc.common.session import PausedSession, SeccConfig
from josev.slac.wakeup import SleepTracker, Wake
from josev.station import StationState
from josev.transport.connection import ConnectionClosed, V2gConnection
from josev.transport.iface import InterfaceError, PlcInterface
from josev.transport.secc import SeccConfig as TransportConfig
from josev.transport.secc import SeccServer, serve_secc
from josev.transport.tls import TlsServerConfig

log = logging.getLogger("josev.hlc")


def secc_config(hlc: HlcConfig, evse_id: int, evse_id_text: str) -> SeccConfig:
    """The SECC settings of one EVSE from the `[iso15118]` table; unknown protocols are errors,
    known but unimplemented ones a warning (they are not offered)."""
    unknown = [p for p in hlc.protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown protocol(s) {unknown}; known: {list(PROTOCOLS)}")
    missing = [p for p in hlc.protocols if p not in IMPLEMENTED]
    if missing:
        log.warning("protocol(s) %s not implemented yet: not offered", missing)
    return SeccConfig(evse_id=evse_id, evse_id_text=evse_id_text,
                      protocols=tuple(hlc.protocols), prefer=hlc.prefer,
                      control_modes=tuple(hlc.control_modes),
                      free_charging=hlc.free_charging)


@dataclass
class Turnaround:
    """Request fully received -> response written, per message (for the benchmark)."""

    message: str
    seconds: float


class SessionDriver:
    """Drives one SeccCore over one V2G connection."""

    def __init__(self, evse: EvseHlc, conn: V2gConnection, plugged_at: float | None) -> None:
        self.evse = evse
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        epoch = time.time() - self.loop.time()
        matched = getattr(evse.slac, "last", None)   # the EV's MAC, from SLAC (ISO 15118-3)
        mac = matched.ev_mac.hex(":") if matched is not None else ""
        self.core = SeccCore(evse.config, evse.state, epoch=epoch, evcc_mac=mac,
                             paused=evse.paused)
        self.core.ctx.authorized = evse.authorized
        self.events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.outbox: asyncio.Queue[ApiUpdate | None] = asyncio.Queue()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.plugged_at = plugged_at
        self.end: EndSession | None = None
        self.received_at = 0.0
        self.turnarounds: list[Turnaround] = []

    def post(self, *event: Any) -> None:
        self.events.put_nowait(event)

    async def run(self) -> EndSession | None:
        reader = asyncio.create_task(self._read())
        publisher = asyncio.create_task(self._publish())
        try:
            await self.apply(self.core.start(self.loop.time(), self.plugged_at))
            while self.end is None:
                event = await self.events.get()
                if event[0] == "timer":
                    event = await self._message_first(event)
                now = self.loop.time()
                kind = event[0]
                if kind == "msg":
                    self.received_at = event[3]
                    out = self.core.receive(event[1], event[2], now)
                elif kind == "timer":
                    self.timers.pop(event[1], None)
                    # asyncio may run a timer up to its clock resolution early.
                    out = self.core.handle_timer(event[1], max(now, event[2]))
                elif kind == "api":
                    out = self.core.api_response(event[1], event[2], now)
                elif kind == "station":
                    out = self.core.station_updated(now)
                elif kind == "stop":
                    out = self.core.stop_charging(now)
                elif kind == "closed":
                    out = self.core.connection_lost(now)
                else:
                    out = []
                await self.apply(out)
        finally:
            reader.cancel()
            for h in self.timers.values():
                h.cancel()
            self.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reader
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(publisher, 2.0)
            for task in self.tasks:
                task.cancel()
            await self.conn.close()
        return self.end

    async def _message_first(self, timer: tuple[Any, ...]) -> tuple[Any, ...]:
        """A request already in the socket when a timer came due is not a timeout: after a
        stall (a busy CPU), the timer callback runs before the reader task has posted the
        data it was woken for. Let the reader run, and take its message first."""
        for _ in range(3):
            await asyncio.sleep(0)
        pending = []
        while not self.events.empty():
            pending.append(self.events.get_nowait())
        msgs = [e for e in pending if e[0] == "msg"]
        if not msgs:
            for e in pending:
                self.events.put_nowait(e)
            return timer
        first = msgs[0]
        for e in pending:
            if e is not first:
                self.events.put_nowait(e)
        self.events.put_nowait(timer)   # still handled: stale by then unless really due
        return first

    async def _read(self) -> None:
        try:
            async for msg in self.conn:
                self.post("msg", msg.payload_type, msg.payload, time.perf_counter())
        except ConnectionClosed:
            pass
        self.post("closed")

    async def _publish(self) -> None:
        """Updates leave in order, never blocking the session."""
        client = self.evse.client
        while True:
            upd = await self.outbox.get()
            if upd is None:
                return
            try:
                await client.update(upd.name, upd.data)
            except (ApiError, ValueError) as exc:
                log.warning("evse %d: %s update not sent: %s", self.evse.evse_id, upd.name, exc)

    async def _request(self, req: ApiRequest) -> None:
        try:
            resp = await self.evse.client.request(req.name, req.data,
                                                  timeout=self.evse.hlc.api_timeout)
        except (ApiError, ValueError) as exc:
            log.warning("evse %d: %s: %s", self.evse.evse_id, req.name, exc)
            resp = None
        if req.name == "cs_contactor_status" and resp is not None:
            self.evse.state.set_contactor(resp)
            self.post("station")
            return
        self.post("api", req.name, resp)

    def _fire(self, name: str, at: float) -> None:
        self.post("timer", name, at)

    async def apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                try:
                    await self.conn.send(a.payload_type, a.data)
                except ConnectionClosed:
                    self.post("closed")
                    continue
                spent = time.perf_counter() - self.received_at
                self.turnarounds.append(Turnaround(a.message, spent))
                if self.loop.time() > a.deadline:
                    log.warning("evse %d: %s written %.1f ms after its performance time",
                                self.evse.evse_id, a.message,
                                (self.loop.time() - a.deadline) * 1000)
            elif isinstance(a, SetTimer):
                old = self.timers.pop(a.name, None)
                if old is not None:
                    old.cancel()
                self.timers[a.name] = self.loop.call_at(a.at, self._fire, a.name, a.at)
            elif isinstance(a, CancelTimer):
                old = self.timers.pop(a.name, None)
                if old is not None:
                    old.cancel()
            elif isinstance(a, ApiRequest):
                task = asyncio.create_task(self._request(a))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif isinstance(a, ApiUpdate):
                self.outbox.put_nowait(a)
            elif isinstance(a, EndSession):
                self.end = a


class EvseHlc:
    """The SECC of one EVSE: its server, its current session and what outlives a session."""

    def __init__(self, client: ApiClient, state: StationState, evse_id: int, hlc: HlcConfig,
                 iface: PlcInterface, evse_id_text: str = "DE*JSV*E1") -> None:
        self.client = client
        self.state = state
        self.evse_id = evse_id
        self.hlc = hlc
        self.iface = iface
        self.config = secc_config(hlc, evse_id, evse_id_text)
        self.paused: dict[bytes, PausedSession] = {}
        self.server: SeccServer | None = None
        self.driver: SessionDriver | None = None
        self.plugged_at: float | None = None
        self.authorized: bool | None = None
        self.sessions: list[EndSession] = []
        self.slac: Any = None
        self.sleep = SleepTracker()        # ISO 15118-3 sleep mode after a paused session
        self._sleep_timer: asyncio.TimerHandle | None = None
        self._pwm_tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        tls = TlsServerConfig.from_store(self.hlc.pki) if self.hlc.pki else None
        cfg = TransportConfig(iface=self.iface, tls=tls, allow_plain=self.hlc.allow_plain or
                              tls is None, evse_id=str(self.evse_id))
        self.server = await serve_secc(cfg, self.on_connection)
        log.info("evse %d: SECC listening on %s (TLS %s, TCP %s)", self.evse_id,
                 self.iface.name, getattr(self.server, "tls_port", None),
                 getattr(self.server, "tcp_port", None))

    async def on_connection(self, conn: V2gConnection) -> None:
        if self.driver is not None:
            self.driver.post("closed")
        driver = SessionDriver(self, conn, self.plugged_at)
        self.driver = driver
        log.info("evse %d: V2G connection %r", self.evse_id, conn)
        # SLAC must not time out or restart (new NMK, PWM off) under a running session
        hold = self.slac.v2g_session() if self.slac is not None else contextlib.nullcontext()
        try:
            with hold:
                end = await driver.run()
        except Exception:
            log.exception("evse %d: session driver failed", self.evse_id)
            end = EndSession("driver failure", False)
        if end is not None:
            self.sessions.append(end)
            if end.paused and self.paused:
                self.go_to_sleep()
        self.log_turnarounds(driver.turnarounds)
        if self.driver is driver:
            self.driver = None
            self.authorized = None

    def log_turnarounds(self, samples: list[Turnaround]) -> None:
        """One line per session: request fully received -> response written, in ms (the
        benchmark reads it; operators see slow stations)."""
        by: dict[str, list[float]] = {}
        for t in samples:
            by.setdefault(t.message, []).append(t.seconds * 1000.0)
        stats = {}
        for name, values in sorted(by.items()):
            values.sort()
            stats[name] = {"n": len(values), "p50": round(values[len(values) // 2], 3),
                           "p99": round(values[min(len(values) - 1, int(len(values) * 0.99))], 3),
                           "max": round(values[-1], 3)}
        log.info("evse %d: turnaround %s", self.evse_id, json.dumps(stats, separators=(",", ":")))

    def station_changed(self) -> None:
        if self.driver is not None:
            self.driver.post("station")

    def go_to_sleep(self) -> None:
        """A paused session: the oscillator stays off (X1) until one side wakes the other."""
        self.sleep.sleep(asyncio.get_running_loop().time())
        log.info("evse %d: session paused: sleep mode, CP oscillator off", self.evse_id)
        self._pwm(hlc=False)

    def wake_from_station(self) -> None:
        self._woken(self.sleep.wake_from_station())

    def _woken(self, wake: Wake | None) -> None:
        if self._sleep_timer is not None and (wake is not None or self.sleep.timer() is None):
            self._sleep_timer.cancel()
            self._sleep_timer = None
        if wake is None:
            return
        if wake.by == "ev":
            log.info("evse %d: woken by the EV (%d B-C-B toggle(s)): 5 %% PWM", self.evse_id,
                     wake.toggles)
        else:
            log.info("evse %d: waking the EV: 5 %% PWM", self.evse_id)
        self._pwm(hlc=True)

    def _sleep_tick(self) -> None:
        self._sleep_timer = None
        self._woken(self.sleep.handle_timer(asyncio.get_running_loop().time()))

    def _pwm(self, hlc: bool) -> None:
        req = models.CpPwmRequest(evse_id=self.evse_id, hlc=hlc, current=None if hlc else 0,
                                  error_state=False, fault_state=False)

        async def send() -> None:
            try:
                await self.client.request("cp_pwm", req, timeout=self.hlc.api_timeout)
            except ApiError as exc:
                log.warning("evse %d: cp_pwm (hlc=%s) failed: %s", self.evse_id, hlc, exc)

        task = asyncio.create_task(send())
        self._pwm_tasks.add(task)
        task.add_done_callback(self._pwm_tasks.discard)

    def cp_changed(self, before: str, after: str) -> None:
        loop = asyncio.get_running_loop()
        self._woken(self.sleep.cp(after, loop.time()))
        deadline = self.sleep.timer()
        if deadline is not None:
            if self._sleep_timer is not None:
                self._sleep_timer.cancel()
            self._sleep_timer = loop.call_at(deadline, self._sleep_tick)
        if after.startswith("B") and (before == "" or before.startswith("A")):
            self.plugged_at = asyncio.get_running_loop().time()
        elif after[:1] in ("A", "E", "F"):
            self.plugged_at = None
            self.paused.clear()   # a paused session does not survive an unplug
        self.station_changed()

    def stop_charging(self) -> bool:
        if self.driver is None:
            return False
        self.driver.post("stop")
        return True

    def authorize(self, accepted: bool) -> None:
        self.authorized = accepted
        if self.driver is not None:
            self.driver.core.ctx.authorized = accepted
            self.driver.post("station")

    async def close(self) -> None:
        if self._sleep_timer is not None:
            self._sleep_timer.cancel()
        for task in list(self._pwm_tasks):
            task.cancel()
        if self.driver is not None:
            self.driver.post("closed")
        if self.server is not None:
            await self.server.close()


def iface_in_netns(netns: str, ifname: str) -> PlcInterface:
    """The PLC interface inside a named network namespace, with sockets made there.

    Why: in the simulated station the broker is on this process's loopback while the PLC link
    is in the EVSE's namespace; josev.netsim creates sockets from a thread inside it."""
    import ipaddress

    from josev import netsim

    ns = netsim.Netns(netns)

    def find() -> tuple[int, str]:
        index = socket.if_nametoindex(ifname)
        for line in Path("/proc/thread-self/net/if_inet6").read_text().splitlines():
            parts = line.split()
            if parts[-1] == ifname and parts[0].startswith("fe80"):
                return index, parts[0]
        raise InterfaceError(f"{ifname} in netns {netns} has no link-local IPv6 address")

    try:
        index, hexaddr = ns.run(find)
    except (OSError, netsim.NamespaceUnavailable) as exc:
        raise InterfaceError(f"PLC interface {ifname!r} in netns {netns!r}: {exc}") from exc
    return PlcInterface(ifname, index, ipaddress.IPv6Address(bytes.fromhex(hexaddr)), ns.socket)


class Hlc:
    """All EVSEs of the station; wired into the Iso15118Service's API client."""

    def __init__(self, client: ApiClient, state: StationState, hlc: HlcConfig) -> None:
        self.client = client
        self.state = state
        self.hlc = hlc
        self.evses: dict[int, EvseHlc] = {}
        self.slac: dict[int, Any] = {}
        client.on_request("stop_charging", self._stop_charging)
        client.on_request("authorization", self._authorization)
        client.on_update("iso15118_charge_limit", self._on_charge_limit)

    def lookup(self, name: str) -> PlcInterface:
        if self.hlc.netns:
            return iface_in_netns(self.hlc.netns, name)
        return PlcInterface.lookup(name)

    def warm_up(self) -> None:
        """Load the protocol code and codecs now, not on the first EV message: a first
        supportedAppProtocolReq must be answered within 1.5 s, and importing the generated
        -20 codecs takes most of a second on a busy 2-core machine."""
        from josev.secc.common.core import make_session

        core = SeccCore(secc_config(self.hlc, 1, "warm"), self.state)
        for name in self.hlc.protocols:
            if name in IMPLEMENTED and core.fits(name):
                with contextlib.suppress(Exception):
                    make_session(name, core.ctx, 0.0)

    async def start(self) -> None:
        """One SECC per EVSE that has a PLC interface; a missing interface is logged, not fatal."""
        self.warm_up()
        dm = self.state.device_model
        texts = {e.ocpp_id: e.iso15118_id for e in dm.evses} if dm else {}
        for evse_id in sorted(self.state.evses):
            ev = self.state.evse(evse_id)
            name = self.hlc.iface or (ev.parameters.network_interface if ev.parameters else None)
            if name is None:
                log.error("evse %d: no PLC interface known: no HLC on this EVSE", evse_id)
                continue
            try:
                iface = self.lookup(name)
            except InterfaceError as exc:
                log.error("evse %d: %s: no HLC on this EVSE", evse_id, exc)
                continue
            evse = EvseHlc(self.client, self.state, evse_id, self.hlc, iface,
                           texts.get(evse_id, "DE*JSV*E1"))
            await evse.start()
            self.evses[evse_id] = evse
            if self.hlc.slac:
                from josev.slac.service import SlacService

                self.slac[evse_id] = evse.slac = SlacService(
                    self.client, evse_id, iface.name, socket_factory=iface.socket_factory)
                log.info("evse %d: SLAC on %s", evse_id, iface.name)

    def on_cp(self, before: str | None, value: models.CpStatusUpdate) -> None:
        slac = self.slac.get(value.evse_id)
        if slac is not None:
            slac.on_cp_status(value)
        evse = self.evses.get(value.evse_id)
        if evse is not None and before is not None:
            evse.cp_changed(before, value.state)

    def on_station(self) -> None:
        for evse in self.evses.values():
            evse.station_changed()

    def _on_charge_limit(self, value: models.Iso15118ChargeLimitUpdate) -> None:
        """Smart charging's limit for one EVSE: kept in the station state (it outlives the
        session, until the next update) and applied by the running session at once; a
        positive limit also wakes a sleeping EV (ISO 15118-3: power may flow again)."""
        if not self.state.set_charge_limit(value):
            return
        evse = self.evses.get(value.evse_id)
        if evse is None:
            return
        evse.station_changed()
        if value.limit > 0 and evse.sleep.asleep:
            evse.wake_from_station()

    async def _stop_charging(self, req: models.StopChargingRequest) -> models.StopChargingResponse:
        evse = self.evses.get(req.evse_id)
        ok = evse is not None and evse.stop_charging()
        return models.StopChargingResponse(evse_id=req.evse_id,
                                           status="accepted" if ok else "rejected")

    async def _authorization(self, req: models.AuthorizationRequest
                             ) -> models.AuthorizationResponse:
        """EIM at the station (card, key code): with free charging every token is accepted;
        otherwise the token is accepted here too (a CSMS check belongs to josev-ocpp)."""
        targets = [self.evses[req.evse_id]] if req.evse_id in self.evses else \
            list(self.evses.values())
        for evse in targets:
            evse.authorize(True)
        return models.AuthorizationResponse(status="accepted")

    async def close(self) -> None:
        for slac in self.slac.values():
            await slac.close()
        for evse in self.evses.values():
            await evse.close()
