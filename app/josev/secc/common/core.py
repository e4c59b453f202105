"""One V2G connection on the charger side: SupportedAppProtocol, then the chosen protocol.

Sans-I/O in the style of aioquic: every method takes `now` and returns the actions for the
driver. The driver keeps timers by name and calls `handle_timer` when one is due; a stale call
is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from josev.exi import ExiError, decode_document, encode
from josev.sap import secc_negotiate
from josev.secc.common.actions import Action, ApiRequest, ApiUpdate, EndSession, Send, Timers
from josev.secc.common.session import (
    PausedSession,
    ProtocolSession,
    SeccConfig,
    SeccContext,
)
from josev.secc.common.station import StationView
from josev.station import StationState
from josev.v2gtp import PayloadType

log = logging.getLogger("josev.secc")

SAP = int(PayloadType.EXI)


def make_session(protocol: str, ctx: SeccContext, now: float) -> ProtocolSession:
    """The protocol session for a negotiated protocol (imported here: each is optional)."""
    if protocol in ("ISO20_DC", "ISO20_AC"):
        from josev.secc.iso20.session import Iso20Session
        return Iso20Session(ctx, now, protocol)
    if protocol == "DIN":
        from josev.secc.din.session import DinSession
        return DinSession(ctx, now)
    if protocol == "ISO2":
        from josev.secc.iso2.session import Iso2Session
        return Iso2Session(ctx, now)
    raise ValueError(f"protocol {protocol} is not implemented yet")


IMPLEMENTED = ("ISO20_DC", "ISO20_AC", "ISO2", "DIN")


class SeccCore:
    """The charger side of one V2G connection."""

    def __init__(
        self,
        config: SeccConfig,
        station: StationState,
        *,
        epoch: float = 0.0,
        evcc_mac: str = "",
        paused: dict[bytes, PausedSession] | None = None,
        **ctx: Any,
    ) -> None:
        self.ctx = SeccContext(config, StationView(station, config.evse_id), Timers(), epoch,
                               evcc_mac, paused if paused is not None else {}, **ctx)
        self.config = config
        self.session: ProtocolSession | None = None
        self.ended: EndSession | None = None

    @property
    def protocol(self) -> str | None:
        return self.session.protocol if self.session else None

    def start(self, now: float, plugged_at: float | None = None) -> list[Action]:
        """The connection is up: SupportedAppProtocolReq and SessionSetupRes must follow within
        the communication-setup time counted from plug-in."""
        t = self.config.timing
        begin = now if plugged_at is None else plugged_at
        out: list[Action] = [self.ctx.timers.set("comm_setup", begin + t.s(t.comm_setup_secc)),
                             self.ctx.timers.set("sequence", now + t.s(t.sequence_timeout))]
        out.append(ApiUpdate("iso15118_state_info", {"evse_id": self.config.evse_id,
                                                     "session_status": "SupportedAppProtocol"}))
        # HLC runs with a 5 % pilot (IEC 61851-1 Annex A): SLAC asks for it too; an EV that
        # reconnects after a pause, or a station without SLAC in front, needs it here.
        out.append(ApiRequest("cp_pwm", {"evse_id": self.config.evse_id, "hlc": True,
                                         "error_state": False, "fault_state": False}))
        return out

    def _guard(self, call: Callable[[], list[Action]], now: float) -> list[Action]:
        """A bug in a protocol session must not take the service down, nor leave power on:
        log it, end the session the safe way (power off, HLC off, Idle) and carry on."""
        try:
            return call()
        except Exception:
            log.exception("evse %d: internal error in the %s session", self.config.evse_id,
                          self.protocol)
            session = self.session
            if session is None:
                return self._fail("internal error", now)
            session.out = []
            try:
                session.end("internal error", False, now)
                return self._collect(session.out)
            except Exception:
                log.exception("evse %d: ending the session failed too", self.config.evse_id)
                evse = self.config.evse_id
                return self._collect([
                    ApiRequest("power_electronics_setpoint", {
                        "evse_id": evse, "ev_limits": {"maximum_voltage": 0.0},
                        "is_precharge": False, "dc": {"voltage": 0.0, "charge_current": 0.0}}),
                    ApiUpdate("hlc_charging", {"evse_id": evse, "status": False}),
                    ApiUpdate("iso15118_state_info", {"evse_id": evse,
                                                      "session_status": "Idle"}),
                    EndSession("internal error", False)])

    def _collect(self, out: list[Action]) -> list[Action]:
        for a in out:
            if isinstance(a, EndSession):
                self.ended = a
            elif isinstance(a, Send) and a.message == "SessionSetupRes":
                c = self.ctx.timers.cancel("comm_setup")
                if c is not None:
                    out.append(c)
        return out

    def receive(self, payload_type: int, payload: bytes, now: float) -> list[Action]:
        if self.ended is not None:
            return []
        if self.session is not None:
            session = self.session
            return self._guard(
                lambda: self._collect(session.receive(payload_type, payload, now)), now)
        if payload_type != SAP:
            log.warning("evse %d: payload type 0x%04x before SupportedAppProtocol: ignored",
                        self.config.evse_id, payload_type)
            return []
        try:
            root, req = decode_document(payload, "appHand")
        except ExiError as exc:
            return self._fail(f"undecodable supportedAppProtocolReq: {exc}", now)
        if root != "supportedAppProtocolReq":
            return self._fail(f"{root} instead of supportedAppProtocolReq", now)
        enabled = [p for p in self.config.protocols if p in IMPLEMENTED and self.fits(p)]
        result = secc_negotiate(req, enabled, self.config.prefer)
        t = self.config.timing
        out: list[Action] = [
            Send(SAP, encode(result.response), "supportedAppProtocolRes",
                 now + t.times("SAP", "supportedAppProtocol")[1]),
        ]
        if result.protocol is None:
            offered = ", ".join(p.ProtocolNamespace for p in req.AppProtocol)
            out.extend(self._fail(f"no common protocol (EV offers {offered})", now))
            return out
        log.info("evse %d: negotiated %s (%s)", self.config.evse_id, result.protocol.name,
                 result.response.ResponseCode)
        self.session = make_session(result.protocol.name, self.ctx, now)
        out.append(self.ctx.timers.set("sequence", now + t.s(t.sequence_timeout)))
        return self._collect(out)

    def fits(self, protocol: str) -> bool:
        """Offer a protocol only where this EVSE has the power path it needs."""
        view = self.ctx.station
        if protocol in ("DIN", "ISO20_DC"):
            return view.dc is not None
        if protocol == "ISO20_AC":
            return view.ac is not None
        return view.dc is not None or view.ac is not None

    def _fail(self, reason: str, now: float) -> list[Action]:
        log.warning("evse %d: %s", self.config.evse_id, reason)
        out: list[Action] = list(self.ctx.timers.clear())
        out.append(ApiUpdate("iso15118_state_info", {"evse_id": self.config.evse_id,
                                                     "session_status": "Idle"}))
        out.append(EndSession(reason, False))
        return self._collect(out)

    def handle_timer(self, name: str, now: float) -> list[Action]:
        if self.ended is not None:
            return []
        if name == "comm_setup":
            if not self.ctx.timers.fire(name, now):
                return []
            reason = "communication setup timeout: no SessionSetup within the setup time"
            if self.session is not None:
                self.session.out = []
                self.session.end(reason, False, now)
                return self._collect(self.session.out)
            return self._fail(reason, now)
        if self.session is None:
            if self.ctx.timers.fire(name, now):
                return self._fail(f"{name} timeout before SupportedAppProtocol", now)
            return []
        session = self.session
        return self._guard(lambda: self._collect(session.handle_timer(name, now)), now)

    def station_updated(self, now: float) -> list[Action]:
        if self.ended is not None or self.session is None:
            return []
        session = self.session
        return self._guard(lambda: self._collect(session.station_updated(now)), now)

    def api_response(self, name: str, data: Any, now: float) -> list[Action]:
        if self.ended is not None or self.session is None:
            return []
        session = self.session
        return self._guard(lambda: self._collect(session.api_response(name, data, now)), now)

    def stop_charging(self, now: float) -> list[Action]:
        if self.ended is not None or self.session is None:
            return []
        return self._collect(self.session.stop_charging(now))

    def connection_lost(self, now: float) -> list[Action]:
        """TCP went away without SessionStop: leave the station safe."""
        if self.ended is not None:
            return []
        if self.session is None:
            return self._fail("connection lost", now)
        self.session.out = []
        self.session.end("connection lost", False, now)
        return self._collect(self.session.out)
