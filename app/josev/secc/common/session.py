"""What the SECC protocol sessions (DIN, -2, -20) share: configuration, the context handed over
after SupportedAppProtocol, response bookkeeping, timers and a clean end.

Each protocol session subclasses `ProtocolSession` and implements `on_message(name, msg, now)`.
Every request is answered at once from the latest station state (sans-I/O, no waiting), so the
performance time is met by construction; the `Send.deadline` lets the driver verify it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from josev.exi import ExiError, decode_document, encode
from josev.lean.generated import api as m
from josev.sap import Prefer
from josev.secc.common.actions import (
    Action,
    ApiRequest,
    ApiUpdate,
    EndSession,
    Send,
    Timers,
)
from josev.secc.common.station import StationView
from josev.secc.common.timing import NORMATIVE, Timing

log = logging.getLogger("josev.secc")

SETPOINT_REFRESH = 1.0   # s; well inside josev-hal's brain_timeout_s (5 s by default)
STOP_CURRENT = 5.0       # A: below this the EV may open its contactor and leave state C
STOP_WAIT = 1.0          # s: the longest a PowerDeliveryRes(Stop) waits for the current to fall

API_PROTOCOL = {
    "DIN": "DIN_SPEC_70121",
    "ISO2": "ISO_15118_2",
    "ISO20_DC": "ISO_15118_20_DC",
    "ISO20_AC": "ISO_15118_20_AC",
}


@dataclass(frozen=True, slots=True)
class Allowance:
    """What smart charging's `iso15118_charge_limit` allows on one EVSE now, in both units.

    The limit bounds the power exchanged: a limit L >= 0 allows charging up to L and no
    discharge (0 stops the flow, the session stays); L < 0 asks for discharge at |L| (BPT only;
    elsewhere it means 0). No limit at all: the station's own limits, and the EV decides the
    direction as before. Currents are DC totals or AC per phase, as the caller's `volts` says.
    """

    charge_power: float = math.inf       # W
    charge_current: float = math.inf     # A
    discharge_power: float = math.inf    # W; 0: no discharge allowed
    discharge_current: float = math.inf  # A
    limited: bool = False                # a limit is set (the EVSE, not the EV, decides)
    discharge: bool = False              # the limit asks for discharge (negative, BPT)

    @classmethod
    def of(cls, limit: m.Iso15118ChargeLimitUpdate | None, volts: float,
           bpt: bool) -> Allowance:
        """`volts`: W per A for the conversion (DC: the present or target voltage; AC: the
        nominal voltage times the phases); <= 1 V means unknown, the other unit stays open."""
        if limit is None:
            return cls()
        value = limit.limit
        if value < 0 and not bpt:
            value = 0.0              # no discharge without BPT: a negative limit means 0
        known = volts > 1.0

        def both(x: float) -> tuple[float, float]:
            if limit.unit == "W":
                return x, (x / volts if known else math.inf)
            return (x * volts if known else math.inf), x

        if value >= 0:
            power, current = both(value)
            return cls(power, current, 0.0, 0.0, True, False)
        power, current = both(-value)
        return cls(0.0, 0.0, power, current, True, True)


def limit_key(limit: m.Iso15118ChargeLimitUpdate | None) -> tuple[float, str] | None:
    """The limit a schedule was made with (a change asks the EV to renegotiate)."""
    return None if limit is None else (limit.limit, limit.unit)


@dataclass
class SeccConfig:
    """Charger-side settings; every field has a default that runs the simulated station."""

    evse_id: int = 1
    evse_id_text: str = "DE*JSV*E1*1"       # the EVSEID told to the EV (ISO 15118-2 Annex H)
    protocols: tuple[str, ...] = ("ISO20_DC", "ISO20_AC", "ISO2", "DIN")
    prefer: Prefer = "ev"
    control_modes: tuple[str, ...] = ("dynamic", "scheduled")   # -20: offered ControlMode
    energy_services: tuple[str, ...] = ("DC", "DC_BPT", "AC", "AC_BPT")
    free_charging: bool = True    # EIM without a reader: authorized at once (simulator default)
    service_renegotiation: bool = True
    timing: Timing = NORMATIVE
    precharge_current: float = 2.0    # A: the EV's request is capped (IEC 61851-23 CC.5.6)


@dataclass
class PausedSession:
    """A -2/-20 session paused with SessionStop(Pause): joined again with its SessionID."""

    protocol: str
    session_id: bytes
    evcc_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SeccContext:
    """Shared by the core and its protocol session for one V2G connection."""

    config: SeccConfig
    station: StationView
    timers: Timers
    epoch: float                 # wall-clock seconds at now == 0 (for -20 TimeStamps)
    evcc_mac: str = ""
    paused: dict[bytes, PausedSession] = field(default_factory=dict)
    new_session_id: Callable[[], bytes] = lambda: os.urandom(8)
    authorized: bool | None = None      # EIM: set by the station's `authorization` request


class ProtocolSession:
    """Base of the DIN, -2 and -20 SECC sessions."""

    protocol = "UNKNOWN"           # DIN, ISO2, ISO20_DC, ISO20_AC
    families: ClassVar[dict[int, str]] = {}  # V2GTP payload type -> EXI family
    NO_SESSION: ClassVar[bytes] = b"\x00"     # the SessionID before SessionSetupRes

    def __init__(self, ctx: SeccContext, now: float) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.station = ctx.station
        self.timers = ctx.timers
        self.out: list[Action] = []
        self.session_id = self.NO_SESSION
        self.evcc_id = ""
        self.status = "SupportedAppProtocol"
        self.stop_action = "Terminate"
        self.ended = False
        self.power_on = False            # a setpoint with current was sent
        self.last_setpoint: dict[str, Any] | None = None
        self.stop_requested = False      # stop_charging from OCPP / the station
        self.fault: str | None = None    # a timer-detected fault, answered at the next request
        self.deferred: Callable[[float], None] | None = None   # a response waiting on the station
        self.started = now
        self.now = now
        self.setpoint_sent_at = -1e9
        self.expect: frozenset[str] = frozenset()    # the requests allowed next
        self.ongoing_since: dict[str, float] = {}   # first "Ongoing" answer per request kind
        self.cable_check: str | None = None   # None, "ongoing", or the finished isolation level
        self.cable_check_asked = False        # a cable_check request is outstanding
        self.precharge_since: float | None = None   # the first PreChargeReq
        self.ev_max_voltage = 0.0

    # -- events from the core ------------------------------------------------------------------

    def receive(self, payload_type: int, payload: bytes, now: float) -> list[Action]:
        self.out = []
        self.now = now
        family = self.families.get(payload_type)
        if family is None:
            # [V2G2-800]: a payload type this protocol does not use is ignored.
            log.warning("evse %d: payload type 0x%04x not used by %s: ignored",
                        self.cfg.evse_id, payload_type, self.protocol)
            return self.out
        try:
            root, msg = decode_document(payload, family)
        except ExiError as exc:
            log.warning("evse %d: undecodable %s message (%s): ending the session",
                        self.cfg.evse_id, family, exc)
            self.end(f"undecodable message: {exc}", False, now)
            return self.out
        c = self.timers.cancel("sequence")   # a request came: the wait is over
        if c is not None:
            self.out.append(c)
        if not root.endswith("Req") and root != "V2G_Message":
            log.warning("evse %d: %s is not a request: ending", self.cfg.evse_id, root)
            self.end(f"unexpected {root}", False, now)
            return self.out
        self.on_message(root, msg, now)
        return self.out

    def handle_timer(self, name: str, now: float) -> list[Action]:
        self.out = []
        if self.ended or not self.timers.fire(name, now):
            return self.out
        self.on_timer(name, now)
        return self.out

    def station_updated(self, now: float) -> list[Action]:
        self.out = []
        if not self.ended:
            self.on_station(now)
        return self.out

    def api_response(self, name: str, data: Any, now: float) -> list[Action]:
        self.out = []
        if not self.ended:
            self.on_api(name, data, now)
        return self.out

    def stop_charging(self, now: float) -> list[Action]:
        """The station or the CSMS wants the session to end: told to the EV in the next answer."""
        self.out = []
        self.stop_requested = True
        return self.out

    # -- to implement --------------------------------------------------------------------------

    def on_message(self, root: str, msg: Any, now: float) -> None:
        raise NotImplementedError

    def defer_until_current_low(self, respond: Callable[[float], None], now: float) -> None:
        """Answer PowerDeliveryReq(Stop) once the current has fallen (the EV leaves state C on
        the response, and opening under load trips the station), at most STOP_WAIT later."""
        if abs(self.station.present_current) <= STOP_CURRENT:  # either direction (BPT)
            respond(now)
            return
        self.deferred = respond
        self.out.append(self.timers.set("deferred", now + self.cfg.timing.s(STOP_WAIT)))

    def _run_deferred(self, now: float) -> None:
        respond, self.deferred = self.deferred, None
        c = self.timers.cancel("deferred")
        if c is not None:
            self.out.append(c)
        if respond is not None:
            respond(now)

    def on_timer(self, name: str, now: float) -> None:
        if name == "deferred":
            self._run_deferred(now)
        elif name == "sequence":
            self.end(f"sequence timeout: no request after {self.status}", False, now)
        elif name == "contactor":
            if self.station.contactor != "closed":
                log.warning("evse %d: contactors not closed within %.1f s",
                            self.cfg.evse_id, self.cfg.timing.s(self.cfg.timing.contactor_close))
                self.fault = "contactor"

    def on_station(self, now: float) -> None:
        gone = self.station.cp_state in ("A1", "A2", "E", "F")
        if gone and self.status != "SupportedAppProtocol":
            self.end(f"CP {self.station.cp_state}: EV gone", False, now)
            return
        if self.deferred is not None and abs(self.station.present_current) <= STOP_CURRENT:
            self._run_deferred(now)
        if self.station.contactor == "closed":
            c = self.timers.cancel("contactor")
            if c is not None:
                self.out.append(c)

    def on_api(self, name: str, data: Any, now: float) -> None:
        if name == "cable_check" and self.cable_check == "ongoing":
            self.cable_check_asked = False
            if getattr(data, "cable_check_status", None) == "finished":
                self.cable_check = getattr(data, "isolation_level", None) or "invalid"

    def _ongoing(self, key: str, now: float, limit: float) -> bool:
        """True while `key` may still be answered Ongoing; False once `limit` has passed."""
        since = self.ongoing_since.setdefault(key, now)
        return now - since < self.cfg.timing.s(limit)

    def precharge_step(self, target: float, amps: float, now: float,
                       ev_max_voltage: float | None = None) -> tuple[str, str | None]:
        """One PreChargeReq's worth of DC pre-charge, the same in DIN, -2 and -20: the target
        within the limits, the pre-charge time, then a pre-charge setpoint. Returns
        (ResponseCode, failure); the caller answers, then ends the session on a failure."""
        if self.precharge_since is None:
            self.precharge_since = now
        lim = self.station.dc
        ceiling = lim.max_voltage if lim is not None else 0.0
        if ev_max_voltage:
            ceiling = min(ceiling, ev_max_voltage)
        if lim is None or target > ceiling:
            return "FAILED_WrongChargeParameter", f"pre-charge target {target} V above the limits"
        if now - self.precharge_since >= self.cfg.timing.s(self.cfg.timing.pre_charge_secc):
            return "FAILED", "pre-charge did not finish within the pre-charge time"
        self.setpoint(self.ev_max_voltage, target, amps, precharge=True)
        return "OK", None

    def cable_check_step(self, now: float, next_request: str) -> tuple[str, str, str | None]:
        """One CableCheckReq's worth of the DC cable check, the same in DIN, -2 and -20.

        Returns (ResponseCode, EVSEProcessing, failure): the caller answers first and then ends
        the session with `failure` when it is set, so the EV always gets its response.
        """
        limit = self.cfg.timing.cable_check_secc
        if self.cable_check is None and self.station.cp_state[:1] in ("B", "A"):
            # The EV switches to C/D before CableCheckReq; the station may not have seen it
            # yet (CP sampling, the bus): wait, within the cable-check time, before starting.
            if not self._ongoing("CableCheck", now, limit):
                return "FAILED", "Finished", f"CP still {self.station.cp_state}: no cable check"
            return "OK", "Ongoing", None
        if self.cable_check is None:
            self.cable_check = "ongoing"
            self.out.append(ApiRequest("cable_check", {"evse_id": self.cfg.evse_id,
                                                      "cable_check_action": "start"}))
            self.cable_check_asked = True
            self.arm_contactor_window(now)
        level = self.cable_check
        if level in ("valid", "warning", "no_imd"):
            self.expect = frozenset({next_request})
            return "OK", "Finished", None
        if level in ("fault", "invalid"):
            return "FAILED", "Finished", f"cable check failed: isolation {level}"
        if not self._ongoing("CableCheck", now, limit):
            return "FAILED", "Finished", "cable check not finished within the cable-check time"
        if not self.cable_check_asked:
            self.out.append(ApiRequest("cable_check", {"evse_id": self.cfg.evse_id,
                                                      "cable_check_action": "status"}))
            self.cable_check_asked = True
        return "OK", "Ongoing", None

    # -- helpers -------------------------------------------------------------------------------

    def allowance(self, volts: float, bpt: bool = False) -> Allowance:
        return Allowance.of(self.station.charge_limit, volts, bpt)

    def conversion_volts(self, target: float = 0.0) -> float:
        """DC: the present voltage once there is one, else the EV's target (A <-> W)."""
        present = self.station.present_voltage
        return present if present > 1.0 else target

    def dc_charge_caps(self, volts: float) -> tuple[float, float]:
        """(current A, power W) this EVSE may offer for DC charging now: the station's own
        limits (cs_status_and_limits) and the smart-charging limit, whichever is lower."""
        lim = self.station.dc
        maxi, maxp = (lim.max_current, lim.max_power) if lim else (0.0, 0.0)
        a = self.allowance(volts)
        return min(maxi, a.charge_current), min(maxp, a.charge_power)

    def dc_charge_current(self, target_i: float, v: float) -> float:
        """The charge current of a setpoint at voltage `v`: never above any cap."""
        maxi, maxp = self.dc_charge_caps(v if v > 1.0 else self.conversion_volts())
        i = min(target_i, maxi)
        if v > 0:
            i = min(i, maxp / v)
        return max(i, 0.0)

    @property
    def has_session(self) -> bool:
        return self.session_id != self.NO_SESSION

    def timestamp(self, now: float) -> int:
        return int(self.ctx.epoch + now)

    def respond(self, payload_type: int, msg: Any, name: str, now: float,
                root: str | None = None, received: float | None = None) -> None:
        """Encode and send the response to request `name` (without Req), then wait for the next.
        `received`: when the request came, if the answer was deferred (for the deadline)."""
        try:
            data = encode(msg, root)
        except ExiError as exc:
            # Our own bug or a station value outside the schema: never crash the service.
            log.error("evse %d: cannot encode %sRes: %s", self.cfg.evse_id, name, exc)
            self.end(f"cannot encode {name}Res: {exc}", False, now)
            return
        _, perf = self.cfg.timing.times(self.protocol, name)
        start = now if received is None else received
        self.out.append(Send(payload_type, data, name + "Res", start + perf))
        self.out.append(self.timers.set("sequence", now + self.cfg.timing.sequence_after(
            self.protocol, name)))

    def set_status(self, status: str) -> None:
        if status == self.status:
            return
        self.status = status
        self.publish_state()

    def publish_state(self, idle: bool = False) -> None:
        data: dict[str, Any] = {"evse_id": self.cfg.evse_id,
                                "session_status": "Idle" if idle else self.status}
        if self.has_session and not idle:
            data["info"] = {
                "session_id": self.session_id.hex(),
                "evcc_id": self.evcc_id[:40],
                "evcc_mac": self.ctx.evcc_mac[:17],
                "selected_payment_option": "EIM",
                "protocol": API_PROTOCOL.get(self.protocol, "UNKNOWN"),
                "stop_action": self.stop_action,
            }
        self.out.append(ApiUpdate("iso15118_state_info", data))

    def setpoint(self, ev_max_voltage: float, voltage: float, current: float,
                 precharge: bool = False, discharge: bool = False) -> None:
        """Send a DC setpoint (fire-and-forget) when it differs from the last one, and repeat
        it every `SETPOINT_REFRESH` s: josev-hal trips when the brain goes silent while power
        flows."""
        dc: dict[str, Any] = {"voltage": round(max(voltage, 0.0), 1)}
        dc["discharge_current" if discharge else "charge_current"] = round(max(current, 0.0), 1)
        data: dict[str, Any] = {"evse_id": self.cfg.evse_id,
                                "ev_limits": {"maximum_voltage": round(max(ev_max_voltage, 0), 1)},
                                "is_precharge": precharge, "dc": dc}
        if data == self.last_setpoint and self.now - self.setpoint_sent_at < SETPOINT_REFRESH:
            return
        self.last_setpoint = data
        self.setpoint_sent_at = self.now
        self.power_on = current > 0 or voltage > 0
        self.out.append(ApiRequest("power_electronics_setpoint", data))

    def power_off(self) -> None:
        if self.power_on:
            self.setpoint(0.0, 0.0, 0.0)
            self.power_on = False

    def hlc_charging(self, status: bool, action: str | None = None) -> None:
        data: dict[str, Any] = {"evse_id": self.cfg.evse_id, "status": status}
        if action is not None:
            data["action"] = action
        self.out.append(ApiUpdate("hlc_charging", data))

    def arm_contactor_window(self, now: float) -> None:
        if self.station.contactor != "closed" and self.timers.due("contactor") is None:
            t = self.cfg.timing
            self.out.append(self.timers.set("contactor", now + t.s(t.contactor_close)))
            self.out.append(ApiRequest("cs_contactor_status", {"evse_id": self.cfg.evse_id}))

    def end(self, reason: str, ok: bool, now: float, paused: bool = False) -> None:
        """Leave the station safe and available: power off, HLC off, state Idle, timers gone."""
        if self.ended:
            return
        self.ended = True
        self.power_off()
        self.out.extend(self.timers.clear())
        self.hlc_charging(False, "pause" if paused else None)
        if paused:
            self.stop_action = "Pause"
        elif not ok:
            self.stop_action = "Error"
        self.publish_state(idle=True)
        (log.info if ok else log.warning)("evse %d: %s session %s ended: %s",
                                          self.cfg.evse_id, self.protocol,
                                          self.session_id.hex(), reason)
        self.out.append(EndSession(reason, ok, paused))
