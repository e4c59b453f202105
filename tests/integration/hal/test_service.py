"""josev-hal on a real mosquitto: every CS-bound request answered, a DC session, safety trips."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from josev.api import ApiClient, models
from josev.api.examples import EXAMPLES
from josev.api.registry import JOSEV_CS, SPECS
from josev_hal.service import HalService
from josev_hal.sim import protocol as simp
from josev_hal.sim.client import SimClient
from tests.broker import Broker
from tests.integration.hal.conftest import Running, hal_config, running_hal, wait_for

# Requests Josev sends to the CS. update_firmware is answered by josev-ota.
OTA_OWNED = {"update_firmware"}
CS_REQUESTS = sorted(
    name for (name, t), sp in SPECS.items()
    if t == "request" and JOSEV_CS in sp.topics and name not in OTA_OWNED
)


def test_the_list_covers_the_contract() -> None:
    assert set(CS_REQUESTS) == {
        "cable_check", "change_availability", "cp_pwm", "cs_connector", "cs_contactor_status",
        "cs_parameters", "cs_status_and_limits", "device_model", "generate_csr", "meter_values",
        "power_electronics_setpoint", "process_authorized_token", "reset", "stop_charging",
        "upload_logs",
    }


@pytest.mark.parametrize("name", CS_REQUESTS)
async def test_every_cs_bound_request_is_answered(hal: Running, name: str) -> None:
    request = SPECS[(name, "request")].model.model_validate(EXAMPLES[(name, "request")])
    response = await hal.josev.request(name, request, timeout=20.0)
    assert isinstance(response, SPECS[(name, "response")].model)


async def test_boot_sequence_answers_from_configuration(hal: Running) -> None:
    dm = await hal.josev.request("device_model", models.DeviceModelRequest())
    assert dm.evses[0].connectors[0].connector_type == "cCCS2"
    assert dm.evses[0].supply_phases == 0  # DC
    limits = await hal.josev.request("cs_status_and_limits", models.CsStatusAndLimitsRequest())
    evse = limits.evses[0]
    assert evse.status_code == "evse_ready"
    assert evse.dc is not None and evse.dc.max_voltage == 920.0 and evse.ac is None
    params = await hal.josev.request("cs_parameters", models.CsParametersRequest())
    assert params.parameters[0].network_interface == "eth1"
    assert params.parameters[0].connectors[0].services.dc is not None


async def test_dc_session_through_the_api_and_the_sim_channel(
    hal: Running, mosquitto: Broker
) -> None:
    josev = hal.josev
    async with SimClient(mosquitto.host, mosquitto.port) as sim:
        await sim.send(simp.Plug(pp_ohm=220))
        await wait_for(lambda: any(u.state == "B1" for u in hal.seen("cp_status")), "B1")
        pwm = await josev.request("cp_pwm", models.CpPwmRequest(
            evse_id=1, hlc=True, error_state=False, fault_state=False))
        assert pwm.status == "valid"
        await wait_for(lambda: any(u.state == "B2" for u in hal.seen("cp_status")), "B2")
        state = await sim.wait_for(lambda s: s.cp_mode == "pwm")
        assert state.duty_cycle == 5.0
        await sim.send(simp.SetBattery(voltage=380.0))
        await sim.send(simp.SetCp(state="C"))
        await wait_for(lambda: any(u.state == "C2" for u in hal.seen("cp_status")), "C2")

        # Setpoints before a positive isolation result are refused.
        early = await josev.request("power_electronics_setpoint", _setpoint(380.0, 2.0, True))
        assert early.status == "rejected"

        cc = await josev.request("cable_check", models.CableCheckRequest(
            evse_id=1, cable_check_action="start"))
        assert cc.cable_check_status == "ongoing"
        result: list[Any] = []

        async def finished() -> bool:
            r = await josev.request("cable_check", models.CableCheckRequest(
                evse_id=1, cable_check_action="status"))
            result.append(r)
            return bool(r.cable_check_status == "finished")

        async with asyncio.timeout(15):
            while not await finished():  # noqa: ASYNC110 - polled like josev-iso15118 does
                await asyncio.sleep(0.05)
        assert result[-1].isolation_level == "valid"

        pre = await josev.request("power_electronics_setpoint", _setpoint(380.0, 50.0, True))
        assert pre.status == "accepted"
        # Precharge is held to 2 A whatever was asked; the EV closes its contactor at 380 V.
        await sim.wait_for(lambda s: s.contactors_closed and abs(s.dc_voltage - 380.0) < 5)
        charge = await josev.request("power_electronics_setpoint", _setpoint(400.0, 100.0))
        assert charge.status == "accepted"
        await sim.wait_for(lambda s: s.dc_current > 95.0)
        await wait_for(lambda: any(
            u.evses[0].dc.present_current > 95.0 for u in hal.seen("cs_status_and_limits")
        ), "present_current in cs_status_and_limits")
        await wait_for(lambda: any(u.total_active_energy_imported > 0
                                   for u in hal.seen("meter_values")), "energy in meter_values")
        contactor = await josev.request("cs_contactor_status",
                                        models.CsContactorStatusRequest(evse_id=1))
        assert contactor.status == "closed"

        # Far more than the cable (200 A), supply (125 A) and power allow is clamped, not obeyed.
        await josev.request("power_electronics_setpoint", _setpoint(400.0, 900.0))
        await asyncio.sleep(0.3)
        state = await sim.next_state()
        assert state.dc_current <= 125.0 + 0.1

        await josev.update("iso15118_state_info", models.Iso15118StateInfoUpdate(
            evse_id=1, session_status="WeldingDetection"))
        await sim.wait_for(lambda s: not s.contactors_closed and s.dc_current == 0.0)
        await wait_for(lambda: any(u.status == "opened"
                                   for u in hal.seen("cs_contactor_status")), "opened update")
        # No safety trip on the orderly path: the pilot was never driven to F.
        assert not any(u.state == "F" for u in hal.seen("cp_status"))
        assert not hal.service.controllers[1].supervisor.trips


async def test_card_tap_becomes_an_authorization_request(hal: Running, mosquitto: Broker) -> None:
    got: list[models.AuthorizationRequest] = []

    async def authorize(req: models.AuthorizationRequest) -> models.AuthorizationResponse:
        got.append(req)
        return models.AuthorizationResponse(status="accepted")

    hal.josev.on_request("authorization", authorize)
    async with SimClient(mosquitto.host, mosquitto.port) as sim:
        await sim.send(simp.Tap(uid="04a1b2c3d4"))
        await wait_for(lambda: bool(got), "authorization request")
    assert got[0].id_token == "04A1B2C3D4"
    assert got[0].token_type == "ISO14443" and got[0].evse_id == 1
    await hal.josev.update("display_and_personal_msg", models.DisplayAndPersonalMsgUpdate(
        display_msg_trigger_reason="authorized", content="Welcome, charging starts"))
    async with SimClient(mosquitto.host, mosquitto.port) as sim:
        await sim.wait_for(lambda s: s.display == "Welcome, charging starts")


async def test_brain_silence_trips_and_signals_f(mosquitto: Broker, tmp_path: Path) -> None:
    cfg = hal_config(mosquitto, tmp_path, supervisor={"brain_timeout_s": 1.0,
                                                      "trip_hold_s": 60.0})
    service = HalService(cfg)
    async with running_hal(service, mosquitto) as hal:
        await _charge(hal, mosquitto)
        # Josev goes silent now: no request, no update. The HAL must shut the path down.
        world = service.built.world.evses[1]
        await wait_for(lambda: not world.contactor_closed, "contactors open", timeout=10)
        assert world.supply_current < cfg.supervisor.safe_current_a
        assert world.cp_mode.value == "F"
        await wait_for(lambda: any(u.state == "F" for u in hal.seen("cp_status")), "cp F")
        await wait_for(lambda: any(u.tech_code == "SafetyTrip" for u in hal.seen("notify_event")),
                       "notify_event")
        assert service.controllers[1].supervisor.trips[0][1].value == "brain_silent"
        pwm = await hal.josev.request("cp_pwm", models.CpPwmRequest(
            evse_id=1, hlc=True, error_state=False, fault_state=False))
        assert pwm.status == "error"


async def test_emergency_stop_trips(mosquitto: Broker, tmp_path: Path) -> None:
    service = HalService(hal_config(mosquitto, tmp_path))
    async with running_hal(service, mosquitto) as hal:
        await _charge(hal, mosquitto)
        async with SimClient(mosquitto.host, mosquitto.port) as sim:
            await sim.send(simp.EmergencyStop(pressed=True))
            await sim.wait_for(lambda s: not s.contactors_closed and s.cp_mode == "F")
        await wait_for(lambda: any(u.evses[0].status_code == "evse_emergency_shutdown"
                                   for u in hal.seen("cs_status_and_limits")), "status code")
        reset = await hal.josev.request("reset", models.ResetRequest())
        assert reset.status == "rejected"  # never while the e-stop is held
        await wait_for(lambda: any(u.operational_status == "inoperative"
                                   for u in hal.seen("change_availability")), "unavailable")
        async with SimClient(mosquitto.host, mosquitto.port) as sim:
            await sim.send(simp.EmergencyStop(pressed=False))
        await wait_for(lambda: hal.seen("change_availability")[-1].operational_status
                       == "operative", "available again")


async def _charge(hal: Running, broker: Broker) -> None:
    """Bring the simulated DC station to 100 A through the API, as josev-iso15118 would."""
    josev: ApiClient = hal.josev
    async with SimClient(broker.host, broker.port) as sim:
        await sim.send(simp.Plug())
        await sim.send(simp.SetBattery(voltage=380.0))
        await sim.send(simp.SetCp(state="C"))
        await josev.request("cp_pwm", models.CpPwmRequest(
            evse_id=1, hlc=True, error_state=False, fault_state=False))
        await wait_for(lambda: hal.service.controllers[1].cp_letter is not None
                       and hal.service.controllers[1].cp_letter.value == "C", "CP C")
        await josev.request("cable_check", models.CableCheckRequest(
            evse_id=1, cable_check_action="start"))
        async with asyncio.timeout(10):  # polled as josev-iso15118 polls during CableCheck
            status = models.CableCheckRequest(evse_id=1, cable_check_action="status")
            while (await josev.request("cable_check", status)).cable_check_status != "finished":  # noqa: ASYNC110 - polled like josev-iso15118
                await asyncio.sleep(0.05)
        assert hal.service.controllers[1].state.isolation == "valid"
        await josev.request("power_electronics_setpoint", _setpoint(380.0, 2.0, True))
        await sim.wait_for(lambda s: s.contactors_closed and abs(s.dc_voltage - 380.0) < 5)
        await josev.request("power_electronics_setpoint", _setpoint(400.0, 100.0))
        await sim.wait_for(lambda s: s.dc_current > 95.0)


def _setpoint(volts: float, amps: float, precharge: bool = False
              ) -> models.PowerElectronicsSetpointRequest:
    return models.PowerElectronicsSetpointRequest(
        evse_id=1, ev_limits=models.EvLimits(maximum_voltage=450.0), is_precharge=precharge,
        dc=models.DcSetpoint(voltage=volts, charge_current=amps),
    )


