"""Helpers for the in-memory session tests: our SECC core against our EVCC core."""

from __future__ import annotations

from typing import Any

from josev.evcc.common.ev import EvConfig, EvModel
from josev.exi import decode
from josev.secc.common.actions import ApiRequest, ApiUpdate
from josev.secc.common.session import SeccConfig
from josev.secc.common.timing import Timing
from josev.secc.loopback import Loopback, MemoryStation


def loopback(protocol: str = "ISO20_DC", *, timing: Timing | None = None,
             station: dict[str, Any] | None = None, secc: dict[str, Any] | None = None,
             **ev: Any) -> Loopback:
    """A fast session by default: SoC 70 -> 80 % with the battery clock at 100x."""
    ev.setdefault("soc", 70.0)
    ev.setdefault("target_soc", 80.0)
    ev.setdefault("time_scale", 100.0)
    ev_cfg = EvConfig(protocols=(protocol,), **ev)
    t = timing or Timing()
    model = EvModel(ev_cfg)
    st = MemoryStation(model, **(station or {}))
    return Loopback(SeccConfig(timing=t, **(secc or {})), ev_cfg, timing=t, station=st)


def bodies(lb: Loopback, side: str, name: str, family: str) -> list[tuple[float, Any]]:
    """(time, decoded message) of every `name` that `side` sent: the body element for DIN and
    -2, the whole message for -20's families."""
    out = []
    for now, data in lb.t.sent(side, name):
        msg = decode(data, family)
        out.append((now, msg.Body.BodyElement if family in ("din", "iso2") else msg))
    return out


def din_body(lb: Loopback, message: str, index: int = 0) -> Any:
    """The `index`-th DIN `message` the SECC sent, decoded."""
    return bodies(lb, "secc", message, "din")[index][1]


def updates(lb: Loopback, name: str) -> list[dict[str, Any]]:
    return [u.data for u in lb.station.updates if isinstance(u, ApiUpdate) and u.name == name]


def requests(lb: Loopback, name: str) -> list[dict[str, Any]]:
    return [r.data for r in lb.station.requests if isinstance(r, ApiRequest) and r.name == name]


def assert_station_available(lb: Loopback) -> None:
    """After any end: state Idle, HLC off, and no current asked of the supply."""
    states = updates(lb, "iso15118_state_info")
    assert states[-1] == {"evse_id": 1, "session_status": "Idle"}
    hlc = updates(lb, "hlc_charging")
    if hlc:
        assert hlc[-1]["status"] is False
    sp = requests(lb, "power_electronics_setpoint")
    if sp and "ac" in sp[-1]:
        ac = sp[-1]["ac"]
        assert ac.get("charge_current", 0.0) == 0.0 and ac.get("charge_active_power", 0.0) == 0.0
    elif sp:
        assert sp[-1]["dc"]["voltage"] == 0.0
        assert sp[-1]["dc"].get("charge_current", 0.0) == 0.0
