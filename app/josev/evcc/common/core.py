"""One V2G connection on the EV side: SupportedAppProtocol, then the negotiated protocol.

Same shape as the SECC core: events with `now` in, actions out. The EV enforces its own
timeouts (message timeout, ongoing, cable check, pre-charge) and ends the session on a FAILED
response code, as a car does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from josev.evcc.common.ev import EvConfig, EvModel
from josev.exi import ExiError, decode_document, encode
from josev.sap import evcc_request, evcc_result
from josev.secc.common.actions import (
    Action,
    EndSession,
    EvCommand,
    Progress,
    Send,
    Timers,
)
from josev.secc.common.timing import NORMATIVE, Timing
from josev.v2gtp import PayloadType

log = logging.getLogger("josev.evcc")

SAP = int(PayloadType.EXI)


class EvSession:
    """Base of the EV-side protocol sessions."""

    protocol = "UNKNOWN"
    families: ClassVar[dict[int, str]] = {}

    def __init__(self, core: EvccCore, now: float) -> None:
        self.core = core
        self.cfg = core.cfg
        self.ev = core.ev
        self.timing = core.timing
        self.timers = core.timers
        self.out: list[Action] = []
        self.session_id = core.resume_session or b"\x00"
        self.pending: str | None = None     # the request awaiting its response
        self.ongoing_since: dict[str, float] = {}
        self.ended = False
        self.state = "SessionSetup"
        self.matched_since: float | None = None   # pre-charge: when the voltage first matched

    def send(self, payload_type: int, msg: Any, name: str, now: float) -> None:
        self.out.append(Send(payload_type, encode(msg), name + "Req", now))
        self.pending = name
        timeout, _ = self.timing.times(self.protocol, name)
        self.out.append(self.timers.set("response", now + timeout))
        self.stop_timer("next")

    def later(self, name: str, delay: float, now: float) -> None:
        """Send request `name` after `delay` (via the `next` timer)."""
        self.next_request = name
        self.out.append(self.timers.set("next", now + delay))

    next_request = ""

    def receive(self, payload_type: int, payload: bytes, now: float) -> list[Action]:
        self.out = []
        if self.ended:
            return self.out
        family = self.families.get(payload_type)
        if family is None:
            log.warning("EV: payload type 0x%04x not used by %s: ignored", payload_type,
                        self.protocol)
            return self.out
        try:
            root, msg = decode_document(payload, family)
        except ExiError as exc:
            self.end(f"undecodable response: {exc}", False, now)
            return self.out
        self.stop_timer("response")
        was = self.pending
        self.on_response(root, msg, now)
        if was == "SessionSetup" and not self.ended:
            self.stop_timer("comm_setup")     # SessionSetupRes OK: the setup is done
        return self.out

    def handle_timer(self, name: str, now: float) -> list[Action]:
        self.out = []
        if self.ended or not self.timers.fire(name, now):
            return self.out
        if name == "response":
            self.end(f"no {self.pending}Res within the message timeout", False, now)
        elif name == "next":
            self.request(self.next_request, now)
        else:
            self.on_timer(name, now)
        return self.out

    def stop_timer(self, name: str) -> None:
        c = self.timers.cancel(name)
        if c is not None:
            self.out.append(c)

    def after_cable_check(self, processing: str, name: str, next_request: str,
                          now: float) -> None:
        """DC cable check, the same in DIN, -2 and -20: poll until Finished, then pre-charge."""
        if processing != "Finished":
            self.later(name, self.cfg.poll_interval, now)
            return
        self.stop_timer("cable_check")
        self.request(next_request, now)

    def after_precharge(self, present: float, name: str, now: float) -> None:
        """Pre-charge until the station's voltage has held within 10 V of the battery's."""
        self.ev.measure(present, 0.0, now)
        if abs(present - self.ev.ocv) > 10.0:
            self.matched_since = None
        elif self.matched_since is None:
            self.matched_since = now
        if self.matched_since is not None and now - self.matched_since >= self.cfg.precharge_hold:
            self.stop_timer("precharge")
            self.request("PowerDelivery", now)
        else:
            self.later(name, self.cfg.poll_interval, now)

    def ongoing(self, key: str, now: float, limit: float) -> bool:
        since = self.ongoing_since.setdefault(key, now)
        if now - since >= self.timing.s(limit):
            self.end(f"{key} still Ongoing after {self.timing.s(limit):.1f} s", False, now)
            return False
        return True

    def progress(self, now: float, state: str) -> None:
        self.state = state
        self.out.append(Progress(now, state, {
            "voltage": self.ev.voltage, "current": self.ev.current,
            "power": self.ev.voltage * self.ev.current, "soc": self.ev.soc}))

    def cp(self, state: str) -> None:
        self.out.append(EvCommand("cp", {"state": state}))

    def end(self, reason: str, ok: bool, now: float, paused: bool = False) -> None:
        if self.ended:
            return
        self.ended = True
        self.ev.stop_flow(now)
        self.out.extend(self.timers.clear())
        (log.info if ok else log.warning)("EV: %s session ended: %s", self.protocol, reason)
        self.out.append(EndSession(reason, ok, paused))

    # -- to implement --------------------------------------------------------------------------

    def begin(self, now: float) -> None:
        raise NotImplementedError

    def request(self, name: str, now: float) -> None:
        raise NotImplementedError

    def on_response(self, root: str, msg: Any, now: float) -> None:
        raise NotImplementedError

    def on_timer(self, name: str, now: float) -> None:
        pass


class EvccCore:
    """The EV side of one V2G connection."""

    def __init__(self, cfg: EvConfig, ev: EvModel | None = None, *,
                 timing: Timing = NORMATIVE, resume_session: bytes | None = None,
                 epoch: float = 0.0) -> None:
        self.cfg = cfg
        self.ev = ev or EvModel(cfg)
        self.timing = timing
        self.timers = Timers()
        self.resume_session = resume_session
        self.epoch = epoch
        self.session: EvSession | None = None
        self.ended: EndSession | None = None
        self.sap_req = evcc_request(cfg.protocols)
        self.paused_session: bytes | None = None

    @property
    def protocol(self) -> str | None:
        return self.session.protocol if self.session else None

    def start(self, now: float, plugged_at: float | None = None) -> list[Action]:
        """The connection is up. SessionSetupRes must come within the EV's communication-setup
        time counted from plug-in (SDP, TLS and SupportedAppProtocol included), which only the
        driver knows: without `plugged_at`, from now (e.g. a resume after a pause)."""
        timeout, _ = self.timing.times("SAP", "supportedAppProtocol")
        t = self.timing
        begin = now if plugged_at is None else plugged_at
        setup = self.timers.set("comm_setup", begin + t.s(t.comm_setup_evcc))
        if setup.at <= now:         # SDP and TLS alone used the time up: give up at once
            return self._comm_setup_timeout(now)
        return [setup, Send(SAP, encode(self.sap_req), "supportedAppProtocolReq", now),
                self.timers.set("response", now + timeout)]

    def _collect(self, out: list[Action]) -> list[Action]:
        for a in out:
            if isinstance(a, EndSession):
                self.ended = a
                if a.paused and self.session is not None:
                    self.paused_session = self.session.session_id
        return out

    def _fail(self, reason: str) -> list[Action]:
        log.warning("EV: %s", reason)
        out: list[Action] = list(self.timers.clear())
        out.append(EndSession(reason, False))
        return self._collect(out)

    def _guard(self, call: Callable[[], list[Action]]) -> list[Action]:
        """A bug in an EV session ends it (logged) instead of killing the simulator."""
        try:
            return call()
        except Exception:
            log.exception("EV: internal error in the %s session", self.protocol)
            return self._fail("internal error")

    def receive(self, payload_type: int, payload: bytes, now: float) -> list[Action]:
        if self.ended is not None:
            return []
        if self.session is not None:
            session = self.session
            return self._guard(
                lambda: self._collect(session.receive(payload_type, payload, now)))
        if payload_type != SAP:
            return []
        try:
            root, res = decode_document(payload, "appHand")
        except ExiError as exc:
            return self._fail(f"undecodable supportedAppProtocolRes: {exc}")
        if root != "supportedAppProtocolRes":
            return self._fail(f"{root} instead of supportedAppProtocolRes")
        chosen = evcc_result(self.sap_req, res)
        if chosen is None:
            return self._fail(f"SupportedAppProtocol failed: {res.ResponseCode}")
        self.timers.cancel("response")
        self.session = make_ev_session(chosen.name, self, now)
        self.session.begin(now)
        return self._collect([*self.session.out])

    def handle_timer(self, name: str, now: float) -> list[Action]:
        if self.ended is not None:
            return []
        if name == "comm_setup":
            return self._comm_setup_timeout(now)
        if self.session is None:
            if self.timers.fire(name, now):
                return self._fail("no supportedAppProtocolRes within the message timeout")
            return []
        session = self.session
        return self._guard(lambda: self._collect(session.handle_timer(name, now)))

    def _comm_setup_timeout(self, now: float) -> list[Action]:
        """V2G_EVCC_CommunicationSetup_Timeout: give up, back to CP B first (the EV has not left
        B before SessionSetupRes in any protocol; DIN's EV does the same on its timeouts)."""
        if not self.timers.fire("comm_setup", now):
            return []
        t = self.timing
        reason = (f"communication setup timeout: no SessionSetupRes within "
                  f"{t.s(t.comm_setup_evcc):.0f} s of plug-in")
        session = self.session
        if session is None:
            log.warning("EV: %s", reason)
            out: list[Action] = [EvCommand("cp", {"state": "B"}), *self.timers.clear(),
                                 EndSession(reason, False)]
            return self._collect(out)
        session.out = []
        session.cp("B")
        session.end(reason, False, now)
        return self._collect(session.out)

    def connection_lost(self, now: float) -> list[Action]:
        if self.ended is not None:
            return []
        return self._fail("connection lost")

    def unplug(self, now: float) -> list[Action]:
        """Pull the plug abruptly: no SessionStop, CP to A."""
        if self.ended is not None:
            return []
        out: list[Action] = [EvCommand("unplug")]
        out.extend(self.timers.clear())
        out.append(EndSession("unplugged by the driver", False))
        return self._collect(out)


def make_ev_session(protocol: str, core: EvccCore, now: float) -> EvSession:
    if protocol in ("ISO20_DC", "ISO20_AC"):
        from josev.evcc.iso20.session import Iso20EvSession
        return Iso20EvSession(core, now, protocol)
    if protocol == "DIN":
        from josev.evcc.din.session import DinEvSession
        return DinEvSession(core, now)
    if protocol == "ISO2":
        from josev.evcc.iso2.session import Iso2EvSession
        return Iso2EvSession(core, now)
    raise ValueError(f"EV protocol {protocol} is not implemented yet")


__all__ = ["EvConfig", "EvModel", "EvSession", "EvccCore", "Progress"]
