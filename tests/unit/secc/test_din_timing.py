"""DIN SPEC 70121's own timers (Table 77), each driven on the virtual clock (no real time).

V2G_SECC_CPState_Detection_Timeout (1.5 s): C/D for the cable check, B after
PowerDelivery(Stop); V2G_SECC_ReadyToCharge_Performance_Time (148 s) and
V2G_EVCC_ReadyToCharge_Timeout (150 s); the EV back to CP B when one of its timers runs out; and
the unit of PMax. The pilot here is the in-memory station's: `pilot()` makes it follow the EV's
CP command late or never, as a slow or stuck pilot circuit would (the simulator otherwise reads
the new state at once).
"""

from __future__ import annotations

import pytest

from josev.secc.common.actions import Action, EvCommand
from josev.secc.common.timing import Timing
from josev.secc.loopback import Loopback

from .conftest import assert_station_available, din_body, loopback, requests

DETECT = 1.5


def pilot(lb: Loopback, follows: dict[str, tuple[float, str] | None]) -> list[tuple[float, str]]:
    """The station reads the EV's CP command for state X as `follows[X]` = (delay, reading),
    or never (None). Returns the EV's CP commands as (time, state)."""
    commands: list[tuple[float, str]] = []
    original = lb.run_actions

    def run(side: str, actions: list[Action], now: float) -> None:
        passed: list[Action] = []
        for a in actions:
            if side == "ev" and isinstance(a, EvCommand) and a.name == "cp":
                commands.append((now, a.data["state"]))
                if a.data["state"] in follows:
                    rule = follows[a.data["state"]]
                    if rule is not None:
                        delay, reading = rule
                        lb.at(now + delay, lambda r=reading: lb.station.set_cp(r))
                    continue
            passed.append(a)
        original(side, passed, now)

    lb.run_actions = run  # type: ignore[method-assign]
    return commands


def arrival(lb: Loopback, message: str, index: int = 0) -> float:
    """When the SECC received the EV's `index`-th `message`."""
    return lb.t.sent_at("ev", message)[index] + lb.latency


# -- V2G_SECC_CPState_Detection_Timeout: C or D for the cable check ----------------------------

def test_cable_check_fails_when_the_cp_stays_b() -> None:
    lb = loopback("DIN", poll_interval=0.1)
    pilot(lb, {"C": None})
    lb.run()
    end = lb.t.secc_end
    assert end is not None and not end.ok and "CP state C or D not detected" in end.reason
    first = arrival(lb, "CableCheckReq")
    [answered] = lb.t.sent_at("secc", "CableCheckRes")
    assert answered == pytest.approx(first + DETECT)
    assert lb.t.secc_end_at == pytest.approx(first + DETECT)
    assert din_body(lb, "CableCheckRes").ResponseCode == "FAILED"
    assert requests(lb, "cable_check") == []          # the cable check never started
    assert lb.t.ev_end is not None and "FAILED" in lb.t.ev_end.reason
    assert_station_available(lb)


@pytest.mark.parametrize("reading", ["C2", "D2"])
def test_cable_check_goes_on_when_the_cp_comes_within_the_time(reading: str) -> None:
    lb = loopback("DIN")
    commands = pilot(lb, {"C": (1.2, reading)})
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    c_at = next(t for t, state in commands if state == "C") + 1.2
    first_res = lb.t.sent_at("secc", "CableCheckRes")[0]
    assert first_res == pytest.approx(c_at)           # answered when the CP got there
    send = next(s for side, _, s in lb.t.sends if side == "secc" and s.message == "CableCheckRes")
    assert send.deadline == pytest.approx(arrival(lb, "CableCheckReq") + 1.5)
    assert first_res <= send.deadline                 # inside the performance time
    assert din_body(lb, "CableCheckRes").ResponseCode == "OK"


def test_cp_already_c_answers_the_cable_check_at_once() -> None:
    lb = loopback("DIN")
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok
    assert lb.t.sent_at("secc", "CableCheckRes")[0] == pytest.approx(arrival(lb, "CableCheckReq"))


# -- V2G_SECC_CPState_Detection_Timeout: B after PowerDelivery(Stop) ---------------------------

@pytest.mark.parametrize(("welding", "next_request"), [(True, "WeldingDetection"),
                                                       (False, "SessionStop")])
def test_the_request_after_power_delivery_stop_fails_when_the_cp_stays_c(
        welding: bool, next_request: str) -> None:
    lb = loopback("DIN", welding_detection=welding)
    pilot(lb, {"B": None})
    lb.run()
    end = lb.t.secc_end
    assert end is not None and not end.ok and "CP state B not detected" in end.reason
    stop_res = lb.t.sent_at("secc", "PowerDeliveryRes")[1]
    assert lb.t.secc_end_at == pytest.approx(stop_res + DETECT)
    assert lb.t.sent_at("secc", next_request + "Res") == [pytest.approx(stop_res + DETECT)]
    assert din_body(lb, next_request + "Res").ResponseCode == "FAILED"
    assert lb.t.ev_end is not None and "FAILED" in lb.t.ev_end.reason
    assert_station_available(lb)


def test_welding_detection_goes_on_when_b_comes_within_the_time() -> None:
    lb = loopback("DIN")
    commands = pilot(lb, {"B": (0.9, "B2")})
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    b_at = next(t for t, state in commands if state == "B") + 0.9
    assert lb.t.sent_at("secc", "WeldingDetectionRes")[0] == pytest.approx(b_at)
    assert din_body(lb, "WeldingDetectionRes").ResponseCode == "OK"


def test_b_not_seen_before_the_request_comes_answers_it_failed() -> None:
    """The timer runs out with no request waiting: the next one is answered FAILED at once."""
    lb = loopback("DIN")
    pilot(lb, {"B": None})
    original = lb.run_actions

    def late(side: str, actions: list[Action], now: float) -> None:
        kept: list[Action] = []
        for a in actions:
            if side == "ev" and getattr(a, "message", "") == "WeldingDetectionReq":
                lb.t.sends.append((side, now, a))  # type: ignore[arg-type]
                lb.push(now + 1.6, "to_secc", (a.payload_type, a.data))  # type: ignore[union-attr]
                continue
            kept.append(a)
        original(side, kept, now)

    lb.run_actions = late  # type: ignore[method-assign]
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "CP state B not detected" in end.reason
    stop_res = lb.t.sent_at("secc", "PowerDeliveryRes")[1]
    came = lb.t.sent_at("ev", "WeldingDetectionReq")[0] + 1.6
    assert came > stop_res + DETECT
    assert lb.t.sent_at("secc", "WeldingDetectionRes") == [pytest.approx(came)]
    assert din_body(lb, "WeldingDetectionRes").ResponseCode == "FAILED"
    assert_station_available(lb)


# -- ReadyToCharge ------------------------------------------------------------------------------

def test_secc_ready_to_charge_148_s_from_plug_in() -> None:
    """Authorization pending for ever (the Ongoing limits raised): 148 s after plug-in the
    next request is answered FAILED."""
    lb = loopback("DIN", timing=Timing(ongoing_secc=1000.0, ongoing_evcc=1000.0),
                  secc={"free_charging": False}, poll_interval=1.0)
    lb.connect(5.0)
    lb.run_actions("secc", lb.secc.start(5.0, plugged_at=0.0), 5.0)
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "ReadyToCharge" in end.reason
    assert 148.0 <= lb.t.secc_end_at < 149.1  # type: ignore[operator]
    assert lb.t.ev_end is not None and "FAILED" in lb.t.ev_end.reason
    assert din_body(lb, "ContractAuthenticationRes", -1).ResponseCode == "FAILED"
    assert_station_available(lb)


def test_secc_ready_to_charge_timer_stops_at_power_delivery_start() -> None:
    lb = loopback("DIN")
    lb.connect(0.0)
    lb.run(until=0.05)
    assert lb.secc.ctx.timers.due("ready_to_charge") == pytest.approx(148.0)
    step = 0.05
    while not lb.t.sent_at("secc", "PowerDeliveryRes") and step < 100.0:
        lb.run(until=step)
        step += 0.05
    assert lb.secc.ended is None
    assert lb.secc.ctx.timers.due("ready_to_charge") is None
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok


def test_evcc_ready_to_charge_150_s() -> None:
    lb = loopback("DIN", timing=Timing(ongoing_secc=1000.0, ongoing_evcc=1000.0,
                                       ready_to_charge_secc=1000.0),
                  secc={"free_charging": False}, poll_interval=1.0)
    lb.run()
    end = lb.t.ev_end
    assert end is not None and "ReadyToCharge" in end.reason
    began = lb.t.sent_at("secc", "supportedAppProtocolRes")[0] + lb.latency
    assert lb.t.ev_end_at == pytest.approx(began + 150.0)
    assert_station_available(lb)


# -- the EV goes back to CP B when one of its DIN timers runs out ------------------------------

def test_ev_cable_check_timeout_goes_to_b_before_ending() -> None:
    lb = loopback("DIN", timing=Timing(cable_check_secc=100.0),
                  station={"cable_check_time": 1000.0}, poll_interval=0.5)
    commands = pilot(lb, {})
    lb.run()
    end = lb.t.ev_end
    assert end is not None and "cable-check time" in end.reason
    assert commands[-1] == (pytest.approx(lb.t.ev_end_at), "B")
    assert lb.station.cp == "B2"
    assert_station_available(lb)


# -- PMax ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("limit_w", "pmax"), [(None, 32767), (11_000.0, 11_000), (0.0, 0)])
def test_din_pmax_is_watts_without_multiplier_capped_at_32767(limit_w: float | None,
                                                                pmax: int) -> None:
    """DIN's PMaxType is an xs:short (no unit, no multiplier), read as W: a 150 kW station
    sends 32767; the exact figure goes in EVSEMaximumPowerLimit (a PhysicalValue)."""
    lb = loopback("DIN")
    if limit_w is not None:
        assert lb.station.set_limit(limit_w, "W")
    lb.run(until=2.0)
    res = din_body(lb, "ChargeParameterDiscoveryRes")
    entry = res.SASchedules.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry[0]
    assert entry.PMax == pmax and isinstance(entry.PMax, int)
    limit = res.EVSEChargeParameter.EVSEMaximumPowerLimit
    assert limit.Unit == "W"
    assert limit.Value * 10.0 ** limit.Multiplier == (150_000.0 if limit_w is None else limit_w)


def test_a_station_that_reports_no_cp_state_is_not_waited_for() -> None:
    """No cp_status from the station at all: nothing to wait for (the cable check and the
    contactor window still guard the power path)."""
    lb = loopback("DIN")
    pilot(lb, {"C": None, "B": None})
    lb.station.state.evse(1).cp = None
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    assert lb.t.sent_at("secc", "CableCheckRes")[0] == pytest.approx(arrival(lb, "CableCheckReq"))
