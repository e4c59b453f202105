"""`josev demo --station-only` emulates the S2 switch of an EV that has no simulated cable."""

from __future__ import annotations

from josev.demo import pilot_for


def run(statuses: list[str], cp: str = "C") -> list[str]:
    previous, seen = "Idle", []
    for status in statuses:
        cp = pilot_for(previous, status, cp)
        seen.append(cp)
        previous = status
    return seen


def test_dc_session_opens_s2_after_the_stop_and_closes_it_for_the_next() -> None:
    dc = ["SessionSetup", "ChargeParameterDiscovery", "CableCheck", "PreCharge",
          "PowerDelivery", "ChargingLoop", "PowerDelivery", "WeldingDetection", "SessionStop",
          "Idle"]
    assert run(dc) == ["C"] * 6 + ["B", "B", "B", "B"]
    # the same EV charging again: C from the cable check on
    assert run(dc, cp="B")[:3] == ["B", "B", "C"]


def test_ac_session_closes_s2_at_power_delivery_start_after_a_stop() -> None:
    ac = ["ChargeParameterDiscovery", "PowerDelivery", "ChargingLoop", "PowerDelivery",
          "SessionStop"]
    assert run(ac, cp="B") == ["B", "C", "C", "B", "B"]
