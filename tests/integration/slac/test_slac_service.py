"""SLAC driven by the station over the Josev API (real mosquitto) and matched across netns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from josev import netsim
from josev.api import ApiClient, models
from josev.slac.driver import SimulatedModem, open_raw, run_ev
from josev.slac.ev import EvMatched, EvSlac
from josev.slac.service import SlacService

pytestmark = pytest.mark.netns


async def wait_until(cond: Any) -> None:
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_cp_b_starts_matching_and_reports_matched(link: netsim.Link, mosquitto: Any) -> None:
    pwm: list[models.CpPwmRequest] = []
    statuses: list[str] = []

    async def on_pwm(req: models.CpPwmRequest) -> models.CpPwmResponse:
        pwm.append(req)
        return models.CpPwmResponse(evse_id=req.evse_id, status="valid")

    cs = ApiClient({"cs"}, host=mosquitto.host, port=mosquitto.port, client_id="cs-test")
    josev = ApiClient({"josev"}, host=mosquitto.host, port=mosquitto.port, client_id="slac")
    cs.on_request("cp_pwm", on_pwm)
    cs.on_update("slac_status", lambda u: statuses.append(u.status))
    svc = SlacService(josev, 1, link.evse.ifname, socket_factory=link.evse.netns.socket)
    josev.on_update("cp_status", svc.on_cp_status)
    ev_sock, ev_mac = open_raw(link.ev.ifname, link.ev.netns.socket)
    async with cs, josev:
        await asyncio.sleep(0.2)  # both subscribed
        await cs.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1, state="B1"))
        await wait_until(lambda: "matching" in statuses)
        result = await asyncio.wait_for(run_ev(ev_sock, EvSlac(ev_mac), SimulatedModem()), 30)
        await wait_until(lambda: "matched" in statuses)
        assert isinstance(result, EvMatched)
        assert pwm and pwm[0].hlc is True and pwm[0].current is None  # 5 % requested
        assert svc.last is not None and svc.last.ev_mac == ev_mac
        # unplug: A aborts nothing running but resets; a new B would match again
        await cs.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1, state="A1"))
        await wait_until(lambda: svc.last is None)
        await svc.close()
    ev_sock.close()


async def test_cp_a_during_matching_aborts(link: netsim.Link, mosquitto: Any) -> None:
    statuses: list[str] = []

    async def on_pwm(req: models.CpPwmRequest) -> models.CpPwmResponse:
        return models.CpPwmResponse(evse_id=req.evse_id, status="valid")

    cs = ApiClient({"cs"}, host=mosquitto.host, port=mosquitto.port, client_id="cs-test2")
    josev = ApiClient({"josev"}, host=mosquitto.host, port=mosquitto.port, client_id="slac2")
    cs.on_request("cp_pwm", on_pwm)
    cs.on_update("slac_status", lambda u: statuses.append(u.status))
    svc = SlacService(josev, 1, link.evse.ifname, socket_factory=link.evse.netns.socket)
    josev.on_update("cp_status", svc.on_cp_status)
    async with cs, josev:
        await asyncio.sleep(0.2)
        await cs.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1, state="B1"))
        await wait_until(lambda: "matching" in statuses)
        await cs.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1, state="E"))
        await wait_until(lambda: "unmatched" in statuses)
        assert "matched" not in statuses
        await svc.close()


async def test_failed_matching_does_the_5_percent_restart(
    link: netsim.Link, mosquitto: Any
) -> None:
    """No EV answers: each attempt ends at TT_EVSE_SLAC_init (shortened here), the pilot goes
    to F for T_step_EF and back to 5 % (V2G3-M06-07), and after the retries the EVSE reports
    unmatched. The station reports the F it was asked for; that is not an unplug."""
    from josev.slac.timers import SlacTimers

    statuses: list[str] = []
    pwm: list[tuple[bool, bool]] = []

    async def on_pwm(req: models.CpPwmRequest) -> models.CpPwmResponse:
        pwm.append((req.hlc, req.fault_state))
        state = "F" if req.fault_state else "B2"
        await cs.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1,
                                                           state=state))
        return models.CpPwmResponse(evse_id=req.evse_id, status="valid")

    cs = ApiClient({"cs"}, host=mosquitto.host, port=mosquitto.port, client_id="cs-test3")
    josev = ApiClient({"josev"}, host=mosquitto.host, port=mosquitto.port, client_id="slac3")
    cs.on_request("cp_pwm", on_pwm)
    cs.on_update("slac_status", lambda u: statuses.append(u.status))
    svc = SlacService(josev, 1, link.evse.ifname, socket_factory=link.evse.netns.socket,
                      timers=SlacTimers(TT_EVSE_SLAC_init=0.2), restarts=1, restart_pause=0.3)
    josev.on_update("cp_status", svc.on_cp_status)
    async with cs, josev:
        await asyncio.sleep(0.2)
        await cs.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1, state="B1"))
        await wait_until(lambda: "unmatched" in statuses)
        await svc.close()
    assert statuses == ["matching", "failed", "matching", "failed", "unmatched"]
    assert pwm == [(True, False), (False, True), (True, False)]
