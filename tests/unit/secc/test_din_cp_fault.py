"""[V2G-DC-668] on the virtual clock: a CP B (not C/D) reported between the start of the cable
check and PowerDeliveryReq(Stop) is an EVSE-initiated emergency shutdown. Power goes off at the
CP report; the next request (if one comes) is answered FAILED with EVSE_EmergencyShutdown; the
session ends and the station is available. B at the other times is the normal DIN sequence.
"""

from __future__ import annotations

from typing import Any

import pytest

from josev.secc.din.session import EMERGENCY_REPORT_WAIT
from josev.secc.loopback import Loopback

from .conftest import assert_station_available, din_body, loopback, requests, updates


def run_until(lb: Loopback, message: str, count: int = 1) -> float:
    """Step the virtual clock until the SECC has sent `count` `message`s; returns now."""
    step = 0.0
    while len(lb.t.sent_at("secc", message)) < count:
        step += 0.01
        assert step < 200.0, f"no {message}"
        lb.run(until=step)
    return lb.now


def setpoints_at(lb: Loopback, at: float) -> list[dict[str, Any]]:
    return [r.data for t, r in lb.station.timed_requests
            if r.name == "power_electronics_setpoint" and t == pytest.approx(at)]


def test_cp_b_in_the_charge_loop_is_an_emergency_shutdown() -> None:
    lb = loopback("DIN", soc=20.0, target_soc=90.0)
    lb.connect(0.0)
    run_until(lb, "CurrentDemandRes", 3)
    drop = lb.now + 0.005
    lb.at(drop, lambda: lb.station.set_cp("B2"))
    lb.run()
    end = lb.t.secc_end
    assert end is not None and not end.ok and "V2G-DC-668" in end.reason, end
    # Power off at the CP report itself, not at the next request.
    [off] = setpoints_at(lb, drop)
    assert off["dc"] == {"voltage": 0.0, "charge_current": 0.0}
    # The next CurrentDemandReq is answered FAILED, EVSE_EmergencyShutdown, and ends it.
    after = [t for t in lb.t.sent_at("secc", "CurrentDemandRes") if t > drop]
    assert len(after) == 1 and lb.t.secc_end_at == pytest.approx(after[0])
    assert after[0] < drop + EMERGENCY_REPORT_WAIT
    res = din_body(lb, "CurrentDemandRes", -1)
    assert res.ResponseCode == "FAILED"
    assert res.DC_EVSEStatus.EVSEStatusCode == "EVSE_EmergencyShutdown"
    assert lb.t.ev_end is not None and "FAILED" in lb.t.ev_end.reason
    assert lb.t.sent_at("ev", "PowerDeliveryReq")[-1] < drop    # no regular stop happened
    assert_station_available(lb)
    assert updates(lb, "iso15118_state_info")[-1]["session_status"] == "Idle"


def test_cp_b_with_no_request_coming_ends_after_the_report_wait() -> None:
    """The EV hangs (a request never comes): the session still ends, power off at once."""
    lb = loopback("DIN", soc=20.0, target_soc=90.0)
    lb.connect(0.0)
    run_until(lb, "CurrentDemandRes", 2)
    lb.freeze_ev_after = "CurrentDemandRes"
    run_until(lb, "CurrentDemandRes", 3)
    drop = lb.now + 0.05
    lb.at(drop, lambda: lb.station.set_cp("B2"))
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "V2G-DC-668" in end.reason
    assert lb.t.secc_end_at == pytest.approx(drop + EMERGENCY_REPORT_WAIT)
    assert setpoints_at(lb, drop)[0]["dc"]["charge_current"] == 0.0
    assert all(t < drop for t in lb.t.sent_at("secc", "CurrentDemandRes"))
    assert_station_available(lb)


def test_cp_b_during_the_cable_check_is_an_emergency_shutdown() -> None:
    """The cable check has begun in C: B there is the same fault (the isolation test's
    voltage may be on), answered at the next CableCheckReq poll."""
    lb = loopback("DIN", station={"cable_check_time": 10.0}, poll_interval=0.2)
    lb.connect(0.0)
    run_until(lb, "CableCheckRes", 2)
    assert requests(lb, "cable_check")          # it started
    drop = lb.now + 0.05
    lb.at(drop, lambda: lb.station.set_cp("B2"))
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "V2G-DC-668" in end.reason
    assert setpoints_at(lb, drop)[0]["dc"]["voltage"] == 0.0
    res = din_body(lb, "CableCheckRes", -1)
    assert res.ResponseCode == "FAILED"
    assert res.DC_EVSEStatus.EVSEStatusCode == "EVSE_EmergencyShutdown"
    assert lb.t.secc_end_at == pytest.approx(lb.t.sent_at("secc", "CableCheckRes")[-1])
    assert_station_available(lb)


@pytest.mark.parametrize("state", ["A1", "E", "F"])
def test_cp_a_e_f_in_the_charge_loop_still_end_as_ev_gone(state: str) -> None:
    lb = loopback("DIN", soc=20.0, target_soc=90.0)
    lb.connect(0.0)
    run_until(lb, "CurrentDemandRes", 3)
    lb.at(lb.now + 0.005, lambda: lb.station.set_cp(state))
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "EV gone" in end.reason
    assert_station_available(lb)


def test_cp_b_before_the_cable_check_and_after_power_delivery_stop_is_normal() -> None:
    """B during the setup messages and after PowerDeliveryReq(Stop) is the DIN sequence."""
    lb = loopback("DIN")
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    assert lb.station.cp == "B2"
    # The EV left C after the PowerDeliveryRes(Stop): WeldingDetection and SessionStop OK.
    assert din_body(lb, "WeldingDetectionRes").ResponseCode == "OK"
    assert din_body(lb, "WeldingDetectionRes").DC_EVSEStatus.EVSEStatusCode == "EVSE_Ready"
    assert din_body(lb, "SessionStopRes").ResponseCode == "OK"
