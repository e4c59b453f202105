"""The EV simulator's asyncio driver: SDP + TCP/TLS from the transport, the EvccCore, and the
simulated station's `sim/` channel for the EV side of the cable (plug, CP, battery).

Sans-I/O core, thin driver: one queue of events (responses, timers) feeds the core; its
actions are written to the connection, to timers and to the sim channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from josev.evcc.common.core import EvccCore
from josev.evcc.common.ev import EvConfig, EvModel
from josev.secc.common.actions import (
    Action,
    CancelTimer,
    EndSession,
    EvCommand,
    Progress,
    Send,
    SetTimer,
)
from josev.secc.common.timing import NORMATIVE, Timing
from josev.transport.connection import ConnectionClosed, V2gConnection
from josev.transport.evcc import EvccConfig, EvccConnectError, connect_evcc
from josev.transport.iface import PlcInterface
from josev.transport.tls import TlsProfile, client_credentials_from_store

log = logging.getLogger("josev.evcc")


# ISO 15118-3 Table 3: each state of a B-C-B toggle lasts TP_EV_vald_state_duration
# (200..400 ms); the station sees a whole sequence of 1..3 toggles within TT_EVSE_vald_toggle.
BCB_STATE_S = 0.3
TT_EVSE_VALD_TOGGLE = 3.5


class Cable(Protocol):
    """The EV side of the cable (the HAL simulator's sim/ev channel, or nothing)."""

    observes: bool   # can it see the station's CP oscillator (sleep and wake-up need that)?

    async def command(self, action: str, **data: Any) -> None: ...

    async def wait_oscillator(self, on: bool, timeout: float) -> bool:
        """True once the station's CP is at 5 % (on) or steady (off), False at the timeout."""
        ...


class NoCable:
    """No simulated station to talk to: CP and battery changes are only logged."""

    observes = False

    async def command(self, action: str, **data: Any) -> None:
        log.debug("EV cable (none): %s %s", action, data)

    async def wait_oscillator(self, on: bool, timeout: float) -> bool:
        return False


class SimCable:
    """The simulated station's `sim/ev` channel (josev-hal's simulator backend)."""

    def __init__(self, host: str, port: int, username: str | None = None,
                 password: str | None = None, prefix: str = "sim", evse_id: int = 1) -> None:
        from josev_hal.sim.client import SimClient  # the HAL is optional for the app

        self.client = SimClient(host, port, prefix, username=username, password=password)
        self.evse_id = evse_id

    async def __aenter__(self) -> SimCable:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.__aexit__(None, None, None)

    async def command(self, action: str, **data: Any) -> None:
        from josev_hal.sim import protocol as p

        cmd = p.EV_COMMANDS.validate_python({"action": action, "evse_id": self.evse_id, **data})
        await self.client.send(cmd)

    observes = True

    async def wait_oscillator(self, on: bool, timeout: float) -> bool:
        if not on:   # the start of a sleep: what was queued before it is history
            with contextlib.suppress(TimeoutError):
                for _ in range(1000):
                    await self.client.next_state(0.001)

        def seen(st: Any) -> bool:
            if on:
                return bool(st.cp_mode == "pwm" and abs(st.duty_cycle - 5.0) < 1.0)
            return bool(st.cp_mode == "steady")

        try:
            await self.client.wait_for(seen, timeout, evse_id=self.evse_id)
        except TimeoutError:
            return False
        return True

    async def tap(self, uid: str) -> None:
        """A driver presents a card at the station's reader (EIM)."""
        from josev_hal.sim import protocol as p

        await self.client.send(p.Tap(uid=uid, evse_id=self.evse_id))


@dataclass
class EvRun:
    """What happened: every session's end, progress samples, and the message round trips."""

    ends: list[EndSession] = field(default_factory=list)
    samples: list[Progress] = field(default_factory=list)
    protocol: str | None = None
    tls: str | None = None
    round_trips: list[tuple[str, float]] = field(default_factory=list)
    slac_s: float | None = None

    @property
    def ok(self) -> bool:
        return bool(self.ends) and self.ends[-1].ok


class EvDriver:
    def __init__(self, cfg: EvConfig, iface: PlcInterface, *, cable: Cable | None = None,
                 pki: Path | None = None, tls: bool = True, timing: Timing = NORMATIVE,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_connect: Callable[[V2gConnection], Awaitable[None]] | None = None,
                 slac: bool = True) -> None:
        self.cfg = cfg
        self.iface = iface
        self.cable: Cable = cable or NoCable()
        self.pki = pki
        self.tls = tls and pki is not None
        self.timing = timing
        self.ev = EvModel(cfg)
        self.on_progress = on_progress
        self.on_connect = on_connect
        self.result = EvRun()
        self._battery_sent = -1.0
        self.slac = slac
        self.plugged_at: float | None = None   # loop time of plug-in (the comm-setup timeout)

    def transport(self) -> EvccConfig:
        if not self.tls or self.pki is None:
            return EvccConfig(iface=self.iface, profile=None)
        # -20 needs TLS 1.3 with the vehicle's certificate; DIN and -2 use TLS 1.2.
        profile = TlsProfile.TLS13 if self.cfg.protocols[0].startswith("ISO20") \
            else TlsProfile.TLS12
        return EvccConfig(iface=self.iface, profile=profile,
                          credentials=client_credentials_from_store(self.pki, profile),
                          accept_no_tls=False)

    async def plug_in(self) -> None:
        await self.cable.command("battery", voltage=round(self.ev.ocv, 1),
                                 resistance=self.cfg.resistance,
                                 max_current=self.cfg.max_current)
        await self.cable.command("ev_contactor", mode="auto")
        await self.cable.command("plug", pp_ohm=220.0)
        await self.cable.command("cp", state="B")
        self.plugged_at = asyncio.get_running_loop().time()

    async def match(self) -> str | None:
        """SLAC (ISO 15118-3) as the EV; returns None when matched, else why not."""
        from josev.slac.driver import SimulatedModem, open_raw, run_ev
        from josev.slac.ev import EvMatched, EvSlac

        try:
            sock, mac = open_raw(self.iface.name, self.iface.socket_factory)
        except OSError as exc:
            return f"SLAC: cannot open {self.iface.name}: {exc}"
        try:
            t0 = time.perf_counter()
            result = await asyncio.wait_for(run_ev(sock, EvSlac(mac), SimulatedModem()), 60)
        except TimeoutError:
            return "SLAC: no match within 60 s"
        finally:
            sock.close()
        if not isinstance(result, EvMatched):
            return f"SLAC failed: {getattr(result, 'reason', result)}"
        self.result.slac_s = time.perf_counter() - t0
        log.info("EV: SLAC matched in %.2f s", self.result.slac_s)
        return None

    async def run(self, plug: bool = True, unplug: bool = True) -> EvRun:
        if plug:
            await self.plug_in()
        if self.slac:
            why = await self.match()
            if why is not None:
                self.result.ends.append(EndSession(why, False))
                if unplug:
                    await self.cable.command("unplug")
                return self.result
        resume: bytes | None = None
        while True:
            try:
                conn = await connect_evcc(self.transport())
            except (EvccConnectError, OSError) as exc:
                self.result.ends.append(EndSession(f"no connection: {exc}", False))
                break
            self.result.tls = conn.tls_version
            if self.on_connect is not None:
                await self.on_connect(conn)
            end, resume = await self.session(conn, resume)
            self.result.ends.append(end)
            if not end.paused or resume is None:
                break
            why = await self.sleep_and_wake()
            if why is not None:
                self.result.ends.append(EndSession(why, False))
                break
        if unplug and not any(e.reason.startswith("unplugged") for e in self.result.ends):
            await self.cable.command("cp", state="B")
            await asyncio.sleep(self.cfg.unplug_after)   # a person, not a machine, unplugs
            await self.cable.command("unplug")
        return self.result

    async def sleep_and_wake(self) -> str | None:
        """The pause as ISO 15118-3 has it: the EV sleeps in state B while the station keeps
        its oscillator off (X1); the station wakes the EV by switching it back on at 5 %, or
        the EV wakes the station with B-C-B toggles and waits for the 5 %. Both then resume
        the paused session over the old logical network (no new SLAC). None when awake."""
        await self.cable.command("cp", state="B")
        if not self.cable.observes:
            log.info("EV: paused; back in %.1f s", self.cfg.resume_after)
            await asyncio.sleep(self.cfg.resume_after)
            return None
        if not await self.cable.wait_oscillator(on=False, timeout=3.0):
            # A station that does not sleep (keeps 5 %): come back after the pause as before.
            log.warning("EV: the station kept its oscillator on during the pause")
            await asyncio.sleep(self.cfg.resume_after)
            return None
        log.info("EV: asleep (station oscillator off)")
        if await self.cable.wait_oscillator(on=True, timeout=self.cfg.resume_after):
            log.info("EV: woken by the station (5 %% PWM)")
            return None
        log.info("EV: waking the station with %d B-C-B toggle(s)", self.cfg.bcb_toggles)
        for _ in range(self.cfg.bcb_toggles):
            await self.cable.command("cp", state="C")
            await asyncio.sleep(BCB_STATE_S)
            await self.cable.command("cp", state="B")
            await asyncio.sleep(BCB_STATE_S)
        if await self.cable.wait_oscillator(on=True, timeout=TT_EVSE_VALD_TOGGLE + 2.0):
            log.info("EV: the station woke up (5 %% PWM)")
            return None
        return "the station did not answer the B-C-B wake-up with 5 % PWM"

    async def session(self, conn: V2gConnection,
                      resume: bytes | None) -> tuple[EndSession, bytes | None]:
        loop = asyncio.get_running_loop()
        core = EvccCore(self.cfg, self.ev, timing=self.timing, resume_session=resume,
                        epoch=time.time() - loop.time())
        events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        timers: dict[str, asyncio.TimerHandle] = {}
        sent_at: dict[str, float] = {}

        async def read() -> None:
            try:
                async for msg in conn:
                    events.put_nowait(("msg", msg.payload_type, msg.payload))
            except ConnectionClosed:
                pass
            events.put_nowait(("closed",))

        async def apply(actions: list[Action]) -> EndSession | None:
            end = None
            for a in actions:
                if isinstance(a, Send):
                    sent_at[a.message[:-3]] = time.perf_counter()
                    try:
                        await conn.send(a.payload_type, a.data)
                    except ConnectionClosed:
                        events.put_nowait(("closed",))
                elif isinstance(a, SetTimer):
                    old = timers.pop(a.name, None)
                    if old is not None:
                        old.cancel()
                    timers[a.name] = loop.call_at(a.at, events.put_nowait,
                                                  ("timer", a.name, a.at))
                elif isinstance(a, CancelTimer):
                    old = timers.pop(a.name, None)
                    if old is not None:
                        old.cancel()
                elif isinstance(a, EvCommand):
                    await self.cable.command(a.name, **a.data)
                elif isinstance(a, Progress):
                    self.result.samples.append(a)
                    if self.on_progress is not None:
                        self.on_progress(a)
                    if abs(self.ev.ocv - self._battery_sent) >= 1.0 and battery.empty():
                        # In the background: the charge loop must not wait on the broker.
                        self._battery_sent = self.ev.ocv
                        battery.put_nowait(round(self.ev.ocv, 1))
                elif isinstance(a, EndSession):
                    end = a
            return end

        battery: asyncio.Queue[float] = asyncio.Queue()

        async def battery_updates() -> None:
            while True:
                volts = await battery.get()
                await self.cable.command("battery", voltage=volts,
                                         resistance=self.cfg.resistance,
                                         max_current=self.cfg.max_current)

        reader = asyncio.create_task(read())
        updater = asyncio.create_task(battery_updates())
        try:
            # The first session counts its setup time from plug-in; a resumed one from now.
            end = await apply(core.start(loop.time(),
                                         self.plugged_at if resume is None else None))
            while end is None:
                ev = await events.get()
                if ev[0] == "timer":
                    # A response already in the socket when the timer came due is not a
                    # timeout (after a stall the timer callback runs before the reader task).
                    for _ in range(3):
                        await asyncio.sleep(0)
                    pending = [events.get_nowait() for _ in range(events.qsize())]
                    msgs = [e for e in pending if e[0] == "msg"]
                    if msgs:
                        for e in pending:
                            if e is not msgs[0]:
                                events.put_nowait(e)
                        events.put_nowait(ev)
                        ev = msgs[0]
                    else:
                        for e in pending:
                            events.put_nowait(e)
                now = loop.time()
                if ev[0] == "msg":
                    if core.session is not None and core.session.pending:
                        name = core.session.pending
                        if name in sent_at:
                            self.result.round_trips.append(
                                (name, time.perf_counter() - sent_at[name]))
                    out = core.receive(ev[1], ev[2], now)
                elif ev[0] == "timer":
                    timers.pop(ev[1], None)
                    # asyncio may run a timer up to its clock resolution early.
                    out = core.handle_timer(ev[1], max(now, ev[2]))
                else:
                    out = core.connection_lost(now)
                end = await apply(out)
            self.result.protocol = core.protocol
        finally:
            reader.cancel()
            updater.cancel()
            for h in timers.values():
                h.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await conn.close()
        return end, core.paused_session
