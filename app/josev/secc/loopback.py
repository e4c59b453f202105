"""A whole session in memory: our SECC core against our EVCC core on a virtual clock.

Why in the product and not only in tests: it is the fastest way to see a protocol change work
end to end (every message through the real EXI codec and V2GTP payload types), it drives the
timing tests, and the benchmark uses it as a baseline. `MemoryStation` stands in for josev-hal:
it answers the API requests the SECC makes and moves the station's voltage and current the way
a DC supply feeding the EV's battery would.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from josev.evcc.common.core import EvccCore
from josev.evcc.common.ev import EvConfig, EvModel
from josev.lean.generated import api as m
from josev.secc.common.actions import (
    Action,
    ApiRequest,
    ApiUpdate,
    CancelTimer,
    EndSession,
    EvCommand,
    Progress,
    Send,
    SetTimer,
)
from josev.secc.common.core import SeccCore
from josev.secc.common.session import PausedSession, SeccConfig
from josev.secc.common.timing import NORMATIVE, Timing
from josev.station import StationState

EPOCH = 1_760_000_000.0


def default_limits(evse_id: int = 1, *, bpt: bool = False,
                   ac: bool = False) -> m.EvseStatusAndLimits:
    data: dict[str, Any] = {"evse_id": evse_id, "status_code": "evse_ready"}
    if ac:
        data["ac"] = {"max_current": {"l1": 32.0, "l2": 32.0, "l3": 32.0},
                      "nominal_voltage": 230.0, "rcd_error": False}
        if bpt:
            data["ac_bpt"] = {
                "evse_max_discharge_power": {"l1": 7000.0, "l2": 7000.0, "l3": 7000.0},
                "evse_min_discharge_power": {"l1": 0.0, "l2": 0.0, "l3": 0.0}}
    else:
        data["dc"] = {"present_voltage": 0.0, "present_current": 0.0, "max_current": 200.0,
                      "min_current": 0.0, "max_voltage": 920.0, "min_voltage": 150.0,
                      "max_power": 150_000.0, "peak_current_ripple": 1.0,
                      "isolation_status": "valid"}
    if bpt and not ac:
        data["dc_bpt"] = {"evse_max_discharge_power": 50_000.0, "evse_min_discharge_power": 0.0,
                          "evse_max_discharge_current": 100.0, "evse_min_discharge_current": 0.0}
    return m.EvseStatusAndLimits.model_validate(data)


class MemoryStation:
    """The station side of the API, in memory: cable check, setpoints, contactors, CP."""

    def __init__(self, ev: EvModel, evse_id: int = 1, *, cable_check_time: float = 0.3,
                 isolation: str = "valid", bpt: bool = False,
                 answer_cable_check: bool = True, close_contactors: bool = True,
                 precharge_reaches: bool = True, current_falls: bool = True,
                 ac: bool = False) -> None:
        self.ev = ev
        self.evse_id = evse_id
        self.state = StationState()
        self.state.evse(evse_id).limits = default_limits(evse_id, bpt=bpt, ac=ac)
        self.cable_check_time = cable_check_time
        self.isolation = isolation
        self.answer_cable_check = answer_cable_check
        self.close_contactors = close_contactors
        self.precharge_reaches = precharge_reaches
        self.current_falls = current_falls
        self.cable_check_started: float | None = None
        self.setpoint: dict[str, Any] | None = None
        self.updates: list[ApiUpdate] = []
        self.requests: list[ApiRequest] = []
        self.timed_requests: list[tuple[float, ApiRequest]] = []
        self.cp = "B2"
        self.hlc = False             # hlc_charging: under HLC the AC contactors stay closed at 0 A
        self.set_cp("B2")
        self.state.evse(evse_id)     # a known EVSE (as after device_model)

    def set_limit(self, limit: float, unit: str = "W") -> bool:
        """Smart charging's `iso15118_charge_limit` for this EVSE, as josev-iso15118 stores it."""
        return self.state.set_charge_limit(m.Iso15118ChargeLimitUpdate.model_validate(
            {"evse_id": self.evse_id, "limit": limit, "unit": unit}))

    def update(self, upd: ApiUpdate) -> None:
        self.updates.append(upd)
        if upd.name == "hlc_charging":
            self.hlc = bool(upd.data.get("status"))

    def set_cp(self, state: str) -> None:
        self.cp = state
        self.state.set_cp(m.CpStatusUpdate(evse_id=self.evse_id, connector_id=1, state=state))

    def set_status(self, code: str) -> None:
        lim = self.state.evse(self.evse_id).limits
        assert lim is not None
        self.state.evse(self.evse_id).limits = lim.model_copy(update={"status_code": code})

    def _dc(self, **values: float) -> None:
        lim = self.state.evse(self.evse_id).limits
        assert lim is not None and lim.dc is not None
        self.state.evse(self.evse_id).limits = lim.model_copy(
            update={"dc": lim.dc.model_copy(update=values)})

    def request(self, req: ApiRequest, now: float) -> Any:
        """The response the station gives (None: it does not answer)."""
        self.requests.append(req)
        self.timed_requests.append((now, req))
        if req.name == "cable_check":
            if not self.answer_cable_check:
                return None
            if req.data["cable_check_action"] == "start":
                self.cable_check_started = now
                if self.close_contactors:
                    self.state.evse(self.evse_id).contactor = "closed"
                return m.CableCheckResponse(evse_id=self.evse_id, cable_check_status="ongoing")
            assert self.cable_check_started is not None
            if now - self.cable_check_started >= self.cable_check_time:
                return m.CableCheckResponse(evse_id=self.evse_id, cable_check_status="finished",
                                            isolation_level=self.isolation)
            return m.CableCheckResponse(evse_id=self.evse_id, cable_check_status="ongoing")
        if req.name == "power_electronics_setpoint" and "ac" in req.data:
            ac = req.data["ac"]
            on = ac.get("charge_current", 0.0) > 0 or ac.get("charge_active_power", 0.0) > 0 \
                or ac.get("discharge_active_power", 0.0) > 0
            evse = self.state.evse(self.evse_id)
            if self.close_contactors:
                # As josev-hal: under HLC a 0 setpoint (smart charging's 0) keeps them closed.
                keep = self.hlc and evse.contactor == "closed"
                evse.contactor = "closed" if on or keep else "opened"
            return m.PowerElectronicsSetpointResponse(evse_id=self.evse_id, status="accepted")
        if req.name == "power_electronics_setpoint":
            self.setpoint = req.data
            self.physics()
            return m.PowerElectronicsSetpointResponse(evse_id=self.evse_id, status="accepted")
        if req.name == "cs_contactor_status":
            status = self.state.evse(self.evse_id).contactor or "opened"
            return m.CsContactorStatusResponse(evse_id=self.evse_id, status=status)
        return None

    def physics(self) -> None:
        """Voltage and current the supply settles to against the EV's battery."""
        lim = self.state.evse(self.evse_id).limits
        if lim is None or lim.dc is None:
            return
        sp = (self.setpoint or {}).get("dc")
        if not sp or sp["voltage"] <= 0:
            if self.current_falls:
                self._dc(present_voltage=0.0, present_current=0.0)
            return
        if self.setpoint and self.setpoint.get("is_precharge"):
            volts = sp["voltage"] if self.precharge_reaches else sp["voltage"] / 2
            self._dc(present_voltage=volts, present_current=0.0)
            return
        ev = self.ev
        if sp.get("discharge_current", 0.0) > 0:  # BPT: the battery drives the current back
            amps = -sp["discharge_current"]
            self._dc(present_voltage=round(ev.ocv + amps * ev.cfg.resistance, 1),
                     present_current=round(amps, 1))
            return
        amps = min(sp.get("charge_current", 0.0),
                   max((sp["voltage"] - ev.ocv) / ev.cfg.resistance, 0.0))
        self._dc(present_voltage=round(ev.ocv + amps * ev.cfg.resistance, 1),
                 present_current=round(amps, 1))

    def meter(self, now: float) -> None:
        self.state.set_meter(m.MeterValuesResponse.model_validate({
            "evse_id": self.evse_id, "timestamp": datetime.fromtimestamp(EPOCH + now, UTC),
            "voltage": {"l1": 0, "l2": 0, "l3": 0}, "current": {"l1": 0, "l2": 0, "l3": 0},
            "power_factor": 1.0, "frequency": 50.0,
            # energy_wh is net: what went in is that plus what came back out (BPT).
            "total_active_energy_imported": self.ev.energy_wh + self.ev.discharged_wh,
            "total_active_energy_exported": self.ev.discharged_wh,
            "total_reactive_energy_imported": 0.0}))


@dataclass
class Transcript:
    # (now, "EV>" or "<SECC", message name)
    messages: list[tuple[float, str, str]] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    secc_end: EndSession | None = None
    ev_end: EndSession | None = None
    secc_end_at: float | None = None
    ev_end_at: float | None = None
    sends: list[tuple[str, float, Send]] = field(default_factory=list)   # side, now, send

    def names(self, direction: str | None = None) -> list[str]:
        return [n for _, d, n in self.messages if direction is None or d == direction]

    def sent(self, side: str, message: str) -> list[tuple[float, bytes]]:
        """(time, EXI) of every `message` that `side` ("secc" or "ev") wrote, in order."""
        return [(now, send.data) for s, now, send in self.sends
                if s == side and send.message == message]

    def sent_at(self, side: str, message: str) -> list[float]:
        return [now for now, _ in self.sent(side, message)]


class Loopback:
    """Runs SECC and EVCC cores against each other on a virtual clock (seconds)."""

    def __init__(self, secc_cfg: SeccConfig | None = None, ev_cfg: EvConfig | None = None, *,
                 timing: Timing = NORMATIVE, station: MemoryStation | None = None,
                 latency: float = 0.001, session_ids: int = 1) -> None:
        self.secc_cfg = secc_cfg or SeccConfig(timing=timing)
        self.ev_cfg = ev_cfg or EvConfig()
        self.timing = timing
        self.ev = EvModel(self.ev_cfg)
        self.station = station or MemoryStation(self.ev)
        self.station.ev = self.ev
        self.latency = latency
        self.paused: dict[bytes, PausedSession] = {}
        self._ids = itertools.count(session_ids)
        self.queue: list[tuple[float, int, str, Any]] = []
        self.seq = itertools.count()
        self.now = 0.0
        self.t = Transcript()
        self.drop_secc: set[str] = set()   # response names the SECC "loses" (tests)
        self.freeze_ev_after: str | None = None   # the EV hangs once the SECC sent this
        self.frozen = False
        self.timers: dict[tuple[str, str], float] = {}
        self.secc: SeccCore
        self.evcc: EvccCore
        self.connections = 0

    def _new_id(self) -> bytes:
        return next(self._ids).to_bytes(8, "big")

    def push(self, at: float, kind: str, data: Any) -> None:
        heapq.heappush(self.queue, (at, next(self.seq), kind, data))

    def connect(self, now: float, resume: bytes | None = None,
                plugged_at: float | None = None) -> None:
        self.connections += 1
        self.secc = SeccCore(self.secc_cfg, self.station.state, epoch=EPOCH,
                             evcc_mac=self.ev_cfg.mac, paused=self.paused,
                             new_session_id=self._new_id)
        self.evcc = EvccCore(self.ev_cfg, self.ev, timing=self.timing, resume_session=resume,
                             epoch=EPOCH)
        self.timers = {}
        self.run_actions("secc", self.secc.start(now, plugged_at), now)
        self.run_actions("ev", self.evcc.start(now, plugged_at), now)

    def run_actions(self, side: str, actions: list[Action], now: float) -> None:
        for a in actions:
            if isinstance(a, Send):
                self.t.sends.append((side, now, a))
                arrow = "<SECC" if side == "secc" else "EV>"
                if side == "secc" and a.message in self.drop_secc:
                    self.t.messages.append((now, "<SECC(lost)", a.message))
                    continue
                self.t.messages.append((now, arrow, a.message))
                if side == "secc" and a.message == self.freeze_ev_after:
                    self.frozen = True
                if self.frozen:
                    continue
                target = "to_ev" if side == "secc" else "to_secc"
                self.push(now + self.latency, target, (a.payload_type, a.data))
            elif isinstance(a, SetTimer):
                self.timers[(side, a.name)] = a.at
                self.push(a.at, "timer", (side, a.name, a.at))
            elif isinstance(a, CancelTimer):
                self.timers.pop((side, a.name), None)
            elif isinstance(a, ApiRequest):
                resp = self.station.request(a, now)
                if resp is not None:
                    self.push(now + 0.002, "api", (a.name, resp))
                if a.name == "power_electronics_setpoint":
                    self.push(now + 0.002, "station", None)   # as a cs_status update would
            elif isinstance(a, ApiUpdate):
                self.station.update(a)
            elif isinstance(a, EndSession):
                if side == "secc":
                    self.t.secc_end, self.t.secc_end_at = a, now
                else:
                    self.t.ev_end, self.t.ev_end_at = a, now
                    if a.paused and self.evcc.paused_session is not None:
                        self.push(now + self.ev_cfg.resume_after, "resume",
                                  self.evcc.paused_session)
            elif isinstance(a, Progress):
                self.t.progress.append(a)
            elif isinstance(a, EvCommand):
                if a.name == "cp":
                    self.station.set_cp(a.data["state"] + "2")
                    self.push(now + 0.001, "station", None)
                elif a.name == "unplug":
                    self.station.set_cp("A1")
                    self.push(now + 0.001, "station", None)

    def at(self, when: float, change: Callable[[], object]) -> None:
        """Change the station at `when` (e.g. a smart-charging limit), then tell the SECC as
        josev-iso15118 does after an update."""
        self.push(when, "call", change)

    def run(self, until: float = 3600.0, max_events: int = 2_000_000) -> Transcript:
        if not hasattr(self, "secc"):
            self.connect(0.0)
        for _ in range(max_events):
            if not self.queue:
                break
            if self.queue[0][0] > until:
                break
            at, _, kind, data = heapq.heappop(self.queue)
            self.now = at
            if kind == "to_secc":
                self.station.meter(at)
                self.station.physics()
                self.run_actions("secc", self.secc.receive(data[0], data[1], at), at)
                if self.secc.ended is not None and self.evcc.ended is None:
                    self.push(at + self.latency, "closed", "ev")
            elif kind == "to_ev":
                if self.frozen:
                    continue
                self.run_actions("ev", self.evcc.receive(data[0], data[1], at), at)
                if self.evcc.ended is not None and self.secc.ended is None:
                    self.push(at + self.latency, "closed", "secc")
            elif kind == "timer":
                side, name, due = data
                if self.timers.get((side, name)) != due or (side == "ev" and self.frozen):
                    continue
                del self.timers[(side, name)]
                core: Any = self.secc if side == "secc" else self.evcc
                self.run_actions(side, core.handle_timer(name, at), at)
                if self.secc.ended is not None and self.evcc.ended is None:
                    self.push(at + self.latency, "closed", "ev")
            elif kind == "api":
                self.run_actions("secc", self.secc.api_response(data[0], data[1], at), at)
            elif kind == "station":
                self.run_actions("secc", self.secc.station_updated(at), at)
            elif kind == "closed":
                if self.frozen:
                    continue
                core = self.evcc if data == "ev" else self.secc
                self.run_actions(data, core.connection_lost(at), at)
            elif kind == "resume":
                self.connect(at, resume=data)
            elif kind == "call":
                data()
                if self.secc.ended is None:
                    self.run_actions("secc", self.secc.station_updated(at), at)
        return self.t
