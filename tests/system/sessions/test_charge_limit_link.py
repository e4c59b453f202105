"""Smart charging's `iso15118_charge_limit` across the simulated link: mosquitto, josev-hal (the
simulated DC station) and josev-iso15118 as real processes, our EV simulator over SLAC, SDP and
TLS 1.3 in another network namespace. The limit is published on the broker as the smart
charging service would publish it, mid-session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from josev.api import ApiClient, models
from josev.demo import Stack
from josev.evcc.common.ev import EvConfig
from josev.evcc.driver import EvDriver, SimCable
from josev.secc.common.actions import Progress

pytestmark = [pytest.mark.netns, pytest.mark.slow]


async def until(samples: list[Progress], start: int, ok: Callable[[Progress], bool],
                n: int, run: asyncio.Task[Any], what: str) -> int:
    """Wait for `n` charge-loop samples in a row (after index `start`) that satisfy `ok`;
    return the index after them. A guard against hanging, not a timing assertion."""
    for _ in range(1200):
        loop = [i for i in range(start, len(samples)) if samples[i].state == "ChargingLoop"]
        good = 0
        for i in loop:
            good = good + 1 if ok(samples[i]) else 0
            if good >= n:
                return i + 1
        assert not run.done(), f"the session ended before {what}: {run.result()}"
        await asyncio.sleep(0.1)
    raise AssertionError(f"never saw {what}")


async def test_a_limit_mid_session_lowers_the_current_the_station_delivers(
        station: tuple[Stack, Any, Path]) -> None:
    """-20 DC, dynamic mode: the EV charges at its full current; smart charging limits the
    EVSE to 30 A, then to 0 W (power stops, the session stays), then lifts the limit; the
    session then completes normally."""
    stack, link, pki = station
    password = stack.broker.password_files["demo"].read_text().strip()
    cfg = EvConfig(soc=70.0, target_soc=74.0, time_scale=60.0, protocols=("ISO20_DC",),
                   control_mode="dynamic")
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable, \
            ApiClient(identities={"smart_charging"}, host=stack.broker.host,
                      port=stack.broker.port, username="demo", password=password,
                      client_id="test-smart-charging") as sc:
        await sc.wait_connected(10.0)   # an update before that would wait in the outbox
        driver = EvDriver(cfg, link.ev.plc_interface(), cable=cable, pki=pki, tls=True)
        run = asyncio.create_task(driver.run())
        samples = driver.result.samples

        async def limit(value: float, unit: str) -> int:
            mark = len(samples)
            await sc.update("iso15118_charge_limit", models.Iso15118ChargeLimitUpdate(
                evse_id=1, limit=value, unit=unit))
            return mark

        try:
            i = await until(samples, 0, lambda s: s.values["current"] > 50.0, 3, run,
                            "charging above 50 A")
            full = max(s.values["current"] for s in samples[:i])
            mark = await limit(30.0, "A")
            i = await until(samples, mark, lambda s: 20.0 < s.values["current"] <= 30.5, 5, run,
                            "the current held at the 30 A limit")
            mark = await limit(0.0, "W")
            i = await until(samples, mark, lambda s: abs(s.values["current"]) < 1.0, 5, run,
                            "the current at 0 with the session still running")
            assert not run.done()
            await limit(150_000.0, "W")
            await asyncio.wait_for(run, 180)
        finally:
            run.cancel()
    result = driver.result
    assert result.ok, result.ends
    assert len(result.ends) == 1          # one session: the 0 W limit did not end it
    assert full > 50.0
    assert driver.ev.soc >= 74.0
    log = (stack.workdir / "iso15118.log").read_text()
    assert "evse 1: charge limit 30 A" in log and "evse 1: charge limit 0 W" in log
    assert "ended: terminated by the EV" in log
