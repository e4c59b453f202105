"""Whole sessions in memory, every message through the real EXI codec: -20 DC and DIN DC."""

from __future__ import annotations

import itertools

import pytest

from josev.secc.loopback import Loopback

from .conftest import assert_station_available, loopback, requests, updates


def run(lb: Loopback) -> Loopback:
    lb.run()
    return lb


@pytest.mark.parametrize("mode", ["dynamic", "scheduled"])
def test_iso20_dc_session_completes(mode: str) -> None:
    lb = run(loopback("ISO20_DC", control_mode=mode))
    t = lb.t
    assert t.secc_end is not None and t.secc_end.ok, t.secc_end
    assert t.ev_end is not None and t.ev_end.ok, t.ev_end
    names = t.names("EV>")
    assert names[:9] == [
        "supportedAppProtocolReq", "SessionSetupReq", "AuthorizationSetupReq",
        "AuthorizationReq", "ServiceDiscoveryReq", "ServiceDetailReq", "ServiceSelectionReq",
        "DC_ChargeParameterDiscoveryReq", "ScheduleExchangeReq"]
    assert names[-3:] == ["PowerDeliveryReq", "DC_WeldingDetectionReq", "SessionStopReq"]
    assert names.count("DC_ChargeLoopReq") >= 5
    assert lb.ev.soc >= 80.0
    # Power flowed at the EV's current and the station was left available.
    peak = max(p.values["current"] for p in t.progress)
    assert peak > 100.0
    assert_station_available(lb)
    info = [u for u in updates(lb, "iso15118_state_info") if "info" in u]
    assert info[0]["info"]["protocol"] == "ISO_15118_20_DC"
    assert [h["status"] for h in updates(lb, "hlc_charging")] == [True, False]


def test_iso20_dc_bpt_session_completes() -> None:
    lb = run(loopback("ISO20_DC", bpt=True, station={"bpt": True}))
    assert lb.t.secc_end is not None and lb.t.secc_end.ok
    assert lb.ev.soc >= 80.0


def test_din_dc_session_completes() -> None:
    lb = run(loopback("DIN"))
    t = lb.t
    assert t.secc_end is not None and t.secc_end.ok, t.secc_end
    assert t.ev_end is not None and t.ev_end.ok, t.ev_end
    names = t.names("EV>")
    assert names[:6] == ["supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq",
                         "ServicePaymentSelectionReq", "ContractAuthenticationReq",
                         "ChargeParameterDiscoveryReq"]
    assert names.count("CurrentDemandReq") >= 5
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


@pytest.mark.parametrize("ac", [False, True])
def test_iso2_session_completes(ac: bool) -> None:
    lb = run(loopback("ISO2", ac=ac, station={"ac": ac}))
    t = lb.t
    assert t.secc_end is not None and t.secc_end.ok, t.secc_end
    assert t.ev_end is not None and t.ev_end.ok, t.ev_end
    names = t.names("EV>")
    assert names[:7] == ["supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq",
                         "PaymentServiceSelectionReq", "AuthorizationReq",
                         "ChargeParameterDiscoveryReq",
                         "PowerDeliveryReq" if ac else "CableCheckReq"]
    loop = "ChargingStatusReq" if ac else "CurrentDemandReq"
    assert names.count(loop) >= 5
    assert ("WeldingDetectionReq" in names) is not ac
    assert lb.ev.soc >= 80.0
    sps = requests(lb, "power_electronics_setpoint")
    if ac:
        assert sps[0]["ac"]["charge_current"] == 32.0
        assert sps[-1]["ac"]["charge_current"] == 0.0
    assert_station_available(lb)
    assert updates(lb, "iso15118_state_info")[-1] == {"evse_id": 1, "session_status": "Idle"}
    info = [u for u in updates(lb, "iso15118_state_info") if "info" in u]
    assert info[0]["info"]["protocol"] == "ISO_15118_2"


@pytest.mark.parametrize("mode", ["dynamic", "scheduled"])
@pytest.mark.parametrize("bpt", [False, True])
def test_iso20_ac_session_completes(mode: str, bpt: bool) -> None:
    lb = run(loopback("ISO20_AC", ac=True, bpt=bpt, control_mode=mode,
                      station={"ac": True, "bpt": bpt}))
    t = lb.t
    assert t.secc_end is not None and t.secc_end.ok, t.secc_end
    assert t.ev_end is not None and t.ev_end.ok, t.ev_end
    names = t.names("EV>")
    assert names[7:10] == ["AC_ChargeParameterDiscoveryReq", "ScheduleExchangeReq",
                           "PowerDeliveryReq"]
    assert names.count("AC_ChargeLoopReq") >= 5
    assert names[-2:] == ["PowerDeliveryReq", "SessionStopReq"]
    from josev.exi import decode
    detail = next(decode(s.data, "iso20_CommonMessages") for _, _, s in t.sends
                  if s.message == "ServiceDetailRes")
    assert detail.ServiceID == (5 if bpt else 1)
    sps = requests(lb, "power_electronics_setpoint")
    assert sps[0]["ac"]["charge_active_power"] == pytest.approx(3 * 230 * 32)
    assert sps[-1]["ac"]["charge_active_power"] == 0.0
    assert lb.ev.soc >= 80.0
    info = [u for u in updates(lb, "iso15118_state_info") if "info" in u]
    assert info[0]["info"]["protocol"] == "ISO_15118_20_AC"


def test_sap_offers_only_what_the_evse_can_power() -> None:
    """An AC EVSE does not negotiate -20 DC or DIN even when the EV prefers them."""
    lb = run(loopback("ISO20_DC", station={"ac": True}))
    assert lb.t.ev_end is not None and "Failed_NoNegotiation" in lb.t.ev_end.reason
    from josev.evcc.common.ev import EvConfig, EvModel
    from josev.secc.common.session import SeccConfig
    from josev.secc.loopback import Loopback, MemoryStation
    cfg = EvConfig(protocols=("ISO20_DC", "DIN", "ISO20_AC"), ac=True, soc=79.0,
                   time_scale=100.0)
    lb2 = Loopback(SeccConfig(), cfg, station=MemoryStation(EvModel(cfg), ac=True))
    lb2.run()
    assert lb2.evcc.protocol == "ISO20_AC"
    assert lb2.t.ev_end is not None and lb2.t.ev_end.ok


def test_iso2_pause_and_resume_joins_the_old_session() -> None:
    lb = loopback("ISO2", pause_at_soc=74.0, resume_after=2.0)
    lb.run()
    assert lb.connections == 2
    assert lb.t.secc_end is not None and lb.t.secc_end.ok
    from josev.exi import decode
    setup = [decode(s.data, "iso2") for _, _, s in lb.t.sends if s.message == "SessionSetupRes"]
    codes = [m.Body.BodyElement.ResponseCode for m in setup]
    assert codes == ["OK_NewSessionEstablished", "OK_OldSessionJoined"]
    assert setup[0].Header.SessionID == setup[1].Header.SessionID
    assert {"evse_id": 1, "status": False, "action": "pause"} in updates(lb, "hlc_charging")
    assert {"evse_id": 1, "status": True, "action": "resume"} in updates(lb, "hlc_charging")
    assert lb.ev.soc >= 80.0


def test_every_response_carries_its_performance_time() -> None:
    """The core answers inside the same event that delivered the request; the deadline it hands
    the driver is the performance time of that message type (the driver checks it against the
    real clock: a late write is logged)."""
    expected = {"DIN": {"CurrentDemand": 0.025, "CableCheck": 1.5, "PowerDelivery": 1.5},
                "ISO2": {"CurrentDemand": 0.025, "CableCheck": 1.5, "PowerDelivery": 4.5,
                         "ChargeParameterDiscovery": 1.5},
                "ISO20_DC": {"DC_ChargeLoop": 0.25, "DC_CableCheck": 1.5,
                             "PowerDelivery": 1.5, "SessionSetup": 1.5}}
    for proto, table in expected.items():
        lb = run(loopback(proto))
        seen = set()
        last_req: dict[str, float] = {}
        for side, now, send in lb.t.sends:
            base = send.message[:-3]
            if side == "ev":
                last_req[base] = now + lb.latency     # when the SECC core received it
                continue
            perf = lb.timing.times(proto, base)[1] if base != "supportedAppProtocol" else 1.5
            assert send.deadline == pytest.approx(last_req[base] + perf), send.message
            assert now <= send.deadline, send.message      # written in time
            if base in table:
                assert send.deadline - last_req[base] == pytest.approx(table[base])
                seen.add(base)
        assert seen == set(table)


def test_setpoints_follow_the_ev_and_are_not_repeated() -> None:
    lb = run(loopback("ISO20_DC", control_mode="scheduled"))
    sps = requests(lb, "power_electronics_setpoint")
    assert sps[0]["is_precharge"] is True
    charging = [s for s in sps if not s["is_precharge"] and s["dc"]["charge_current"] > 0]
    assert charging
    assert all(s["dc"]["voltage"] <= 450.0 for s in charging)
    # An unchanged setpoint is repeated only as a keep-alive, once a second.
    sent = [(now, r.data) for now, r in lb.station.timed_requests
            if r.name == "power_electronics_setpoint"]
    for (t0, a), (t1, b) in itertools.pairwise(sent):
        assert a != b or t1 - t0 >= 1.0


def test_iso20_pause_and_resume_joins_the_old_session() -> None:
    lb = loopback("ISO20_DC", pause_at_soc=74.0, resume_after=2.0)
    lb.run()
    # The first connection ended paused, the EV came back and joined the same session.
    assert lb.connections == 2
    assert lb.t.secc_end is not None and lb.t.secc_end.ok and not lb.t.secc_end.paused
    setup = [s for _, _, s in lb.t.sends if s.message == "SessionSetupRes"]
    assert len(setup) == 2
    from josev.exi import decode
    first, second = (decode(s.data, "iso20_CommonMessages") for s in setup)
    assert first.ResponseCode == "OK_NewSessionEstablished"
    assert second.ResponseCode == "OK_OldSessionJoined"
    assert first.Header.SessionID == second.Header.SessionID
    hlc = updates(lb, "hlc_charging")
    assert {"evse_id": 1, "status": False, "action": "pause"} in hlc
    assert lb.ev.soc >= 80.0


@pytest.mark.parametrize("proto", ["ISO20_DC", "DIN", "ISO2"])
def test_abrupt_unplug_leaves_the_station_safe(proto: str) -> None:
    lb = run(loopback(proto, unplug_at_soc=74.0))
    assert lb.t.ev_end is not None and not lb.t.ev_end.ok
    assert lb.t.secc_end is not None and not lb.t.secc_end.ok
    assert "EV gone" in lb.t.secc_end.reason
    assert_station_available(lb)


@pytest.mark.parametrize("proto", ["ISO20_DC", "DIN", "ISO2"])
def test_station_stop_is_told_to_the_ev(proto: str) -> None:
    lb = loopback(proto, target_soc=95.0)
    lb.connect(0.0)
    lb.run(until=1.0)
    assert lb.t.names("EV>")[-1] in ("DC_ChargeLoopReq", "CurrentDemandReq")
    lb.run_actions("secc", lb.secc.stop_charging(lb.now), lb.now)
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok
    assert lb.t.ev_end is not None and "terminate" in lb.t.ev_end.reason
    assert lb.ev.soc < 95.0
    assert_station_available(lb)


@pytest.mark.parametrize("proto", ["ISO20_DC", "DIN", "ISO2"])
def test_emergency_shutdown_stops_the_session(proto: str) -> None:
    lb = loopback(proto, target_soc=95.0)
    lb.connect(0.0)
    lb.run(until=1.0)
    lb.station.set_status("evse_emergency_shutdown")
    lb.run()
    assert lb.t.ev_end is not None and "terminate" in lb.t.ev_end.reason
    assert lb.t.secc_end is not None
    assert_station_available(lb)


def test_connection_lost_mid_charge_powers_off() -> None:
    lb = loopback("ISO20_DC", target_soc=95.0)
    lb.connect(0.0)
    lb.run(until=1.0)
    assert requests(lb, "power_electronics_setpoint")[-1]["dc"]["charge_current"] > 0
    lb.run_actions("secc", lb.secc.connection_lost(lb.now), lb.now)
    assert lb.t.secc_end is not None and lb.t.secc_end.reason == "connection lost"
    assert_station_available(lb)


@pytest.mark.parametrize("ac", [False, True])
def test_iso20_standby_and_back(ac: bool) -> None:
    proto = "ISO20_AC" if ac else "ISO20_DC"
    lb = run(loopback(proto, ac=ac, station={"ac": ac}, standby_at_soc=74.0, standby_for=2.0))
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    from josev.exi import decode
    progress = [decode(s.data, "iso20_CommonMessages").ChargeProgress
                for side, _, s in lb.t.sends if side == "ev" and s.message == "PowerDeliveryReq"]
    assert progress == ["Start", "Standby", "Start", "Stop"]
    # During standby the station was asked for no power; then for power again.
    key = "charge_active_power" if ac else "charge_current"
    values = [r.data["ac" if ac else "dc"][key] for r in lb.station.requests
              if r.name == "power_electronics_setpoint" and not r.data.get("is_precharge")]
    zero = values.index(0.0)
    assert any(v > 0 for v in values[zero:])
    assert lb.ev.soc >= 80.0


def test_iso20_service_renegotiation() -> None:
    lb = run(loopback("ISO20_DC", renegotiate_at_soc=74.0))
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    names = lb.t.names("EV>")
    stop = names.index("SessionStopReq")
    assert names[stop + 1:stop + 3] == ["ServiceDiscoveryReq", "ServiceDetailReq"]
    assert names.count("DC_CableCheckReq") >= 2        # a new power path is checked again
    assert names.count("SessionStopReq") == 2
    from josev.exi import decode
    kinds = [decode(s.data, "iso20_CommonMessages").ChargingSession
             for side, _, s in lb.t.sends if side == "ev" and s.message == "SessionStopReq"]
    assert kinds == ["ServiceRenegotiation", "Terminate"]
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


def test_service_renegotiation_refused_when_not_offered() -> None:
    lb = run(loopback("ISO20_DC", renegotiate_at_soc=74.0,
                      secc={"service_renegotiation": False}))
    assert lb.t.ev_end is not None and "FAILED_NoServiceRenegotiationSupported" in \
        lb.t.ev_end.reason
    assert_station_available(lb)


@pytest.mark.parametrize(("proto", "ac", "progress", "family"), [
    ("ISO20_DC", False, ["Start", "ScheduleRenegotiation", "Start", "Stop"],
     "iso20_CommonMessages"),
    ("ISO2", False, ["Start", "Renegotiate", "Start", "Stop"], "iso2"),
    ("ISO2", True, ["Start", "Renegotiate", "Start", "Stop"], "iso2"),
])
def test_schedule_renegotiation(proto: str, ac: bool, progress: list[str], family: str) -> None:
    lb = run(loopback(proto, ac=ac, station={"ac": ac}, schedule_renegotiate_at_soc=74.0))
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    from josev.exi import decode

    def kind(data: bytes) -> str:
        msg = decode(data, family)
        body = msg.Body.BodyElement if family == "iso2" else msg
        return str(body.ChargeProgress)

    seen = [kind(s.data) for side, _, s in lb.t.sends
            if side == "ev" and s.message == "PowerDeliveryReq"]
    assert seen == progress
    names = lb.t.names("EV>")
    again = "ScheduleExchangeReq" if proto == "ISO20_DC" else "ChargeParameterDiscoveryReq"
    assert names.count(again) == 2
    # The power path stays up: no cable check after the first PowerDelivery.
    first_pd = names.index("PowerDeliveryReq")
    checks = [i for i, n in enumerate(names) if n in ("CableCheckReq", "DC_CableCheckReq")]
    assert all(i < first_pd for i in checks)
    assert bool(checks) is not ac
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


def test_a_bug_in_a_session_ends_it_safely(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception inside a protocol session (a bug) is logged; the session ends with power
    off, HLC off and the station Idle; nothing propagates to the driver."""
    from josev.secc.iso20.session import Iso20Session

    def broken(self: Iso20Session, msg: object, now: float) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(Iso20Session, "_DC_ChargeLoop", broken)
    lb = run(loopback("ISO20_DC"))
    assert lb.t.secc_end is not None and lb.t.secc_end.reason == "internal error"
    assert requests(lb, "power_electronics_setpoint")
    assert_station_available(lb)
