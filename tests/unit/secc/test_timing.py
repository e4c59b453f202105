"""Every timing rule of standards.md, each driven on the virtual clock (no real time)."""

from __future__ import annotations

import pytest

from josev.secc.common.timing import Timing
from josev.secc.loopback import Loopback

from .conftest import assert_station_available, loopback, updates


def last_sent(lb: Loopback, side: str, message: str) -> float:
    return max(lb.t.sent_at(side, message))


# -- SECC sequence timeouts ---------------------------------------------------------------------

@pytest.mark.parametrize(("proto", "after", "wait"), [
    ("ISO20_DC", "ServiceDiscoveryRes", 60.0),
    ("ISO20_DC", "DC_ChargeLoopRes", 0.5),     # -20: 0.5 s after a charge-loop response
    ("ISO20_DC", "DC_PreChargeRes", 60.0),
    ("DIN", "ServiceDiscoveryRes", 60.0),
    ("DIN", "CurrentDemandRes", 60.0),         # DIN keeps 60 s in the loop
    ("ISO2", "CurrentDemandRes", 60.0),
    ("ISO2", "AuthorizationRes", 60.0),
    ("ISO20_AC", "AC_ChargeLoopRes", 0.5),
    ("ISO20_AC", "ScheduleExchangeRes", 60.0),
])
def test_secc_sequence_timeout(proto: str, after: str, wait: float) -> None:
    ac = proto == "ISO20_AC"
    lb = loopback(proto, ac=ac, station={"ac": ac})
    lb.freeze_ev_after = after
    lb.run()
    end = lb.t.secc_end
    assert end is not None and not end.ok and end.reason.startswith("sequence timeout")
    assert lb.t.secc_end_at == pytest.approx(last_sent(lb, "secc", after) + wait)
    assert_station_available(lb)


def test_secc_comm_setup_timeout_counts_from_plug_in() -> None:
    lb = loopback("ISO20_DC")
    lb.freeze_ev_after = "supportedAppProtocolRes"
    lb.connect(5.0)
    lb.run_actions("secc", lb.secc.start(5.0, plugged_at=0.0), 5.0)
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "communication setup" in end.reason
    assert lb.t.secc_end_at == pytest.approx(18.0)


def test_comm_setup_timer_stops_at_session_setup() -> None:
    lb = loopback("ISO20_DC")
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok
    assert "comm_setup" not in lb.secc.ctx.timers.names()


# -- EVCC message timeouts ---------------------------------------------------------------------

@pytest.mark.parametrize(("proto", "lost", "wait"), [
    ("ISO20_DC", "SessionSetupRes", 2.0),
    ("ISO20_DC", "DC_ChargeLoopRes", 0.5),
    ("ISO20_DC", "DC_CableCheckRes", 2.0),
    ("DIN", "CurrentDemandRes", 0.25),
    ("DIN", "PowerDeliveryRes", 2.0),
    ("DIN", "supportedAppProtocolRes", 2.0),
    ("ISO2", "CurrentDemandRes", 0.25),
    ("ISO2", "PowerDeliveryRes", 5.0),        # -2 Table 109: PowerDelivery 5 s / 4.5 s
    ("ISO20_AC", "AC_ChargeLoopRes", 0.5),
])
def test_evcc_message_timeout(proto: str, lost: str, wait: float) -> None:
    ac = proto == "ISO20_AC"
    lb = loopback(proto, ac=ac, station={"ac": ac})
    lb.drop_secc = {lost}
    lb.run()
    end = lb.t.ev_end
    assert end is not None and not end.ok
    req = lost[:-3] + "Req"
    first_req = min(now for s, now, send in lb.t.sends if s == "ev" and send.message == req)
    assert lb.t.ev_end_at == pytest.approx(first_req + wait)
    assert_station_available(lb)


# -- Ongoing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("proto", ["ISO20_DC", "DIN"])
def test_secc_ongoing_timeout_answers_failed_after_55_s(proto: str) -> None:
    lb = loopback(proto, secc={"free_charging": False}, poll_interval=1.0)
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "authorization still pending" in end.reason
    name = "AuthorizationReq" if proto == "ISO20_DC" else "ContractAuthenticationReq"
    first = min(now for s, now, send in lb.t.sends if s == "ev" and send.message == name)
    assert 55.0 <= lb.t.secc_end_at - first < 56.1  # type: ignore[operator]
    assert lb.t.ev_end is not None and "FAILED" in lb.t.ev_end.reason
    assert_station_available(lb)


def test_authorization_arrives_while_ongoing() -> None:
    lb = loopback("ISO20_DC", secc={"free_charging": False}, poll_interval=0.5)
    lb.connect(0.0)
    lb.run(until=10.0)
    assert lb.t.names("EV>")[-1] == "AuthorizationReq"
    lb.secc.ctx.authorized = True
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok


def test_evcc_ongoing_timeout_60_s() -> None:
    lb = loopback("ISO20_DC", timing=Timing(ongoing_secc=100.0),
                  secc={"free_charging": False}, poll_interval=1.0)
    lb.run()
    end = lb.t.ev_end
    assert end is not None and "Ongoing after 60.0 s" in end.reason


# -- Cable check, pre-charge, contactors --------------------------------------------------------

@pytest.mark.parametrize("proto", ["ISO20_DC", "DIN"])
def test_secc_cable_check_time_38_s(proto: str) -> None:
    lb = loopback(proto, station={"cable_check_time": 1000.0}, poll_interval=0.5)
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "cable check not finished" in end.reason
    name = "DC_CableCheckReq" if proto == "ISO20_DC" else "CableCheckReq"
    first = min(now for s, now, send in lb.t.sends if s == "ev" and send.message == name)
    assert 38.0 <= lb.t.secc_end_at - first < 38.6  # type: ignore[operator]
    assert_station_available(lb)


def test_evcc_cable_check_time_40_s() -> None:
    lb = loopback("DIN", timing=Timing(cable_check_secc=100.0),
                  station={"cable_check_time": 1000.0}, poll_interval=0.5)
    lb.run()
    end = lb.t.ev_end
    assert end is not None and "cable-check time" in end.reason
    first = min(now for s, now, send in lb.t.sends if s == "ev" and send.message == "CableCheckReq")
    assert lb.t.ev_end_at == pytest.approx(first - 0.0 + 40.0, abs=0.01)


@pytest.mark.parametrize("proto", ["ISO20_DC", "DIN"])
def test_secc_pre_charge_time_5_s(proto: str) -> None:
    lb = loopback(proto, station={"precharge_reaches": False}, poll_interval=0.1)
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "pre-charge did not finish" in end.reason
    name = "DC_PreChargeReq" if proto == "ISO20_DC" else "PreChargeReq"
    first = min(now for s, now, send in lb.t.sends if s == "ev" and send.message == name)
    assert 5.0 <= lb.t.secc_end_at - first < 5.2  # type: ignore[operator]
    assert_station_available(lb)


def test_evcc_pre_charge_time_7_s() -> None:
    lb = loopback("ISO20_DC", timing=Timing(pre_charge_secc=100.0),
                  station={"precharge_reaches": False}, poll_interval=0.1)
    lb.run()
    end = lb.t.ev_end
    assert end is not None and "pre-charge" in end.reason
    first = min(now for s, now, send in lb.t.sends
                if s == "ev" and send.message == "DC_PreChargeReq")
    assert lb.t.ev_end_at == pytest.approx(first + 7.0, abs=0.01)


@pytest.mark.parametrize(("proto", "code"), [("ISO20_DC", "FAILED_ContactorError"),
                                             ("DIN", "FAILED")])
def test_contactors_must_close_within_3_s(proto: str, code: str) -> None:
    lb = loopback(proto, station={"close_contactors": False, "cable_check_time": 10.0},
                  poll_interval=0.5)
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "contactor" in end.reason
    name = "DC_CableCheckReq" if proto == "ISO20_DC" else "CableCheckReq"
    first = min(now for s, now, send in lb.t.sends if s == "ev" and send.message == name)
    assert 3.0 <= lb.t.secc_end_at - first < 3.6  # type: ignore[operator]
    assert lb.t.ev_end is not None and code in lb.t.ev_end.reason
    assert_station_available(lb)


def test_contactor_window_closes_when_the_station_reports_closed() -> None:
    lb = loopback("ISO20_DC", station={"close_contactors": False, "cable_check_time": 10.0},
                  poll_interval=0.5)
    lb.connect(0.0)
    lb.run(until=1.0)
    assert lb.secc.ctx.timers.due("contactor") is not None
    lb.station.state.evse(1).contactor = "closed"
    lb.run_actions("secc", lb.secc.station_updated(lb.now), lb.now)
    assert lb.secc.ctx.timers.due("contactor") is None
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok


def test_stale_timer_calls_are_ignored() -> None:
    lb = loopback("ISO20_DC")
    lb.connect(0.0)
    lb.run(until=0.5)
    due = lb.secc.ctx.timers.due("sequence")
    assert due is not None
    assert lb.secc.handle_timer("sequence", due - 0.001) == []
    assert lb.secc.handle_timer("no_such_timer", due + 100) == []
    assert lb.secc.ended is None


@pytest.mark.parametrize("proto", ["ISO20_DC", "DIN"])
@pytest.mark.parametrize("falls", [True, False])
def test_power_delivery_stop_waits_for_the_current_to_fall(proto: str, falls: bool) -> None:
    """The EV leaves state C on PowerDeliveryRes(Stop): the SECC answers once the station's
    current is below 5 A, and at the latest 1 s after the request (inside the 1.5 s)."""
    lb = loopback(proto, station={"current_falls": falls})
    lb.run()
    reqs = [now for s, now, send in lb.t.sends if s == "ev" and send.message == "PowerDeliveryReq"]
    ress = [now for s, now, send in lb.t.sends
            if s == "secc" and send.message == "PowerDeliveryRes"]
    assert len(reqs) == len(ress) == 2
    wait = ress[1] - (reqs[1] + lb.latency)
    if falls:
        assert 0 < wait < 0.01
    else:
        assert wait == pytest.approx(1.0)
    assert lb.t.ev_end is not None and lb.t.ev_end.ok


@pytest.mark.parametrize("proto", ["ISO2", "ISO20_AC"])
def test_ac_contactors_must_close_within_3_s_of_cp_c(proto: str) -> None:
    """AC: the EV goes to C on PowerDeliveryReq(Start); the station must report its
    contactors closed within 3 s, else the next loop request is answered FAILED."""
    lb = loopback(proto, ac=True, station={"ac": True, "close_contactors": False},
                  target_soc=99.0)
    lb.run()
    end = lb.t.secc_end
    assert end is not None and "contactor" in end.reason
    start = min(now for s, now, send in lb.t.sends
                if s == "ev" and send.message == "PowerDeliveryReq")
    assert 3.0 <= lb.t.secc_end_at - start < 3.2  # type: ignore[operator]
    assert lb.t.ev_end is not None and "FAILED" in lb.t.ev_end.reason
    assert updates(lb, "iso15118_state_info")[-1] == {"evse_id": 1, "session_status": "Idle"}


@pytest.mark.parametrize("proto", ["ISO2", "ISO20_AC"])
def test_ev_signals_c_within_250_ms_of_power_delivery_start(proto: str) -> None:
    """AC: our EV switches to C together with PowerDeliveryReq(Start) (the limit is 250 ms)."""
    from josev.secc.common.actions import EvCommand, Send

    lb = loopback(proto, ac=True, station={"ac": True})
    seen: list[tuple[float, str]] = []
    original = lb.run_actions

    def spy(side: str, actions: list, now: float) -> None:  # type: ignore[type-arg]
        for a in actions:
            if side == "ev" and isinstance(a, Send) and a.message == "PowerDeliveryReq":
                seen.append((now, "PowerDeliveryReq"))
            if side == "ev" and isinstance(a, EvCommand) and a.name == "cp":
                seen.append((now, "cp " + a.data["state"]))
        original(side, actions, now)

    lb.run_actions = spy  # type: ignore[method-assign]
    lb.run()
    start = next(t for t, what in seen if what == "PowerDeliveryReq")
    c = next(t for t, what in seen if what == "cp C")
    assert 0.0 <= c - start <= 0.25
