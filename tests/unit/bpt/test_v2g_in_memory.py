"""-20 DC_BPT with real discharge, in memory (our SECC against our EV, the real EXI codec):
an EV above its target SoC gives energy back, in both control modes, within both sides'
discharge limits, and the session ends with the station available."""

from __future__ import annotations

from typing import Any

import pytest

from josev.evcc.common.ev import EvConfig, EvModel
from josev.secc.common.actions import ApiRequest
from josev.secc.common.session import SeccConfig
from josev.secc.common.timing import Timing
from josev.secc.loopback import Loopback, MemoryStation


def _loopback(mode: str, soc: float = 80.0, target_soc: float = 78.0) -> Loopback:
    cfg = EvConfig(protocols=("ISO20_DC",), bpt=True, soc=soc, target_soc=target_soc,
                   time_scale=100.0, control_mode=mode)
    t = Timing()
    station = MemoryStation(EvModel(cfg), bpt=True)  # dc_bpt: 50 kW, 100 A
    return Loopback(SeccConfig(timing=t), cfg, timing=t, station=station)


def _setpoints(lb: Loopback, precharge: bool = True, part: str = "dc") -> list[dict[str, Any]]:
    """The dc (or ac) part of every setpoint sent (without the pre-charge ones unless asked)."""
    return [r.data[part] for r in lb.station.requests
            if isinstance(r, ApiRequest) and r.name == "power_electronics_setpoint"
            and (precharge or not r.data.get("is_precharge"))]


@pytest.mark.parametrize("mode", ["dynamic", "scheduled"])
def test_ev_above_its_target_discharges_to_it(mode: str) -> None:
    lb = _loopback(mode)
    lb.run()
    t = lb.t
    assert t.secc_end is not None and t.secc_end.ok, t.secc_end
    assert t.ev_end is not None and t.ev_end.ok, t.ev_end
    assert lb.ev.soc <= 78.0
    assert lb.ev.discharged_wh > 0.0
    discharges = [sp["discharge_current"] for sp in _setpoints(lb) if "discharge_current" in sp]
    assert discharges and max(discharges) > 50.0
    assert max(discharges) <= 100.0  # the station's discharge limit (the EV allows 200 A)
    assert min(p.values["current"] for p in t.progress) < -50.0
    assert not any(sp.get("charge_current", 0.0) > 0 for sp in _setpoints(lb, False))
    last = _setpoints(lb)[-1]
    assert last["voltage"] == 0.0 and last.get("charge_current", 0.0) == 0.0


def test_a_bpt_ev_below_its_target_charges() -> None:
    lb = _loopback("dynamic", soc=70.0, target_soc=80.0)
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok
    assert lb.ev.soc >= 80.0 and lb.ev.discharged_wh == 0.0
    assert not any("discharge_current" in sp for sp in _setpoints(lb))


def _ac_loopback(mode: str, soc: float = 80.0, target_soc: float = 78.0) -> Loopback:
    cfg = EvConfig(protocols=("ISO20_AC",), ac=True, bpt=True, soc=soc, target_soc=target_soc,
                   time_scale=100.0, control_mode=mode)
    t = Timing()
    station = MemoryStation(EvModel(cfg), bpt=True, ac=True)  # ac_bpt: 7 kW per phase
    return Loopback(SeccConfig(timing=t), cfg, timing=t, station=station)


@pytest.mark.parametrize("mode", ["dynamic", "scheduled"])
def test_ac_bpt_ev_above_its_target_feeds_back(mode: str) -> None:
    lb = _ac_loopback(mode)
    lb.run()
    t = lb.t
    assert t.secc_end is not None and t.secc_end.ok, t.secc_end
    assert t.ev_end is not None and t.ev_end.ok, t.ev_end
    assert lb.ev.soc <= 78.0 and lb.ev.discharged_wh > 0.0
    back = [sp["discharge_active_power"] for sp in _setpoints(lb, part="ac")
            if "discharge_active_power" in sp]
    # The EV could feed 22 kW (32 A x 230 V x 3); the station takes at most 3 x 7 kW.
    assert back and max(back) == pytest.approx(21000.0)
    assert _setpoints(lb, part="ac")[-1].get("charge_active_power", 0.0) == 0.0
    assert "discharge_active_power" not in _setpoints(lb, part="ac")[-1]


def test_ac_bpt_ev_below_its_target_charges() -> None:
    lb = _ac_loopback("dynamic", soc=70.0, target_soc=72.0)
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok
    assert lb.ev.soc >= 72.0 and lb.ev.discharged_wh == 0.0
    assert not any("discharge_active_power" in sp for sp in _setpoints(lb, part="ac"))
