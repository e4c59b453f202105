"""SLAC coupled to the station through the Josev API (a thin layer; the core knows nothing).

- `cp_status` B1/B2 starts matching (after asking for 5 % with `cp_pwm`); A*, E and F abort.
- `slac_status` reports matching / matched / failed / unmatched.
- The "5 % restart" real EVs need (V2G3-M06-07): after a failed attempt the pilot goes to
  state F for T_step_EF (`restart_pause`, 4 s) and back to 5 %, which makes the EV start SLAC
  again; the F this service asked for is not taken for an unplug. After C_sequ_retry
  (`restarts`, 2) such retries the EVSE reports "unmatched" (the station may then offer
  basic charging).
- Never while a V2G session is up on this EVSE (`with service.v2g_session(): ...` around
  it): SLAC timeouts, failures and restarts are off until the session ends or CP goes
  A/E/F, because a restart sets a new NMK and switches the PWM off, which ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Protocol

from josev.api import ApiError
from josev.lean.generated import api as models
from josev.slac.driver import EvseEvent, Modem, SimulatedModem, open_raw, serve_evse
from josev.slac.evse import EvseSlac, Failed, Matched
from josev.slac.timers import DEFAULT_TIMERS, SlacTimers

log = logging.getLogger(__name__)

NO_RUN_ID = "00" * 8  # slac_status before an EV's RunID is known


class Api(Protocol):
    async def request(
        self, name: str, data: models.ApiModel, *, timeout: float | None = None
    ) -> object: ...

    async def update(self, name: str, data: models.ApiModel) -> None: ...


class SlacService:
    def __init__(
        self,
        api: Api,
        evse_id: int,
        ifname: str,
        *,
        socket_factory: Callable[[int, int, int], socket.socket] = socket.socket,
        modem_factory: Callable[[socket.socket, bytes], Modem] = lambda s, m: SimulatedModem(),
        timers: SlacTimers = DEFAULT_TIMERS,
        restarts: int = 2,
        restart_pause: float = 4.0,
    ) -> None:
        self.api = api
        self.evse_id = evse_id
        self.ifname = ifname
        self._factory = socket_factory
        self._modem_factory = modem_factory
        self.timers = timers
        self.restarts = restarts
        self.restart_pause = restart_pause
        self._task: asyncio.Task[None] | None = None
        self._aborts: set[asyncio.Future[None]] = set()
        self.last: Matched | None = None
        self.history: list[str] = []
        self._holds: set[object] = set()      # one per V2G session up on this EVSE
        self._hlc_idle = asyncio.Event()
        self._hlc_idle.set()
        self._core: EvseSlac | None = None
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._own_f = False                   # the pilot is in F because we asked for it

    @property
    def hlc_active(self) -> bool:
        """A V2G session is up on this EVSE: no SLAC timeouts, failures or restarts."""
        return bool(self._holds)

    @contextlib.contextmanager
    def v2g_session(self) -> Iterator[None]:
        """Hold SLAC's timeouts and restarts off for the duration of one V2G session
        (nested/overlapping sessions count; CP A/E/F releases every hold)."""
        token = object()
        self._holds.add(token)
        if len(self._holds) == 1:
            self._hlc_changed(True)
        try:
            yield
        finally:
            if token in self._holds:
                self._holds.discard(token)
                if not self._holds:
                    self._hlc_changed(False)

    def _hlc_changed(self, active: bool) -> None:
        log.info("SLAC EVSE %d: V2G session %s: SLAC timeouts and restarts %s", self.evse_id,
                 "up" if active else "ended", "off" if active else "on again")
        if active:
            self._hlc_idle.clear()
        else:
            self._hlc_idle.set()
        if self._core is not None:
            self._core.hlc_session(asyncio.get_running_loop().time(), active)
            self._inbox.put_nowait(b"")  # the serving loop re-reads the core's deadline

    def on_cp_status(self, update: models.CpStatusUpdate) -> None:
        """Callback for `cp_status` updates (register with api.on_update)."""
        if update.evse_id != self.evse_id:
            return
        state = update.state
        running = self._task is not None and not self._task.done()
        if state in ("B1", "B2") and not running and self.last is None:
            if self.hlc_active:
                # a new matching would set a new NMK under the running session
                log.info("SLAC EVSE %d: CP %s during a V2G session: no new matching",
                         self.evse_id, state)
                return
            self._task = asyncio.ensure_future(self._session())
        elif state[0] in "EF" and self._own_f:
            log.debug("SLAC EVSE %d: CP %s is our own T_step_EF", self.evse_id, state)
        elif state[0] in "AEF":
            self.last = None
            if self._holds:
                self._holds.clear()
                self._hlc_changed(False)
            if running and self._task is not None:
                log.info("SLAC EVSE %d: CP %s, aborting matching", self.evse_id, state)
                self._task.cancel()
                self._spawn(self._status(NO_RUN_ID, "unmatched"))

    async def _status(self, run_id: str, status: str) -> None:
        self.history.append(status)
        try:
            await self.api.update("slac_status", models.SlacStatusUpdate(
                evse_id=self.evse_id, run_id=run_id, status=status))
        except ApiError as exc:
            log.warning("SLAC EVSE %d: slac_status %s not sent: %s", self.evse_id, status, exc)

    async def _pwm(self, hlc: bool, fault: bool = False) -> None:
        req = models.CpPwmRequest(evse_id=self.evse_id, hlc=hlc and not fault,
                                  current=None if hlc or fault else 0,
                                  error_state=False, fault_state=fault)
        try:
            await self.api.request("cp_pwm", req, timeout=2.0)
        except ApiError as exc:
            log.warning("SLAC EVSE %d: cp_pwm (hlc=%s, F=%s) failed: %s", self.evse_id, hlc,
                        fault, exc)

    async def _step_ef(self) -> None:
        """V2G3-M06-07: state F for T_step_EF; the caller then asks for 5 % again."""
        self._own_f = True   # until the 5 % of the next attempt has been asked for
        await self._pwm(False, fault=True)
        await asyncio.sleep(self.restart_pause)

    async def _session(self) -> None:
        try:
            sock, mac = open_raw(self.ifname, self._factory)
        except OSError as exc:
            log.error("SLAC EVSE %d: cannot open %s: %s", self.evse_id, self.ifname, exc)
            await self._status(NO_RUN_ID, "failed")
            return
        try:
            modem = self._modem_factory(sock, mac)
            for attempt in range(1 + self.restarts):
                if self.hlc_active:
                    await self._hlc_idle.wait()  # a new matching sets a new NMK: not now
                await self._pwm(True)
                self._own_f = False
                await self._status(NO_RUN_ID, "matching")
                self._inbox = asyncio.Queue()  # no frames left over from a previous attempt
                core = self._core = EvseSlac(mac, self.timers)
                core.hlc_active = self.hlc_active  # a session may have come up meanwhile
                try:
                    result = await serve_evse(sock, core, modem, self._event, inbox=self._inbox)
                finally:
                    self._core = None
                # serve_evse only returns on failure: a match keeps it serving until CP A/E/F
                if not isinstance(result, Failed):
                    return
                await self._status(NO_RUN_ID, "failed")
                if self.hlc_active:
                    # only a failure that raced the session's start gets here
                    log.warning("SLAC EVSE %d: %s, but a V2G session is up: no restart "
                                "until it ends", self.evse_id, result.reason)
                    await self._hlc_idle.wait()
                if attempt < self.restarts:
                    log.info("SLAC EVSE %d: %s; 5 %% restart %d", self.evse_id, result.reason,
                             attempt + 1)
                    await self._step_ef()
            await self._status(NO_RUN_ID, "unmatched")
        finally:
            self._own_f = False
            sock.close()

    def _event(self, event: EvseEvent) -> None:
        if isinstance(event, Matched):
            self.last = event
            log.info("SLAC EVSE %d: matched EV %s (%.1f dB)", self.evse_id,
                     event.ev_mac.hex(":"), event.attenuation)
            self._spawn(self._status(event.run_id.hex(), "matched"))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._aborts.add(task)
        task.add_done_callback(self._aborts.discard)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
