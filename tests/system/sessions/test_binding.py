"""The HLC binding (josev.services.hlc) over a real broker, fast: the SECC's SessionDriver and
our EV's driver on a loopback socket pair (V2GTP framing, no TLS), the station side of the Josev
API played by a scripted client. Why scripted: the real josev-hal runs in the slower system
tests (test_link_sessions, test_demo); here every message the binding sends is checked."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from josev.api import ApiClient, models
from josev.evcc.common.ev import EvConfig
from josev.evcc.driver import EvDriver
from josev.secc.loopback import default_limits
from josev.services.hlc import EvseHlc, Hlc, HlcConfig
from josev.station import StationState
from josev.transport.connection import V2gConnection
from josev.transport.iface import PlcInterface


class ScriptedStation:
    """Answers what the SECC asks and records what it publishes."""

    def __init__(self, client: ApiClient, state: StationState) -> None:
        self.client = client
        self.state = state           # the brain's cache, updated as josev-hal's updates would
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.checks = 0
        client.on_update("iso15118_state_info", self.state_info)
        client.on_update("hlc_charging", self.hlc_charging)
        client.on_request("cable_check", self.cable_check)
        client.on_request("power_electronics_setpoint", self.setpoint)
        client.on_request("cp_pwm", self.cp_pwm)
        client.on_request("cs_contactor_status", self.contactor)

    def state_info(self, upd: models.Iso15118StateInfoUpdate) -> None:
        self.seen.append(("iso15118_state_info", upd.model_dump(exclude_none=True)))

    def hlc_charging(self, upd: models.HlcChargingUpdate) -> None:
        self.seen.append(("hlc_charging", upd.model_dump(exclude_none=True)))

    async def cable_check(self, req: models.CableCheckRequest) -> models.CableCheckResponse:
        self.seen.append(("cable_check", req.model_dump()))
        self.checks += 1
        if self.checks < 3:
            return models.CableCheckResponse(evse_id=1, cable_check_status="ongoing")
        return models.CableCheckResponse(evse_id=1, cable_check_status="finished",
                                         isolation_level="valid")

    async def setpoint(self, req: models.PowerElectronicsSetpointRequest
                       ) -> models.PowerElectronicsSetpointResponse:
        self.seen.append(("power_electronics_setpoint", req.model_dump(exclude_none=True)))
        lim = self.state.evse(1).limits
        assert lim is not None and lim.dc is not None and req.dc is not None
        amps = req.dc.charge_current or 0.0
        volts = req.dc.voltage if req.is_precharge else (386.0 + amps * 0.05 if amps else 0.0)
        self.state.evse(1).limits = lim.model_copy(update={"dc": lim.dc.model_copy(update={
            "present_voltage": volts, "present_current": 0.0 if req.is_precharge else amps})})
        return models.PowerElectronicsSetpointResponse(evse_id=1, status="accepted")

    async def cp_pwm(self, req: models.CpPwmRequest) -> models.CpPwmResponse:
        self.seen.append(("cp_pwm", req.model_dump(exclude_none=True)))
        return models.CpPwmResponse(evse_id=1, status="valid")

    async def contactor(self, req: models.CsContactorStatusRequest
                        ) -> models.CsContactorStatusResponse:
        return models.CsContactorStatusResponse(evse_id=1, status="closed")


@pytest.fixture
async def binding(mosquitto: Any) -> AsyncIterator[tuple[EvseHlc, ScriptedStation, ApiClient]]:
    state = StationState()
    state.evse(1).limits = default_limits(1)
    state.set_cp(models.CpStatusUpdate(evse_id=1, connector_id=1, state="C2"))
    brain = ApiClient({"josev", "iso15118"}, host=mosquitto.host, port=mosquitto.port)
    cs = ApiClient({"cs"}, host=mosquitto.host, port=mosquitto.port)
    ocpp = ApiClient({"ocpp"}, host=mosquitto.host, port=mosquitto.port)
    station = ScriptedStation(cs, state)
    hlc = HlcConfig(slac=False)
    iface = PlcInterface("lo", 1, ipaddress.IPv6Address("fe80::1"))   # not used: no server
    evse = EvseHlc(brain, state, 1, hlc, iface)
    router = Hlc(brain, state, hlc)     # its API handlers; the EVSE without an SECC server
    router.evses = {1: evse}
    router.warm_up()                    # as at start-up: codecs loaded before the first EV
    async with brain, cs, ocpp:
        await asyncio.sleep(0.3)
        yield evse, station, ocpp


class StateCable:
    """The EV's CP changes as the station would report them (no HAL here): into the station
    state, then to the EVSE, as Iso15118Service._on_cp does (no SLAC here). DIN's SECC waits
    for the CP (C/D for the cable check, B after PowerDelivery(Stop))."""

    observes = False

    def __init__(self, state: StationState, evse: EvseHlc) -> None:
        self.state, self.evse = state, evse

    async def command(self, action: str, **data: Any) -> None:
        if action != "cp":
            return
        value = models.CpStatusUpdate(evse_id=1, connector_id=1, state=f"{data['state']}2")
        before = self.state.set_cp(value)
        if before is not None:
            self.evse.cp_changed(before, value.state)

    async def wait_oscillator(self, on: bool, timeout: float) -> bool:
        return False


async def pair() -> tuple[V2gConnection, V2gConnection]:
    a, b = socket.socketpair()
    r1, w1 = await asyncio.open_connection(sock=a)
    r2, w2 = await asyncio.open_connection(sock=b)
    return V2gConnection(r1, w1, name="secc"), V2gConnection(r2, w2, name="evcc")


async def run(evse: EvseHlc, cfg: EvConfig, during: Any = None) -> EvDriver:
    secc_conn, ev_conn = await pair()
    cable = StateCable(evse.state, evse)
    ev = EvDriver(cfg, PlcInterface("lo", 1, ipaddress.IPv6Address("fe80::1")), slac=False,
                  cable=cable)
    secc = asyncio.create_task(evse.on_connection(secc_conn))
    session = asyncio.create_task(ev.session(ev_conn, None))
    if during is not None:
        await during()
    end, _ = await asyncio.wait_for(session, 60)
    ev.result.ends.append(end)
    await asyncio.wait_for(secc, 10)
    return ev


async def test_binding_runs_a_session_over_the_api(
        binding: tuple[EvseHlc, ScriptedStation, ApiClient],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="josev.hlc")
    evse, station, _ = binding
    ev = await run(evse, EvConfig(protocols=("ISO20_DC",), soc=70.0, target_soc=71.0,
                                  time_scale=600.0, poll_interval=0.02, loop_interval=0.02))
    assert ev.result.ok, ev.result.ends
    assert evse.sessions and evse.sessions[-1].ok
    await asyncio.sleep(0.3)           # the last updates cross the broker
    names = [n for n, _ in station.seen]
    assert names[0] in ("iso15118_state_info", "cp_pwm")
    assert ("cp_pwm", {"evse_id": 1, "hlc": True, "error_state": False,
                       "fault_state": False}) in station.seen
    assert [d["cable_check_action"] for n, d in station.seen if n == "cable_check"][:2] == \
        ["start", "status"]
    sps = [d for n, d in station.seen if n == "power_electronics_setpoint"]
    assert sps[0]["is_precharge"] is True
    assert any(d["dc"].get("charge_current", 0) > 0 for d in sps)
    assert sps[-1]["dc"]["voltage"] == 0.0
    assert [d["status"] for n, d in station.seen if n == "hlc_charging"] == [True, False]
    states = [d["session_status"] for n, d in station.seen if n == "iso15118_state_info"]
    assert states[-1] == "Idle" and "ChargingLoop" in states
    # Every response was timed from "fully received" to "written" (no timed assertion here:
    # bench/sessions.py measures).
    lines = [r.getMessage() for r in caplog.records if "turnaround {" in r.getMessage()]
    stats = json.loads(lines[-1].split("turnaround ", 1)[1])
    assert stats["DC_ChargeLoopRes"]["n"] >= 3
    assert "SessionStopRes" in stats


async def test_stop_charging_from_ocpp_reaches_the_ev(
        binding: tuple[EvseHlc, ScriptedStation, ApiClient]) -> None:
    evse, station, ocpp = binding

    async def stop_when_charging() -> None:
        for _ in range(500):
            if any(n == "hlc_charging" and d["status"] for n, d in station.seen):
                break
            await asyncio.sleep(0.02)
        resp = await ocpp.request("stop_charging", {"evse_id": 1}, timeout=5)
        assert resp.status == "accepted"

    ev = await run(evse, EvConfig(protocols=("DIN",), soc=50.0, target_soc=95.0,
                                  poll_interval=0.02, loop_interval=0.02), stop_when_charging)
    assert ev.result.ok and "terminate" in ev.result.ends[-1].reason
    assert ev.ev.soc < 95.0


async def test_a_request_already_received_beats_a_due_timer(
        binding: tuple[EvseHlc, ScriptedStation, ApiClient]) -> None:
    """After a CPU stall the timer callback can run before the reader task posts the request
    it was woken for; the driver takes the request first (the timer is then stale)."""
    from josev.services.hlc import SessionDriver

    evse, _, _ = binding
    secc_conn, ev_conn = await pair()
    driver = SessionDriver(evse, secc_conn, None)
    timer = ("timer", "sequence", 1.0)
    driver.post("msg", 0x8001, b"\x80", 0.0)
    driver.post("station")
    first = await driver._message_first(timer)
    assert first[0] == "msg"
    rest = [driver.events.get_nowait() for _ in range(driver.events.qsize())]
    assert rest == [("station",), timer]
    # Without a request waiting, the timer is handled as it came.
    assert await driver._message_first(timer) == timer
    await secc_conn.close()
    await ev_conn.close()
