"""`josev-hal run` as a process: READY=1 over NOTIFY_SOCKET once serving, the `sim` commands
drive it, SIGTERM stops it cleanly with the hardware left safe."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from josev_hal.sim.client import SimClient
from josev_hal.sim.protocol import StationState
from tests.broker import Broker


def _hal(*args: str) -> list[str]:
    return [sys.executable, "-m", "josev_hal.cli", *args]


def test_run_notifies_ready_and_sim_commands_work(mosquitto: Broker, tmp_path: Path) -> None:
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.settimeout(30)
    config = tmp_path / "josev.toml"
    config.write_text(f'[hal.tpm]\nbackend = "file"\nkey_dir = "{tmp_path / "keys"}"\n')
    env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "2000000"}
    broker = ["--host", mosquitto.host, "--port", str(mosquitto.port)]
    log = (tmp_path / "hal.log").open("wb")  # a file, not a pipe nobody drains
    proc = subprocess.Popen(_hal("run", "--config", str(config), *broker), env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        seen: list[str] = []
        while "READY=1" not in seen:
            seen.append(sock.recv(256).decode())
        while not any(s.startswith("WATCHDOG=1") for s in seen):
            seen.append(sock.recv(256).decode())
        plug = subprocess.run(_hal("sim", "plug", *broker), capture_output=True, timeout=30)
        assert plug.returncode == 0, plug.stderr
        out = subprocess.run(_hal("sim", "state", *broker), capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        state = json.loads(out.stdout)
        assert set(state) >= {"cp_mode", "plugged", "contactors_closed", "dc_voltage"}
        plugged = asyncio.run(_plugged(mosquitto))
        assert plugged.plugged and plugged.cp_voltage == 9.0
        bad = subprocess.run(_hal("sim", "cp", "X", *broker), capture_output=True, timeout=30)
        assert bad.returncode == 2  # argparse refuses an unknown CP state
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        sock.settimeout(0)
        after: list[str] = []
        try:
            while True:
                after.append(sock.recv(256).decode())
        except BlockingIOError:
            pass
        assert "STOPPING=1" in after
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        log.close()


async def _plugged(broker: Broker) -> StationState:
    async with SimClient(broker.host, broker.port) as sim:
        return await sim.wait_for(lambda s: s.plugged)


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "josev.toml"
    config.write_text('[hal]\nbackend = "lunix"\n')
    out = subprocess.run(_hal("run", "--config", str(config)), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert "hal.backend" in out.stderr
