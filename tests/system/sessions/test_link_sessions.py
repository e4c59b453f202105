"""Our EV simulator against our station across the veth link: mosquitto, josev-hal (simulated
DC station) and josev-iso15118 as real processes, SDP + TLS/TCP + V2G over the link."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from josev.api import ApiClient, models
from josev.demo import Stack
from josev.evcc.common.ev import EvConfig
from josev.evcc.driver import EvDriver, SimCable

pytestmark = [pytest.mark.netns, pytest.mark.slow]


async def charge(stack: Stack, link: Any, pki: Path, tls: bool, **ev: Any) -> EvDriver:
    cfg = EvConfig(soc=70.0, target_soc=74.0, time_scale=60.0, **ev)
    password = stack.broker.password_files["demo"].read_text().strip()
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable:
        driver = EvDriver(cfg, link.ev.plc_interface(), cable=cable, pki=pki, tls=tls)
        await asyncio.wait_for(driver.run(), 180)
    return driver


@pytest.mark.parametrize(("protocols", "mode", "tls", "version"), [
    (("ISO20_DC",), "scheduled", True, "TLSv1.3"),
    (("DIN",), "dynamic", False, None),
    (("ISO2",), "dynamic", True, "TLSv1.2"),
])
async def test_session_across_the_link(station: tuple[Stack, Any, Path], protocols: tuple[str],
                                       mode: str, tls: bool, version: str | None) -> None:
    stack, link, pki = station
    driver = await charge(stack, link, pki, tls, protocols=protocols, control_mode=mode)
    result = driver.result
    assert result.ok, result.ends
    assert result.protocol == protocols[0]
    assert result.tls == version
    assert driver.ev.soc >= 74.0
    assert max(s.values["current"] for s in result.samples) > 50.0
    log = (stack.workdir / "iso15118.log").read_text()
    assert "ended: terminated by the EV" in log


@pytest.mark.parametrize("station", ["ac"], indirect=True)
@pytest.mark.parametrize(("protocols", "version"), [
    (("ISO20_AC",), "TLSv1.3"),
    (("ISO2",), "TLSv1.2"),
])
async def test_ac_session_across_the_link(station: tuple[Stack, Any, Path],
                                          protocols: tuple[str], version: str) -> None:
    stack, link, pki = station
    driver = await charge(stack, link, pki, True, protocols=protocols, ac=True)
    result = driver.result
    assert result.ok, result.ends
    assert (result.protocol, result.tls) == (protocols[0], version)
    assert driver.ev.soc >= 74.0
    log = (stack.workdir / "iso15118.log").read_text()
    assert "ended: terminated by the EV" in log
    assert "contactors not closed" not in log


@pytest.mark.parametrize(("protocols", "toggles"), [(("ISO20_DC",), 1), (("ISO2",), 3)])
async def test_pause_and_resume_across_the_link(station: tuple[Stack, Any, Path],
                                                protocols: tuple[str], toggles: int) -> None:
    """The EV pauses (SessionStop Pause); the station sleeps with its oscillator off; the EV
    wakes it with B-C-B toggles, the station answers with 5 %, and the EV comes back through
    SDP with its SessionID into the old session (OK_OldSessionJoined), without a new SLAC."""
    stack, link, pki = station
    driver = await charge(stack, link, pki, True, protocols=protocols, pause_at_soc=72.0,
                          resume_after=1.0, bcb_toggles=toggles)
    ends = driver.result.ends
    assert [e.paused for e in ends] == [True, False], ends
    assert ends[-1].ok
    log = (stack.workdir / "iso15118.log").read_text()
    assert "ended: paused by the EV" in log and "ended: terminated by the EV" in log
    assert "sleep mode, CP oscillator off" in log
    assert f"woken by the EV ({toggles} B-C-B toggle(s))" in log
    assert log.count("V2G connection") == 2
    assert log.count("SLAC EVSE 1: matched") == 1
    assert "EV joined its paused session" in log
    assert driver.ev.soc >= 74.0


async def test_the_station_wakes_a_sleeping_ev(station: tuple[Stack, Any, Path]) -> None:
    """SECC-initiated wake-up: the EV would sleep for 10 minutes, but smart charging gives
    the EVSE power again (iso15118_charge_limit > 0): the station switches its oscillator back
    on at 5 %, and the EV wakes and resumes its paused -2 session."""
    stack, link, pki = station
    password = stack.broker.password_files["demo"].read_text().strip()
    log_path = stack.workdir / "iso15118.log"

    async def give_power_when_asleep() -> None:
        for _ in range(1800):   # the charge() timeout ends the test long before this
            if "sleep mode, CP oscillator off" in log_path.read_text(errors="replace"):
                break
            await asyncio.sleep(0.1)
        async with ApiClient(identities={"smart_charging"}, host=stack.broker.host,
                             port=stack.broker.port, username="demo", password=password,
                             client_id="test-smart-charging") as sc:
            await sc.wait_connected(10.0)   # an update before that would wait in the outbox
            await sc.update("iso15118_charge_limit", models.Iso15118ChargeLimitUpdate(
                evse_id=1, limit=11000.0, unit="W"))

    waker = asyncio.create_task(give_power_when_asleep())
    try:
        driver = await charge(stack, link, pki, True, protocols=("ISO2",), pause_at_soc=72.0,
                              resume_after=600.0)
    finally:
        waker.cancel()
    ends = driver.result.ends
    assert [e.paused for e in ends] == [True, False], ends
    assert ends[-1].ok
    log = log_path.read_text()
    assert "waking the EV: 5 % PWM" in log
    assert "woken by the EV" not in log
    assert "EV joined its paused session" in log


@pytest.mark.parametrize("station", ["card"], indirect=True)
async def test_eim_waits_for_a_card(station: tuple[Stack, Any, Path]) -> None:
    """Without free charging the SECC answers Authorization with Ongoing until the station's
    reader reports a card (josev-hal sends `authorization`, josev-iso15118 accepts)."""
    stack, link, pki = station
    cfg = EvConfig(soc=70.0, target_soc=72.0, time_scale=60.0, protocols=("ISO20_DC",))
    password = stack.broker.password_files["demo"].read_text().strip()
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable:
        driver = EvDriver(cfg, link.ev.plc_interface(), cable=cable, pki=pki, tls=True)
        run = asyncio.create_task(driver.run())
        for _ in range(400):
            if any(s.state == "Authorization" for s in driver.result.samples):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)            # the EV keeps polling: Ongoing
        assert not run.done()
        await cable.tap("04A1B2C3")
        await asyncio.wait_for(run, 120)
    assert driver.result.ok, driver.result.ends
    states = [s.state for s in driver.result.samples]
    assert states.count("Authorization") >= 2       # polled while waiting
