"""`josev-hal run` as a process: READY=1 over NOTIFY_SOCKET once serving, the `sim` commands
drive it, SIGTERM stops it cleanly with the hardware left safe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
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
    sock.settimeout(0.2)
    seen: list[str] = []
    draining = threading.Event()

    def drain() -> None:  # as systemd does: read every notification as it comes
        while not draining.is_set():
            with contextlib.suppress(TimeoutError):
                seen.append(sock.recv(256).decode())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    config = tmp_path / "josev.toml"
    config.write_text(f'[hal.tpm]\nbackend = "file"\nkey_dir = "{tmp_path / "keys"}"\n')
    env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "2000000"}
    broker = ["--host", mosquitto.host, "--port", str(mosquitto.port)]
    log = (tmp_path / "hal.log").open("wb")  # a file, not a pipe nobody drains
    proc = subprocess.Popen(_hal("run", "--config", str(config), *broker), env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: "READY=1" in seen, "READY=1")
        _wait(lambda: "WATCHDOG=1" in seen, "WATCHDOG=1")
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
        _wait(lambda: "STOPPING=1" in seen, "STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        draining.set()
        reader.join(2)
        sock.close()
        log.close()


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until `predicate()`; the bound only guards against a hang, it asserts no timing."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


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
