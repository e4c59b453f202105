"""Smart charging's `iso15118_charge_limit` across the simulated link: mosquitto, josev-hal (the
simulated station: DC, AC or bidirectional DC) and josev-iso15118 as real processes, our EV
simulator over SLAC, SDP and TLS 1.3 in another network namespace. The limit is published on
the broker as the smart charging service would publish it, mid-session; what the supply really
did is read from the simulated station's own state (`sim/station`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from josev.api import ApiClient, models
from josev.demo import Stack
from josev.evcc.common.ev import EvConfig
from josev.evcc.driver import EvDriver, SimCable
from josev.secc.common.actions import Progress

pytestmark = [pytest.mark.netns, pytest.mark.slow]

Limit = Callable[[float, Literal["W", "A"]], Awaitable[int]]


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


class Session:
    """One EV session against the station fixture, with the smart charging service's client
    and a record of the simulated station's states."""

    def __init__(self, driver: EvDriver, run: asyncio.Task[Any], limit: Limit,
                 station: list[Any]) -> None:
        self.driver, self.run, self.limit, self.station = driver, run, limit, station

    @property
    def samples(self) -> list[Progress]:
        return self.driver.result.samples

    async def until(self, start: int, ok: Callable[[Progress], bool], n: int, what: str) -> int:
        return await until(self.samples, start, ok, n, self.run, what)


@contextlib.asynccontextmanager
async def session(station: tuple[Stack, Any, Path], cfg: EvConfig) -> AsyncIterator[Session]:
    from josev_hal.sim.client import SimClient  # the HAL's simulator channel, as the cable

    stack, link, pki = station
    password = stack.broker.password_files["demo"].read_text().strip()
    seen: list[Any] = []

    async def watch(sim: SimClient) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                seen.append(await sim.next_state(1.0))

    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable, \
            SimClient(stack.broker.host, stack.broker.port, username="demo",
                      password=password) as sim, \
            ApiClient(identities={"smart_charging"}, host=stack.broker.host,
                      port=stack.broker.port, username="demo", password=password,
                      client_id="test-smart-charging") as sc:
        await sc.wait_connected(10.0)   # an update before that would wait in the outbox
        watcher = asyncio.create_task(watch(sim))
        driver = EvDriver(cfg, link.ev.plc_interface(), cable=cable, pki=pki, tls=True)
        run = asyncio.create_task(driver.run())

        async def limit(value: float, unit: Literal["W", "A"]) -> int:
            mark = len(driver.result.samples)
            await sc.update("iso15118_charge_limit", models.Iso15118ChargeLimitUpdate(
                evse_id=1, limit=value, unit=unit))
            return mark

        try:
            yield Session(driver, run, limit, seen)
        finally:
            run.cancel()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def iso15118_log(station: tuple[Stack, Any, Path]) -> str:
    return (station[0].workdir / "iso15118.log").read_text()


async def test_a_limit_mid_session_lowers_the_current_the_station_delivers(
        station: tuple[Stack, Any, Path]) -> None:
    """-20 DC, dynamic mode: the EV charges at its full current; smart charging limits the
    EVSE to 30 A, then to 0 W (power stops, the session stays), then lifts the limit; the
    session then completes normally."""
    cfg = EvConfig(soc=70.0, target_soc=74.0, time_scale=60.0, protocols=("ISO20_DC",),
                   control_mode="dynamic")
    async with session(station, cfg) as s:
        i = await s.until(0, lambda p: p.values["current"] > 50.0, 3, "charging above 50 A")
        full = max(p.values["current"] for p in s.samples[:i])
        mark = await s.limit(30.0, "A")
        await s.until(mark, lambda p: 20.0 < p.values["current"] <= 30.5, 5,
                      "the current held at the 30 A limit")
        mark = await s.limit(0.0, "W")
        await s.until(mark, lambda p: abs(p.values["current"]) < 1.0, 5,
                      "the current at 0 with the session still running")
        assert not s.run.done()
        await s.limit(150_000.0, "W")
        await asyncio.wait_for(s.run, 180)
        driver = s.driver
    result = driver.result
    assert result.ok, result.ends
    assert len(result.ends) == 1          # one session: the 0 W limit did not end it
    assert full > 50.0
    assert driver.ev.soc >= 74.0
    log = iso15118_log(station)
    assert "evse 1: charge limit 30 A" in log and "evse 1: charge limit 0 W" in log
    assert "ended: terminated by the EV" in log


@pytest.mark.parametrize("station", ["ac"], indirect=True)
async def test_iso2_ac_limit_lowers_the_evs_current_and_it_renegotiates(
        station: tuple[Stack, Any, Path]) -> None:
    """-2 AC (three-phase, 32 A cable): smart charging limits the EVSE to 10 A per phase
    mid-session. The station says so at once (EVSEMaxCurrent, its setpoint) with
    EVSENotification=ReNegotiation; the EV renegotiates (a second ChargeParameterDiscovery,
    PMax for 10 A) and keeps to it; lifted again, the current comes back; one session."""
    cfg = EvConfig(soc=70.0, target_soc=73.0, time_scale=60.0, protocols=("ISO2",), ac=True)
    async with session(station, cfg) as s:
        i = await s.until(0, lambda p: p.values["current"] > 20.0, 3,
                          "charging above 20 A per phase")
        full = max(p.values["current"] for p in s.samples[:i])
        mark = await s.limit(10.0, "A")
        limited_from = await s.until(mark, lambda p: 5.0 < p.values["current"] <= 10.05, 5,
                                     "the EV's current at the 10 A limit")
        first_state = len(s.station)
        # Keep it a while (charge-loop samples, not time): the EV stays within the limit.
        held_to = await s.until(limited_from, lambda p: p.values["current"] <= 10.05, 20,
                                "the EV keeping to 10 A")
        held = [p.values["current"] for p in s.samples[limited_from:held_to]
                if p.state == "ChargingLoop"]
        # What the simulated supply delivered meanwhile (one state in flight may be older).
        station_during = s.station[first_state + 1:]
        mark = await s.limit(22_000.0, "W")
        await s.until(mark, lambda p: p.values["current"] > 20.0, 3,
                      "the current back above 20 A")
        await asyncio.wait_for(s.run, 180)
        driver = s.driver
    result = driver.result
    assert result.ok, result.ends
    assert len(result.ends) == 1          # renegotiating did not end the session
    assert result.protocol == "ISO2"
    assert full > 20.0
    assert held and max(held) <= 10.05
    # The simulated supply delivered what the EVSE allowed: 10 A per phase at most.
    assert station_during and all(st.contactors_closed for st in station_during)
    assert max(st.ac_current for st in station_during) <= 10.05
    assert min(st.ac_current for st in station_during) > 5.0
    # Renegotiated twice (down to 10 A, up to 22 kW): three ChargeParameterDiscovery exchanges.
    cpd = [n for n, _ in result.round_trips if n == "ChargeParameterDiscovery"]
    assert len(cpd) == 3
    assert driver.ev.soc >= 73.0
    log = iso15118_log(station)
    assert "evse 1: charge limit 10 A" in log and "evse 1: charge limit 22000 W" in log


@pytest.mark.parametrize("station", ["dc_bpt"], indirect=True)
@pytest.mark.parametrize("mode", ["dynamic", "scheduled"])
async def test_iso20_dc_bpt_negative_limit_discharges_then_a_positive_one_charges(
        station: tuple[Stack, Any, Path], mode: str) -> None:
    """-20 DC_BPT on a bidirectional station (100 A / 40 kW back): the EV charges; a limit of
    -40 A makes the station take energy back (dynamic: the EVSE decides; scheduled: a
    DischargingSchedule, negative power, the EV follows it): the current is negative and within
    40 A, the EV's SoC goes down and the station's meter counts export. A positive limit then
    makes it charge again, and the session completes."""
    cfg = EvConfig(soc=60.0, target_soc=64.0, time_scale=60.0, protocols=("ISO20_DC",),
                   bpt=True, control_mode=mode)
    async with session(station, cfg) as s:
        await s.until(0, lambda p: p.values["current"] > 50.0, 3, "charging above 50 A")
        export_before = max((st.energy_export_wh for st in s.station), default=0.0)
        mark = await s.limit(-40.0, "A")
        back_from = await s.until(mark, lambda p: -40.5 <= p.values["current"] < -20.0, 5,
                                  "the station taking up to 40 A back")
        soc_from = s.samples[back_from - 1].values["soc"]
        back_to = await s.until(back_from, lambda p: p.values["current"] < -20.0, 20,
                                "the discharge going on")
        back = s.samples[back_from:back_to]
        soc_back = s.samples[back_to - 1].values["soc"]
        export_during = max(st.energy_export_wh for st in s.station)
        discharge_states = [st for st in s.station if st.dc_current < -1.0]
        mark = await s.limit(150_000.0, "W")
        await s.until(mark, lambda p: p.values["current"] > 50.0, 3, "charging again")
        await asyncio.wait_for(s.run, 180)
        driver = s.driver
    result = driver.result
    assert result.ok, result.ends
    assert len(result.ends) == 1          # one session through discharge and back
    assert all(-40.5 <= p.values["current"] < 0 for p in back if p.state == "ChargingLoop")
    assert soc_back < soc_from                     # the EV's battery gave energy back
    assert export_during > export_before           # the station's meter counted it
    assert discharge_states and min(st.dc_current for st in discharge_states) >= -40.5
    assert driver.ev.discharged_wh > 0.0
    if mode == "scheduled":   # a schedule for each limit: the EV discharged along the second
        assert [n for n, _ in result.round_trips].count("ScheduleExchange") == 3
    assert driver.ev.soc >= 64.0
    log = iso15118_log(station)
    assert "evse 1: charge limit -40 A" in log
