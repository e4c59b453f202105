"""SIGTERM to a real josev-hal process after activity: it powers down, stops and exits 0.

The bounds below only guard against a hang (the service must not outlive systemd's patience);
nothing here asserts how fast it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from josev.api import ApiClient, models
from josev_hal.sim import protocol as simp
from josev_hal.sim.client import SimClient
from tests.broker import Broker
from tests.integration.hal.uploadserver import UploadServer

HANG_GUARD_S = 60.0


@contextlib.contextmanager
def _hal_process(broker: Broker, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    config = tmp_path / "josev.toml"
    config.write_text(
        f'[hal.tpm]\nbackend = "file"\nkey_dir = "{tmp_path / "keys"}"\n'
        f'[hal.logs]\ndata_dir = "{tmp_path / "archives"}"\nlog_dir = "{tmp_path / "varlog"}"\n'
        f'journal_directory = "{tmp_path / "journal"}"\n'
        '[[hal.evses]]\n[hal.evses.isolation]\ntest_duration_s = 0.3\n'
    )
    log_path = tmp_path / "hal.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "josev_hal.cli", "run", "--config", str(config),
             "--host", broker.host, "--port", str(broker.port)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        end = time.monotonic() + HANG_GUARD_S
        while "josev-hal ready" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < end, "josev-hal never became ready"
            time.sleep(0.05)
        yield proc, log_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _setpoint(volts: float, amps: float, pre: bool = False) -> models.ApiModel:
    return models.PowerElectronicsSetpointRequest(
        evse_id=1, ev_limits=models.EvLimits(maximum_voltage=450.0), is_precharge=pre,
        dc=models.DcSetpoint(voltage=volts, charge_current=amps))


async def _charge_then_sigterm(broker: Broker, proc: subprocess.Popen[bytes],
                               upload_url: str) -> int:
    """Charge at 100 A with setpoints streaming and a log upload hanging, then SIGTERM."""
    josev = ApiClient({"josev"}, host=broker.host, port=broker.port, backoff_max=0.5)
    async with josev, SimClient(broker.host, broker.port) as sim:
        await josev.wait_connected(30)
        await sim.send(simp.Plug())
        await sim.send(simp.SetBattery(voltage=380.0))
        await sim.send(simp.SetCp(state="C"))
        await josev.request("cp_pwm", models.CpPwmRequest(
            evse_id=1, hlc=True, error_state=False, fault_state=False), timeout=30)
        await sim.wait_for(lambda s: s.ev_cp_state == "C" and s.cp_mode == "pwm")
        await josev.request("cable_check", models.CableCheckRequest(
            evse_id=1, cable_check_action="start"), timeout=30)
        status = models.CableCheckRequest(evse_id=1, cable_check_action="status")
        while (await josev.request("cable_check", status, timeout=30)).cable_check_status \
                != "finished":  # noqa: ASYNC110 - polled as josev-iso15118 polls it
            await asyncio.sleep(0.05)
        await josev.request("power_electronics_setpoint", _setpoint(380.0, 2.0, True),
                            timeout=30)
        await sim.wait_for(lambda s: s.contactors_closed and abs(s.dc_voltage - 380.0) < 5)

        async def keep_asking() -> None:
            while True:
                with contextlib.suppress(Exception):
                    await josev.request("power_electronics_setpoint", _setpoint(400.0, 100.0),
                                        timeout=5)
                await asyncio.sleep(0.02)

        asker = asyncio.create_task(keep_asking())
        await sim.wait_for(lambda s: s.dc_current > 95.0)
        up = await josev.request("upload_logs", models.UploadLogsRequest(
            request_id=1, log_type="DiagnosticsLog", remote_location=upload_url), timeout=30)
        assert up.status == "accepted"
        await asyncio.sleep(0.5)  # the upload is in flight, its server says nothing
        proc.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, proc.wait, HANG_GUARD_S)
        finally:
            asker.cancel()


def test_sigterm_while_charging_powers_down_and_exits_0(
    mosquitto: Broker, tmp_path: Path
) -> None:
    stall = threading.Event()
    server = UploadServer(stall=stall).start()
    try:
        with _hal_process(mosquitto, tmp_path) as (proc, log_path):
            rc = asyncio.run(_charge_then_sigterm(mosquitto, proc, server.url))
            text = log_path.read_text(errors="replace")
    finally:
        server.stop()
    assert server.attempts >= 1  # the upload was hanging when the signal came
    assert rc == 0, text[-3000:]
    assert "SIGTERM received" in text
    after = text[text.index("josev-hal stopping"):]
    assert "shutdown: power path open, supply off, pilot F" in after
    assert "contactors open" in after
    assert "josev-hal stopped" in after
    assert "left behind" not in after and "Traceback" not in text


def test_sigterm_with_the_broker_gone_exits_0(mosquitto: Broker, tmp_path: Path) -> None:
    """At power-off systemd may stop mosquitto first: the clients are reconnecting then."""
    with _hal_process(mosquitto, tmp_path) as (proc, log_path):
        mosquitto.stop()
        end = time.monotonic() + HANG_GUARD_S
        while "broker connection lost" not in log_path.read_text(errors="replace"):
            assert time.monotonic() < end, "josev-hal did not notice the broker leaving"
            time.sleep(0.05)
        time.sleep(0.5)  # into the reconnect back-off
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(HANG_GUARD_S)
        text = log_path.read_text(errors="replace")
    assert rc == 0, text[-3000:]
    assert "josev-hal stopped" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_right_after_start_exits_0(
    mosquitto: Broker, tmp_path: Path, sig: signal.Signals
) -> None:
    with _hal_process(mosquitto, tmp_path) as (proc, log_path):
        proc.send_signal(sig)
        rc = proc.wait(HANG_GUARD_S)
        text = log_path.read_text(errors="replace")
    assert rc == 0, text[-3000:]
    assert f"{sig.name} received" in text and "josev-hal stopped" in text
