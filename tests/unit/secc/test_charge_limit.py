"""Smart charging's `iso15118_charge_limit` in whole in-memory sessions (virtual clock).

Each test runs our SECC core against our EV core through the real EXI codec and checks what
the station was asked to deliver (the `power_electronics_setpoint` requests) and what the EV was
told (the decoded responses), before and after a limit changes mid-session.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from josev.evcc.iso20.session import discharge_allowance_w
from josev.exi.generated import iso20_CommonMessages as cm
from josev.lean.generated import api as m
from josev.secc.common.session import Allowance
from josev.secc.common.timing import RENEGOTIATION_MAX_DELAY_S
from josev.secc.loopback import Loopback
from josev.station import StationState

from .conftest import assert_station_available, bodies, loopback, requests, updates

FAMILY = {"DIN": "din", "ISO2": "iso2"}


def responses(lb: Loopback, name: str, family: str) -> list[tuple[float, Any]]:
    """(time, decoded body) of every `name` the SECC sent."""
    return bodies(lb, "secc", name, family)


def ev_requests(lb: Loopback, name: str, family: str) -> list[tuple[float, Any]]:
    return bodies(lb, "ev", name, family)


def timed_setpoints(lb: Loopback) -> list[tuple[float, dict[str, Any]]]:
    return [(t, r.data) for t, r in lb.station.timed_requests
            if r.name == "power_electronics_setpoint"]


def pv(x: Any) -> float:
    return float(x.Value * 10.0 ** x.Multiplier)


def r20(x: Any) -> float:
    return float(x.Value * 10.0 ** x.Exponent)


def schedule_powers(res: Any) -> tuple[float, float | None]:
    """(charging, discharging) power of the first entry of a ScheduleExchangeRes's first
    schedule tuple; None when the tuple has no DischargingSchedule."""
    tup = res.Scheduled_SEResControlMode.ScheduleTuple[0]
    charge = tup.ChargingSchedule.PowerSchedule.PowerScheduleEntries.PowerScheduleEntry[0]
    if tup.DischargingSchedule is None:
        return r20(charge.Power), None
    back = tup.DischargingSchedule.PowerSchedule.PowerScheduleEntries.PowerScheduleEntry[0]
    return r20(charge.Power), r20(back.Power)


def charge_setpoints(lb: Loopback, after: float = 0.0, before: float = 1e9
                     ) -> list[dict[str, Any]]:
    return [sp["dc"] for t, sp in timed_setpoints(lb)
            if after <= t < before and "dc" in sp and not sp.get("is_precharge")
            and sp["dc"]["voltage"] > 0]


# -- the allowance itself ----------------------------------------------------------------------


def test_allowance_converts_units_and_reads_the_sign() -> None:
    lim = m.Iso15118ChargeLimitUpdate(evse_id=1, limit=20_000.0, unit="W")
    a = Allowance.of(lim, 400.0, bpt=False)
    assert (a.charge_power, a.charge_current) == (20_000.0, 50.0)
    assert (a.discharge_power, a.discharge_current) == (0.0, 0.0)   # >= 0: no discharge
    amps = Allowance.of(m.Iso15118ChargeLimitUpdate(evse_id=1, limit=16, unit="A"), 690.0,
                        bpt=False)
    assert (amps.charge_current, amps.charge_power) == (16.0, 16 * 690.0)
    # Voltage unknown (before pre-charge): the other unit stays open, never a division by 0.
    assert Allowance.of(lim, 0.0, bpt=False).charge_current == float("inf")
    back = m.Iso15118ChargeLimitUpdate(evse_id=1, limit=-10_000.0, unit="W")
    d = Allowance.of(back, 400.0, bpt=True)
    assert d.discharge and (d.discharge_power, d.discharge_current) == (10_000.0, 25.0)
    assert (d.charge_power, d.charge_current) == (0.0, 0.0)
    # Without BPT a negative limit means 0: no charging, never discharge.
    n = Allowance.of(back, 400.0, bpt=False)
    assert not n.discharge and n.charge_power == 0.0 and n.discharge_power == 0.0
    free = Allowance.of(None, 400.0, bpt=True)
    assert not free.limited and free.charge_power == float("inf")


def test_the_limit_is_per_evse_and_an_unknown_evse_is_ignored(
        caplog: pytest.LogCaptureFixture) -> None:
    state = StationState()
    state.evse(1)
    state.evse(2)
    assert state.set_charge_limit(m.Iso15118ChargeLimitUpdate(evse_id=2, limit=11, unit="A"))
    with caplog.at_level(logging.WARNING):
        assert not state.set_charge_limit(
            m.Iso15118ChargeLimitUpdate(evse_id=7, limit=5000, unit="W"))
    assert "unknown evse 7" in caplog.text
    assert 7 not in state.evses
    assert state.evse(1).charge_limit is None
    limit = state.evse(2).charge_limit
    assert limit is not None and (limit.limit, limit.unit) == (11, "A")


# -- DIN -------------------------------------------------------------------------------------


def test_din_limit_caps_offers_and_setpoints_and_a_change_applies_mid_session() -> None:
    lb = loopback("DIN")
    assert lb.station.set_limit(30_000.0, "W")
    change = 1.5
    lb.at(change, lambda: lb.station.set_limit(40.0, "A"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    cpd = responses(lb, "ChargeParameterDiscoveryRes", "din")[0][1]
    param = cpd.EVSEChargeParameter
    assert pv(param.EVSEMaximumPowerLimit) == 30_000.0
    assert cpd.SASchedules.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry[0].PMax <= 30_000
    before = charge_setpoints(lb, before=change)
    after = charge_setpoints(lb, after=change + 0.01)
    assert before and after
    # The EV asks for 200 A; the station is never asked for more than the limit allows.
    assert all(sp["charge_current"] * sp["voltage"] <= 30_000.0 + 50 for sp in before)
    assert max(sp["charge_current"] for sp in before) > 60.0
    assert all(sp["charge_current"] <= 40.0 for sp in after)
    assert max(sp["charge_current"] for sp in after) == 40.0
    late = [r for t, r in responses(lb, "CurrentDemandRes", "din") if t > change + 0.01]
    assert late and all(pv(r.EVSEMaximumCurrentLimit) == 40.0 for r in late)
    assert_station_available(lb)


def test_the_limit_survives_across_sessions_until_changed() -> None:
    lb = loopback("DIN")
    lb.station.set_limit(25.0, "A")
    lb.run()
    first = charge_setpoints(lb)
    assert first and max(sp["charge_current"] for sp in first) == 25.0
    # A second EV on the same station state: the limit is still there.
    lb2 = loopback("DIN")
    lb2.station.state = lb.station.state
    lb2.run()
    second = charge_setpoints(lb2)
    assert second and max(sp["charge_current"] for sp in second) == 25.0


# -- ISO 15118-2 -----------------------------------------------------------------------------


def test_iso2_ac_limit_caps_evse_max_current_and_pmax_and_renegotiates_on_change() -> None:
    lb = loopback("ISO2", ac=True, station={"ac": True})
    lb.station.set_limit(16.0, "A")
    change = 1.0
    lb.at(change, lambda: lb.station.set_limit(6_900.0, "W"))   # 10 A per phase
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    cpds = responses(lb, "ChargeParameterDiscoveryRes", "iso2")
    assert len(cpds) == 2    # the first and the renegotiated schedule
    first, second = cpds[0][1], cpds[1][1]
    assert pv(first.EVSEChargeParameter.EVSEMaxCurrent) == 16.0
    pmax = first.SASchedules.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry[0].PMax
    assert pv(pmax) == pytest.approx(3 * 230 * 16)
    assert pv(second.EVSEChargeParameter.EVSEMaxCurrent) == pytest.approx(10.0)
    pmax2 = second.SASchedules.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry[0].PMax
    assert pv(pmax2) == pytest.approx(6_900.0)
    # The change is told at once (live EVSEMaxCurrent + ReNegotiation), then the EV renegotiates.
    status = [(t, r) for t, r in responses(lb, "ChargingStatusRes", "iso2") if t > change]
    assert pv(status[0][1].EVSEMaxCurrent) == pytest.approx(10.0)
    assert status[0][1].AC_EVSEStatus.EVSENotification == "ReNegotiation"
    assert status[0][1].AC_EVSEStatus.NotificationMaxDelay == RENEGOTIATION_MAX_DELAY_S
    assert status[-1][1].AC_EVSEStatus.EVSENotification == "None"
    kinds = [r.ChargeProgress for _, r in ev_requests(lb, "PowerDeliveryReq", "iso2")]
    assert kinds == ["Start", "Renegotiate", "Start", "Stop"]
    # The EV renegotiates within the NotificationMaxDelay it was given.
    reneg_at = next(t for t, r in ev_requests(lb, "PowerDeliveryReq", "iso2")
                    if r.ChargeProgress == "Renegotiate")
    assert status[0][0] <= reneg_at <= status[0][0] + RENEGOTIATION_MAX_DELAY_S
    assert [h["status"] for h in updates(lb, "hlc_charging")] == [True, False]
    ac = [(t, sp["ac"]["charge_current"]) for t, sp in timed_setpoints(lb) if "ac" in sp]
    assert max(a for t, a in ac if t < change) == 16.0
    assert max(a for t, a in ac if t > change) == pytest.approx(10.0)
    # The simulated EV draws what it was allowed.
    assert max(p.values["current"] for p in lb.t.progress if p.now > change + 0.5) <= 10.0 + 1e-6
    assert_station_available(lb)


def test_iso2_dc_limit_change_renegotiates_without_a_new_cable_check() -> None:
    lb = loopback("ISO2")
    change = 1.0
    lb.at(change, lambda: lb.station.set_limit(20_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    names = lb.t.names("EV>")
    assert names.count("CableCheckReq") >= 1
    assert names.count("ChargeParameterDiscoveryReq") == 2
    first_pd = names.index("PowerDeliveryReq")
    assert all(i < first_pd for i, n in enumerate(names) if n == "CableCheckReq")
    after = charge_setpoints(lb, after=change + 0.01)
    assert after and all(sp["charge_current"] * sp["voltage"] <= 20_000.0 + 50 for sp in after)
    timed = [(t, r) for t, r in responses(lb, "CurrentDemandRes", "iso2") if t > change]
    res = [r for _, r in timed]
    assert pv(res[0].EVSEMaximumPowerLimit) == 20_000.0
    assert res[0].DC_EVSEStatus.EVSENotification == "ReNegotiation"
    assert res[0].DC_EVSEStatus.NotificationMaxDelay == RENEGOTIATION_MAX_DELAY_S
    reneg_at = next(t for t, r in ev_requests(lb, "PowerDeliveryReq", "iso2")
                    if r.ChargeProgress == "Renegotiate")
    assert timed[0][0] <= reneg_at <= timed[0][0] + RENEGOTIATION_MAX_DELAY_S
    cpd2 = responses(lb, "ChargeParameterDiscoveryRes", "iso2")[1][1]
    assert pv(cpd2.EVSEChargeParameter.EVSEMaximumPowerLimit) == 20_000.0
    assert_station_available(lb)


def test_iso2_ac_limit_zero_stops_the_current_and_keeps_the_session() -> None:
    lb = loopback("ISO2", ac=True, station={"ac": True})
    lb.at(0.8, lambda: lb.station.set_limit(0.0, "W"))
    lb.at(5.0, lambda: lb.station.set_limit(32.0, "A"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    assert lb.t.secc_end_at is not None and lb.t.secc_end_at > 5.0
    during = [sp["ac"]["charge_current"] for t, sp in timed_setpoints(lb)
              if "ac" in sp and 1.5 < t < 5.0]
    assert during and all(a == 0.0 for a in during)
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


@pytest.mark.parametrize(("proto", "name", "family"), [
    ("ISO2", "CurrentDemandRes", "iso2"), ("ISO20_DC", "DC_ChargeLoopRes", "iso20_DC")])
def test_a_stop_is_asked_at_once_only_renegotiation_gets_a_reaction_time(
        proto: str, name: str, family: str) -> None:
    """NotificationMaxDelay is RENEGOTIATION_MAX_DELAY_S only with ReNegotiation /
    ScheduleRenegotiation; StopCharging/Terminate ask the EV to stop now (0, [V2G20-1416])."""
    assert RENEGOTIATION_MAX_DELAY_S > 0
    lb = loopback(proto, target_soc=95.0)
    lb.connect(0.0)
    lb.run(until=1.0)
    stop_at = lb.now
    lb.run_actions("secc", lb.secc.stop_charging(lb.now), lb.now)
    lb.run()
    statuses = [(r.DC_EVSEStatus if family == "iso2" else r.EVSEStatus)
                for t, r in responses(lb, name, family) if t >= stop_at]
    stops = [st for st in statuses
             if st is not None and st.EVSENotification in ("StopCharging", "Terminate")]
    assert stops and all(st.NotificationMaxDelay == 0 for st in stops)
    assert lb.t.ev_end is not None and "terminate" in lb.t.ev_end.reason


# -- ISO 15118-20 DC ---------------------------------------------------------------------------


def test_iso20_dc_dynamic_limit_lowers_the_current_and_zero_keeps_the_session() -> None:
    lb = loopback("ISO20_DC")
    lb.at(1.5, lambda: lb.station.set_limit(50.0, "A"))
    lb.at(2.2, lambda: lb.station.set_limit(0.0, "W"))
    lb.at(3.5, lambda: lb.station.set_limit(150_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    assert lb.t.secc_end_at is not None and lb.t.secc_end_at > 3.5
    full = charge_setpoints(lb, before=1.5)
    capped = charge_setpoints(lb, after=1.51, before=2.2)
    zero = charge_setpoints(lb, after=2.21, before=3.5)
    again = charge_setpoints(lb, after=3.51)
    assert max(sp["charge_current"] for sp in full) > 100.0
    assert capped and max(sp["charge_current"] for sp in capped) == 50.0
    # 0: the current goes to 0, the voltage (and the session) stay.
    assert zero and all(sp["charge_current"] == 0.0 and sp["voltage"] > 0 for sp in zero)
    assert max(sp["charge_current"] for sp in again) > 100.0
    loops = responses(lb, "DC_ChargeLoopRes", "iso20_DC")
    in_zero = [r for t, r in loops if 2.21 < t < 3.5]
    assert in_zero and all(r20(r.CLResControlMode.EVSEMaximumChargePower) == 0.0
                           for r in in_zero)
    in_capped = [r for t, r in loops if 1.51 < t < 2.2]
    assert all(r20(r.CLResControlMode.EVSEMaximumChargeCurrent) == 50.0 for r in in_capped)
    # The EV saw the current fall to 0 while the session went on.
    assert any(abs(p.values["current"]) < 1e-6 for p in lb.t.progress
               if 2.3 < p.now < 3.5 and p.state == "ChargingLoop")
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


def test_iso20_dc_scheduled_limit_change_asks_for_schedule_renegotiation() -> None:
    lb = loopback("ISO20_DC", control_mode="scheduled")
    lb.station.set_limit(60_000.0, "W")
    change = 1.0
    lb.at(change, lambda: lb.station.set_limit(20_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    exchanges = responses(lb, "ScheduleExchangeRes", "iso20_CommonMessages")
    assert len(exchanges) == 2
    assert schedule_powers(exchanges[0][1])[0] == 60_000.0
    assert schedule_powers(exchanges[1][1])[0] == 20_000.0
    kinds = [r.ChargeProgress for _, r in ev_requests(lb, "PowerDeliveryReq",
                                                      "iso20_CommonMessages")]
    assert kinds == ["Start", "ScheduleRenegotiation", "Start", "Stop"]
    noted = [(t, r.EVSEStatus) for t, r in responses(lb, "DC_ChargeLoopRes", "iso20_DC")
             if t > change and r.EVSEStatus]
    assert noted and noted[0][1].EVSENotification == "ScheduleRenegotiation"
    assert noted[0][1].NotificationMaxDelay == RENEGOTIATION_MAX_DELAY_S
    # [V2G20-1052]: the EV reacts within NotificationMaxDelay.
    reneg_at = next(t for t, r in ev_requests(lb, "PowerDeliveryReq", "iso20_CommonMessages")
                    if r.ChargeProgress == "ScheduleRenegotiation")
    assert noted[0][0] <= reneg_at <= noted[0][0] + RENEGOTIATION_MAX_DELAY_S
    after = charge_setpoints(lb, after=change + 0.01)
    assert after and all(sp["charge_current"] * sp["voltage"] <= 20_000.0 + 50 for sp in after)
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


def test_iso20_dc_bpt_dynamic_negative_limit_discharges_within_both_sides() -> None:
    # The EV wants to charge (70 -> 80 %); smart charging asks for 20 kW back for a while.
    lb = loopback("ISO20_DC", bpt=True, station={"bpt": True})
    lb.at(0.8, lambda: lb.station.set_limit(-20_000.0, "W"))
    lb.at(2.0, lambda: lb.station.set_limit(-300.0, "A"))   # more than the station's 100 A
    lb.at(3.0, lambda: lb.station.set_limit(150_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    sps = timed_setpoints(lb)
    back = [sp["dc"] for t, sp in sps if 0.81 < t < 2.0 and "dc" in sp]
    assert back and all("charge_current" not in d for d in back)
    # 20 kW at the battery's ~380 V: ~53 A, whatever the EV would take (it allows 200 A).
    assert 20_000.0 / 420 < max(d["discharge_current"] for d in back) <= 20_000.0 / 330
    big = [sp["dc"]["discharge_current"] for t, sp in sps if 2.01 < t < 3.0 and "dc" in sp]
    assert big and max(big) <= 100.0 and max(big) > 90.0        # the station's 100 A cap
    soc_at = {round(p.now, 1): p.values["soc"] for p in lb.t.progress}
    assert min(v for k, v in soc_at.items() if 0.9 < k < 3.0) < \
        max(v for k, v in soc_at.items() if k < 0.8)            # energy went back
    res = [r for t, r in responses(lb, "DC_ChargeLoopRes", "iso20_DC") if 0.81 < t < 2.0]
    assert all(r20(r.CLResControlMode.EVSEMaximumChargePower) == 0.0 for r in res)
    assert all(r20(r.CLResControlMode.EVSEMaximumDischargePower) == 20_000.0 for r in res)
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


def test_iso20_dc_bpt_positive_limit_means_no_discharge() -> None:
    # A V2G EV (80 -> 50 %) would give energy back; a limit >= 0 allows charging only.
    lb = loopback("ISO20_DC", bpt=True, station={"bpt": True}, soc=80.0, target_soc=50.0)
    lb.station.set_limit(10_000.0, "W")
    lb.run(until=5.0)
    sps = [sp["dc"] for _, sp in timed_setpoints(lb) if "dc" in sp]
    assert sps and all(d.get("discharge_current", 0.0) == 0.0 for d in sps)


def test_negative_limit_without_bpt_means_zero_never_discharge() -> None:
    lb = loopback("ISO20_DC")
    lb.at(0.8, lambda: lb.station.set_limit(-20_000.0, "W"))
    lb.at(2.0, lambda: lb.station.set_limit(100_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    sps = timed_setpoints(lb)
    assert all("discharge_current" not in sp["dc"] for _, sp in sps)
    held = [sp["dc"] for t, sp in sps if 0.81 < t < 2.0]
    assert held and all(d["charge_current"] == 0.0 and d["voltage"] > 0 for d in held)
    assert_station_available(lb)


def test_iso20_dc_bpt_scheduled_negative_limit_sends_a_discharging_schedule() -> None:
    lb = loopback("ISO20_DC", bpt=True, control_mode="scheduled", station={"bpt": True})
    change = 0.8
    lb.at(change, lambda: lb.station.set_limit(-15_000.0, "W"))
    lb.at(2.5, lambda: lb.station.set_limit(150_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    exchanges = responses(lb, "ScheduleExchangeRes", "iso20_CommonMessages")
    assert len(exchanges) == 3
    # -20 [V2G20-1035] / Table 114 NOTE 3: a DischargingSchedule's power is negative.
    assert schedule_powers(exchanges[1][1]) == (0.0, -15_000.0)
    assert schedule_powers(exchanges[2][1])[1] is None
    # The EV follows with the same sign: its EVPowerProfile and EVTargetCurrent are negative
    # while it discharges along the schedule, positive again after.
    profiles = [(t, r20(r.EVPowerProfile.EVPowerProfileEntries.EVPowerProfileEntry[0].Power))
                for t, r in ev_requests(lb, "PowerDeliveryReq", "iso20_CommonMessages")
                if r.ChargeProgress == "Start"]
    assert [p for _, p in profiles] == [pytest.approx(100_000.0), -15_000.0,
                                        pytest.approx(100_000.0)]
    targets = [r20(r.CLReqControlMode.EVTargetCurrent)
               for t, r in ev_requests(lb, "DC_ChargeLoopReq", "iso20_DC")
               if profiles[1][0] < t < profiles[2][0]]
    assert targets and all(a < 0 for a in targets)
    # [V2G20-1546]: Start and Stop carry a profile (Stop: 0 W), [V2G20-1414]: a schedule
    # renegotiation none; BPT_ChannelSelection says the direction the profile plans.
    pds = [r for _, r in ev_requests(lb, "PowerDeliveryReq", "iso20_CommonMessages")]
    assert [(r.ChargeProgress, r.BPT_ChannelSelection) for r in pds] == [
        ("Start", "Charge"), ("ScheduleRenegotiation", None), ("Start", "Discharge"),
        ("ScheduleRenegotiation", None), ("Start", "Charge"), ("Stop", "Charge")]
    assert all((r.EVPowerProfile is None) == (r.ChargeProgress == "ScheduleRenegotiation")
               for r in pds)
    assert r20(pds[-1].EVPowerProfile.EVPowerProfileEntries.EVPowerProfileEntry[0].Power) == 0
    sps = [(t, sp["dc"]) for t, sp in timed_setpoints(lb) if change < t < 2.5 and "dc" in sp]
    dis = [d["discharge_current"] for _, d in sps if "discharge_current" in d]
    assert dis and max(dis) > 0
    assert all(d.get("charge_current", 0.0) == 0.0 for _, d in sps)
    assert 15_000.0 / 420 < max(dis) <= 15_000.0 / 330     # ~39 A at the battery's voltage
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


def test_iso20_dc_bpt_scheduled_without_a_limit_offers_the_stations_discharge() -> None:
    """No limit: the schedule tuple carries a DischargingSchedule of the station's own
    discharge capability (50 kW, negative), and a V2G EV (80 -> 78 %) gives energy back within
    it: in scheduled mode it may only discharge within one ([V2G20-1547])."""
    lb = loopback("ISO20_DC", bpt=True, control_mode="scheduled", station={"bpt": True},
                  soc=80.0, target_soc=78.0)
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    exchanges = responses(lb, "ScheduleExchangeRes", "iso20_CommonMessages")
    assert len(exchanges) == 1
    charge, back = schedule_powers(exchanges[0][1])
    assert back == -50_000.0 and charge > 0
    start = next(r for _, r in ev_requests(lb, "PowerDeliveryReq", "iso20_CommonMessages")
                 if r.ChargeProgress == "Start")
    profile = start.EVPowerProfile.EVPowerProfileEntries.EVPowerProfileEntry[0]
    assert r20(profile.Power) == -50_000.0
    targets = [r20(r.CLReqControlMode.EVTargetCurrent)
               for _, r in ev_requests(lb, "DC_ChargeLoopReq", "iso20_DC")]
    assert targets and all(-50_000.0 / 330 <= a < 0 for a in targets)
    assert lb.ev.soc <= 78.0 and lb.ev.discharged_wh > 0.0
    assert_station_available(lb)


def test_the_ev_reads_a_discharging_schedule_by_the_standards_sign(
        caplog: pytest.LogCaptureFixture) -> None:
    """-20 [V2G20-1035], Table 114 NOTE 3: DischargingSchedule powers are <= 0. Our EV takes
    the magnitude of a negative entry as its allowance and does not read a positive one as
    one (a peer SECC that sent it did not follow the standard): no discharge, logged."""

    def schedule(watts: float) -> cm.ChargingScheduleType:
        exp, mant = (3, int(watts / 1000)) if abs(watts) >= 32_768 else (0, int(watts))
        return cm.ChargingScheduleType(PowerSchedule=cm.PowerScheduleType(
            TimeAnchor=0, PowerScheduleEntries=cm.PowerScheduleEntryListType(
                PowerScheduleEntry=[cm.PowerScheduleEntryType(
                    Duration=3600, Power=cm.RationalNumberType(Exponent=exp, Value=mant))])))

    assert discharge_allowance_w(schedule(-15_000.0)) == 15_000.0
    assert discharge_allowance_w(schedule(-40_000.0)) == 40_000.0
    assert discharge_allowance_w(schedule(0.0)) == 0.0
    assert discharge_allowance_w(None) == 0.0
    with caplog.at_level(logging.WARNING):
        assert discharge_allowance_w(schedule(15_000.0)) == 0.0
    assert "positive" in caplog.text and "V2G20-1035" in caplog.text


# -- ISO 15118-20 AC ---------------------------------------------------------------------------


def test_iso20_ac_dynamic_limit_in_amps_per_phase() -> None:
    lb = loopback("ISO20_AC", ac=True, station={"ac": True})
    change = 1.0
    lb.at(change, lambda: lb.station.set_limit(10.0, "A"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    ac = [(t, sp["ac"]) for t, sp in timed_setpoints(lb) if "ac" in sp]
    assert max(a.get("charge_active_power", 0.0) for t, a in ac if t < change) == \
        pytest.approx(3 * 230 * 32)
    late = [a.get("charge_active_power", 0.0) for t, a in ac if t > change]
    assert max(late) == pytest.approx(3 * 230 * 10)
    targets = [r20(r.CLResControlMode.EVSETargetActivePower)
               for t, r in responses(lb, "AC_ChargeLoopRes", "iso20_AC") if t > change]
    assert targets and max(targets) == pytest.approx(3 * 230 * 10)
    assert_station_available(lb)


def test_iso20_ac_bpt_dynamic_negative_limit_feeds_back() -> None:
    lb = loopback("ISO20_AC", ac=True, bpt=True, station={"ac": True, "bpt": True})
    lb.at(0.8, lambda: lb.station.set_limit(-5_000.0, "W"))
    lb.at(2.0, lambda: lb.station.set_limit(0.0, "W"))
    lb.at(3.0, lambda: lb.station.set_limit(22_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    ac = [(t, sp["ac"]) for t, sp in timed_setpoints(lb) if "ac" in sp]
    back = [a for t, a in ac if 0.81 < t < 2.0]
    assert back and all(a == {"discharge_active_power": 5_000.0} for a in back)
    still = [a for t, a in ac if 2.01 < t < 3.0]
    assert still and all(a == {"charge_active_power": 0.0} for a in still)
    targets = [r20(r.CLResControlMode.EVSETargetActivePower)
               for t, r in responses(lb, "AC_ChargeLoopRes", "iso20_AC") if 0.81 < t < 2.0]
    assert targets and all(x == -5_000.0 for x in targets)
    assert max(a.get("charge_active_power", 0.0) for t, a in ac if t > 3.0) == 22_000.0
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


@pytest.mark.parametrize("proto", ["DIN", "ISO2"])
def test_limit_before_the_session_caps_the_first_offer(proto: str) -> None:
    lb = loopback(proto)
    lb.station.set_limit(30.0, "A")
    lb.run()
    cpd = responses(lb, "ChargeParameterDiscoveryRes", FAMILY[proto])[0][1]
    assert pv(cpd.EVSEChargeParameter.EVSEMaximumCurrentLimit) == 30.0
    sps = requests(lb, "power_electronics_setpoint")
    assert max(sp["dc"].get("charge_current", 0.0) for sp in sps
               if not sp.get("is_precharge")) == 30.0


def test_iso20_ac_bpt_scheduled_negative_limit_renegotiates_and_feeds_back() -> None:
    lb = loopback("ISO20_AC", ac=True, bpt=True, control_mode="scheduled",
                  station={"ac": True, "bpt": True})
    lb.at(1.0, lambda: lb.station.set_limit(-4_000.0, "W"))
    lb.at(3.0, lambda: lb.station.set_limit(22_000.0, "W"))
    lb.run()
    assert lb.t.secc_end is not None and lb.t.secc_end.ok, lb.t.secc_end
    exchanges = responses(lb, "ScheduleExchangeRes", "iso20_CommonMessages")
    assert len(exchanges) == 3
    assert schedule_powers(exchanges[1][1])[1] == -4_000.0
    noted = [r.EVSEStatus for t, r in responses(lb, "AC_ChargeLoopRes", "iso20_AC")
             if t > 1.0 and r.EVSEStatus is not None]
    assert noted[0].EVSENotification == "ScheduleRenegotiation"
    assert noted[0].NotificationMaxDelay == RENEGOTIATION_MAX_DELAY_S
    profiles = [r20(r.EVPowerProfile.EVPowerProfileEntries.EVPowerProfileEntry[0].Power)
                for _, r in ev_requests(lb, "PowerDeliveryReq", "iso20_CommonMessages")
                if r.ChargeProgress == "Start"]
    assert profiles[1] == -4_000.0 and profiles[0] > 0 and profiles[2] > 0
    ac = [(t, sp["ac"]) for t, sp in timed_setpoints(lb) if "ac" in sp]
    fed = [a["discharge_active_power"] for t, a in ac
           if 1.0 < t < 3.0 and "discharge_active_power" in a]
    assert fed and max(fed) == 4_000.0
    assert all(a.get("charge_active_power", 0.0) == 0.0 for t, a in ac if 1.2 < t < 3.0)
    # One hlc_charging start for the whole session: renegotiating did not stop the power.
    assert [h["status"] for h in updates(lb, "hlc_charging")] == [True, False]
    assert lb.ev.soc >= 80.0
    assert_station_available(lb)


def test_josev_iso15118_stores_a_limit_and_ignores_an_unknown_evse(
        caplog: pytest.LogCaptureFixture) -> None:
    """The binding's handler (called by the ApiClient with a validated update): no broker is
    needed for this, the client is never connected."""
    from josev.api import ApiClient
    from josev.lean.generated.config import HlcConfig
    from josev.services.hlc import Hlc

    state = StationState()
    state.evse(1)
    hlc = Hlc(ApiClient({"josev", "iso15118"}), state, HlcConfig())
    hlc._on_charge_limit(m.Iso15118ChargeLimitUpdate(evse_id=1, limit=-7000, unit="W"))
    with caplog.at_level(logging.WARNING):
        hlc._on_charge_limit(m.Iso15118ChargeLimitUpdate(evse_id=3, limit=7000, unit="W"))
    assert "unknown evse 3" in caplog.text
    limit = state.evse(1).charge_limit
    assert limit is not None and limit.limit == -7000
    assert 3 not in state.evses
