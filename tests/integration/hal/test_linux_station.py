"""The whole station on its Linux backends, every one on a stand-in for the real hardware.

Pilot and PP on a fake sysfs/IIO tree, contactors on a fake GPIO tree (a task plays the
mirror contact), two InfyPower modules simulated on a python-can virtual bus, the meter on a
real Modbus TCP server, the isoCHA425 and a PN532 on ptys, the service on mosquitto: a DC
session driven through the Josev API exactly as josev-iso15118 would.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import time
import tty
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import can
import pytest

from josev.api import models
from josev_hal.config import DEFAULT_REGISTERS, HalConfig
from josev_hal.isolation.imdsim import ImdSimulator
from josev_hal.meter.modsim import MeterServer
from josev_hal.power.modsim import ModuleSimulator
from josev_hal.rfid.pn532sim import Pn532Simulator
from josev_hal.service import HalService
from tests.broker import Broker
from tests.integration.hal.conftest import running_hal, wait_for
from tests.unit.hal.test_linux_cp_contactor import duty_ns, fake_gpio, fake_sysfs, set_cp


@contextlib.asynccontextmanager
async def hardware(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    sys_root = fake_sysfs(tmp_path / "sys")
    gpio_root = fake_gpio(tmp_path / "gpio")
    set_cp(sys_root, 12.0, 12.0)
    channel = f"josev-hal-linux-{os.getpid()}-{id(tmp_path)}"
    modules = ModuleSimulator(can.Bus(interface="virtual", channel=channel), "infypower",
                              [1, 2], load_ohm=1e6)
    meter = MeterServer(unit=1)
    for name, value in (("voltage_l1", 230.0), ("voltage_l2", 230.0), ("voltage_l3", 230.0),
                        ("energy_import_wh", 4321.0), ("power_factor", 0.99),
                        ("frequency", 50.0)):
        meter.set(DEFAULT_REGISTERS[name], value)
    for name in DEFAULT_REGISTERS:
        if name not in ("voltage_l1", "voltage_l2", "voltage_l3", "energy_import_wh",
                        "power_factor", "frequency"):
            meter.set(DEFAULT_REGISTERS[name], 0.0)
    meter_port = await meter.start()
    fds = [os.openpty(), os.openpty()]
    for master, slave in fds:
        tty.setraw(master)
        tty.setraw(slave)
    imd = ImdSimulator(fds[0][0], unit=3, resistance_ohm=5e6, voltage=500.0, measure_s=0.3)
    pn532 = Pn532Simulator(fds[1][0])

    async def physics() -> None:
        while True:
            modules.poll(time.monotonic())
            # The mirror contact follows the coil.
            (gpio_root / "gpio1/value").write_text((gpio_root / "gpio0/value").read_text())
            await asyncio.sleep(0.005)

    task = asyncio.create_task(physics())
    cfg = {
        "backend": "linux",
        "cp": {"sysfs_root": str(sys_root), "adc_gain": 10.0, "adc_offset": -15.0},
        "contactor": {"gpio_root": str(gpio_root), "estop_active_low": False},
        "power": {"backend": "infypower", "can_interface": "virtual", "can_channel": channel,
                  "module_addresses": [1, 2]},
        "meter": {"backend": "modbus_tcp", "port": meter_port},
        "isolation": {"backend": "bender_isocha425", "serial_port": os.ttyname(fds[0][1])},
        "rfid": {"readers": [{"kind": "pn532", "serial_port": os.ttyname(fds[1][1])}]},
    }
    try:
        yield {"evse": cfg, "sys": sys_root, "gpio": gpio_root, "modules": modules,
               "pn532": pn532}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        imd.close()
        pn532.close()
        await meter.stop()
        modules.bus.shutdown()
        for master, slave in fds:
            os.close(master)
            os.close(slave)


async def test_dc_session_on_linux_backends(mosquitto: Broker, tmp_path: Path) -> None:
    async with hardware(tmp_path) as hw:
        evse = {k: v for k, v in hw["evse"].items() if k != "backend"}
        cfg = HalConfig.model_validate({
            "backend": "linux",
            "mqtt": {"host": mosquitto.host, "port": mosquitto.port},
            "tpm": {"backend": "file", "key_dir": str(tmp_path / "keys")},
            "evses": [evse],
        })
        service = HalService(cfg)
        assert not service.simulated
        got: list[models.AuthorizationRequest] = []

        async def authorize(req: models.AuthorizationRequest) -> models.AuthorizationResponse:
            got.append(req)
            return models.AuthorizationResponse(status="accepted")

        async with running_hal(service, mosquitto) as hal:
            josev = hal.josev
            josev.on_request("authorization", authorize)
            hw["pn532"].present("04C0FFEE112233")
            await wait_for(lambda: bool(got), "card tap", timeout=15)

            set_cp(hw["sys"], 9.0, 9.0)  # EV plugged: B
            await wait_for(lambda: any(u.state == "B1" for u in hal.seen("cp_status")), "B1")
            await josev.request("cp_pwm", models.CpPwmRequest(
                evse_id=1, hlc=True, error_state=False, fault_state=False))
            await wait_for(lambda: duty_ns(hw["sys"]) == 50_000, "5 % on the PWM")
            set_cp(hw["sys"], 6.0, -12.0)  # C, diode present
            await wait_for(lambda: any(u.state == "C2" for u in hal.seen("cp_status")), "C2")

            await josev.request("cable_check", models.CableCheckRequest(
                evse_id=1, cable_check_action="start"))
            status = models.CableCheckRequest(evse_id=1, cable_check_action="status")
            async with asyncio.timeout(20):
                while (r := await josev.request("cable_check", status)).cable_check_status != "finished":  # noqa: ASYNC110, E501 - polled like josev-iso15118
                    await asyncio.sleep(0.1)
            assert r.isolation_level == "valid"
            # Contactors stay closed for precharge; the test voltage is off again.
            assert (hw["gpio"] / "gpio0/value").read_text().strip() == "1"
            assert not any(m.on for m in hw["modules"].modules.values())

            # The EV closes its contactor: a battery-like load; 60 A over two modules.
            hw["modules"].load_ohm = 4.0
            answer = await josev.request("power_electronics_setpoint",
                                         models.PowerElectronicsSetpointRequest(
                                             evse_id=1, ev_limits=models.EvLimits(
                                                 maximum_voltage=450.0),
                                             dc=models.DcSetpoint(voltage=400.0,
                                                                  charge_current=60.0)))
            assert answer.status == "accepted"
            await wait_for(lambda: all(abs(m.i_set - 30.0) < 0.5
                                       for m in hw["modules"].modules.values()), "shared")
            await wait_for(lambda: any(u.evses[0].dc.present_current > 55.0
                                       for u in hal.seen("cs_status_and_limits")), "current")
            meter = await josev.request("meter_values", models.MeterValuesRequest(
                timestamp=dt.datetime.now(dt.UTC), evse_id=1))
            assert meter.total_active_energy_imported == pytest.approx(4321.0, abs=0.01)

            await josev.update("iso15118_state_info", models.Iso15118StateInfoUpdate(
                evse_id=1, session_status="WeldingDetection"))
            await wait_for(lambda: (hw["gpio"] / "gpio0/value").read_text().strip() == "0",
                           "contactor opened")
            assert not any(m.on for m in hw["modules"].modules.values())
            assert service.controllers[1].supervisor.trips == []
