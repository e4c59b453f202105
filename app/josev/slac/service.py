"""SLAC coupled to the station through the Josev API (a thin layer; the core knows nothing).

- `cp_status` B1/B2 starts matching (after asking for 5 % with `cp_pwm`); A*, E and F abort.
- `slac_status` reports matching / matched / failed / unmatched.
- The "5 % restart" real EVs need: after a failed attempt the PWM goes to 100 % (no HLC) for
  `restart_pause` seconds and back to 5 %, which makes the EV start SLAC again; after
  `restarts` such retries the EVSE reports "unmatched" (the station may then offer basic
  charging).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from josev.api import ApiError, models
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

    def on_cp_status(self, update: models.CpStatusUpdate) -> None:
        """Callback for `cp_status` updates (register with api.on_update)."""
        if update.evse_id != self.evse_id:
            return
        state = update.state
        running = self._task is not None and not self._task.done()
        if state in ("B1", "B2") and not running and self.last is None:
            self._task = asyncio.ensure_future(self._session())
        elif state[0] in "AEF":
            self.last = None
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

    async def _pwm(self, hlc: bool) -> None:
        req = models.CpPwmRequest(evse_id=self.evse_id, hlc=hlc, current=None if hlc else 0,
                                  error_state=False, fault_state=False)
        try:
            await self.api.request("cp_pwm", req, timeout=2.0)
        except ApiError as exc:
            log.warning("SLAC EVSE %d: cp_pwm (hlc=%s) failed: %s", self.evse_id, hlc, exc)

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
                await self._pwm(True)
                await self._status(NO_RUN_ID, "matching")
                result = await serve_evse(sock, EvseSlac(mac, self.timers), modem, self._event)
                # serve_evse only returns on failure: a match keeps it serving until CP A/E/F
                if not isinstance(result, Failed):
                    return
                await self._status(NO_RUN_ID, "failed")
                if attempt < self.restarts:
                    log.info("SLAC EVSE %d: %s; 5 %% restart %d", self.evse_id, result.reason,
                             attempt + 1)
                    await self._pwm(False)
                    await asyncio.sleep(self.restart_pause)
            await self._status(NO_RUN_ID, "unmatched")
        finally:
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
