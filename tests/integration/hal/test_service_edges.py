"""Edges of the HAL's API behaviour on a real broker: unknown EVSEs, availability during a
session, reset, bad simulator commands, two EVSEs (DC and AC) side by side."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiomqtt
import pytest

from josev.api import RequestRejected, models
from josev_hal.service import HalService
from josev_hal.sim import protocol as simp
from josev_hal.sim.client import SimClient
from josev_hal.sim.scenario import setpoint
from tests.broker import Broker
from tests.integration.hal.conftest import Running, hal_config, running_hal, wait_for

QLEN = int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())


async def test_unknown_evse_gets_an_error_answer(hal: Running) -> None:
    with pytest.raises(RequestRejected, match="no EVSE 7"):
        await hal.josev.request("cable_check", models.CableCheckRequest(
            evse_id=7, cable_check_action="start"))
    answer = await hal.josev.request("change_availability", models.ChangeAvailabilityRequest(
        operational_status="inoperative", evse_id=7))
    assert answer.status == "rejected"
    answer = await hal.josev.request("change_availability", models.ChangeAvailabilityRequest(
        operational_status="inoperative", evse_id=1, connector_id=5))
    assert answer.status == "rejected"


async def test_bad_sim_commands_are_logged_not_fatal(
    hal: Running, mosquitto: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as raw:
        await raw.publish("sim/ev", b"{not json", qos=1)
        await raw.publish("sim/ev", b'{"action":"cp","state":"C"}', qos=1)  # not plugged
        await raw.publish("sim/control", b'{"action":"tap","uid":"x y"}', qos=1)
        await raw.publish("sim/ev", b'{"action":"plug","evse_id":9}', qos=1)
    await wait_for(lambda: caplog.text.count("sim channel: bad command") >= 4, "4 warnings")
    async with SimClient(mosquitto.host, mosquitto.port) as sim:  # still serving
        await sim.send(simp.Plug())
        await sim.wait_for(lambda s: s.plugged)


async def test_inoperative_waits_for_the_session_and_reset_rules(
    mosquitto: Broker, tmp_path: Path
) -> None:
    service = HalService(hal_config(mosquitto, tmp_path))
    async with running_hal(service, mosquitto) as hal, \
            SimClient(mosquitto.host, mosquitto.port) as sim:
        josev = hal.josev
        await sim.send(simp.Plug())
        await sim.send(simp.SetBattery(voltage=380.0))
        await sim.send(simp.SetCp(state="C"))
        await josev.request("cp_pwm", models.CpPwmRequest(
            evse_id=1, hlc=True, error_state=False, fault_state=False))
        await wait_for(lambda: service.controllers[1].cp_letter is not None
                       and service.controllers[1].cp_letter.value == "C", "C")
        await josev.request("cable_check", models.CableCheckRequest(
            evse_id=1, cable_check_action="start"))
        await sim.wait_for(lambda s: s.contactors_closed)
        # A reset while the power path is closed is refused.
        assert (await josev.request("reset", models.ResetRequest(evse_id=1))).status == "rejected"
        # Inoperative is accepted but waits until the session has ended (OCPP G03).
        inop = await josev.request("change_availability", models.ChangeAvailabilityRequest(
            operational_status="inoperative", evse_id=1))
        assert inop.status == "accepted"
        assert service.controllers[1].state.operative
        await josev.request("stop_charging", models.StopChargingRequest(evse_id=1))
        await sim.wait_for(lambda s: not s.contactors_closed)
        await wait_for(lambda: not service.controllers[1].state.operative, "inoperative")
        await sim.wait_for(lambda s: s.cp_mode == "F")
        refused = await josev.request("power_electronics_setpoint", setpoint(400.0, 10.0))
        assert refused.status == "rejected"
        limits = await josev.request("cs_status_and_limits", models.CsStatusAndLimitsRequest())
        assert limits.evses[0].status_code == "evse_shutdown"
        assert (await josev.request("reset", models.ResetRequest())).status == "accepted"
        await josev.request("change_availability", models.ChangeAvailabilityRequest(
            operational_status="operative"))
        await sim.wait_for(lambda s: s.cp_mode == "steady")


async def test_two_evses_dc_and_ac(mosquitto: Broker, tmp_path: Path) -> None:
    cfg = hal_config(mosquitto, tmp_path, evses=[
        {"evse_id": 1, "isolation": {"test_duration_s": 0.3}},
        {"evse_id": 2, "kind": "ac", "iso15118_id": "DE*JSV*E2", "network_interface": "eth2",
         "connectors": [{"id": 1, "connector_type": "sType2"}]},
    ])
    async with running_hal(HalService(cfg), mosquitto) as hal, \
            SimClient(mosquitto.host, mosquitto.port) as sim:
        dm = await hal.josev.request("device_model", models.DeviceModelRequest())
        assert [e.supply_phases for e in dm.evses] == [0, 3]
        params = await hal.josev.request("cs_parameters", models.CsParametersRequest())
        assert params.number_of_evses == 2
        assert params.parameters[1].connectors[0].services.ac is not None
        await sim.send(simp.Plug(evse_id=2, pp_ohm=220.0))
        await wait_for(lambda: any(u.evse_id == 2 and u.state == "B1"
                                   for u in hal.seen("cp_status")), "EVSE 2 B1")
        assert not any(u.evse_id == 1 and u.state.startswith("B")
                       for u in hal.seen("cp_status"))
        lock = await hal.josev.request("cs_connector", models.CsConnectorRequest(
            evse_id=2, connector_id=1, action="lock"))
        assert lock.status == "locked"  # answered once the lock's switch confirmed
        await sim.wait_for(lambda s: s.locked, evse_id=2)
        unlock = await hal.josev.request("cs_connector", models.CsConnectorRequest(
            evse_id=2, connector_id=1, action="unlock"))
        assert unlock.status == "unlocked"
        ac = await hal.josev.request("cable_check", models.CableCheckRequest(
            evse_id=2, cable_check_action="start"))
        assert ac.isolation_level == "no_imd"
        whole = await hal.josev.request("meter_values", models.MeterValuesRequest(
            timestamp="2026-11-22T10:00:00+00:00"))
        assert whole.evse_id is None


async def test_a_stuck_notify_socket_never_stalls_the_control_loop(
    mosquitto: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody reads the notify socket: after net.unix.max_dgram_qlen datagrams a blocking
    send would hang the event loop; the control loop must keep stepping regardless."""
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify))
    monkeypatch.setenv("WATCHDOG_USEC", "40000")  # a ping every 20 ms
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    try:
        service = HalService(hal_config(mosquitto, tmp_path))
        async with running_hal(service, mosquitto):
            await asyncio.sleep(0.02 * (QLEN + 20))  # far more pings than the queue holds
            before = service.steps
            await asyncio.sleep(0.5)
            assert service.steps > before  # the loop still runs (a blocked one hangs here)
    finally:
        sock.close()
