"""josev-ota as a process: logs in to a password-protected broker, READY, firmware_status Idle."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiomqtt

from josev.localbroker import Broker


async def test_ota_logs_in_reports_idle_and_notifies_ready(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker", users=["ota", "watcher"])
    broker.start()
    notify = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.setblocking(False)
    try:
        watcher_pw = broker.password_files["watcher"].read_text().strip()
        async with aiomqtt.Client(
            broker.host, broker.port, username="watcher", password=watcher_pw
        ) as watcher:
            await watcher.subscribe("cs/josev", qos=1)
            proc = await asyncio.create_subprocess_exec(
                *[
                    sys.executable,
                    "-m",
                    "josev_ota.cli",
                    "--rauc",
                    str(tmp_path / "no-rauc"),
                    "run",
                    "--host",
                    broker.host,
                    "--port",
                    str(broker.port),
                    "--username",
                    "ota",
                    "--password-file",
                    str(broker.password_files["ota"]),
                ],
                env={"NOTIFY_SOCKET": str(notify), "PATH": "/usr/bin:/bin"},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            async with asyncio.timeout(20):
                async for message in watcher.messages:
                    assert isinstance(message.payload, bytes)
                    msg = json.loads(message.payload)
                    if msg["name"] == "firmware_status":
                        break
            assert msg["type"] == "update" and msg["data"] == {"status": "Idle"}
            loop = asyncio.get_running_loop()
            states = []
            async with asyncio.timeout(10):
                while b"READY=1" not in states:
                    states.append(await loop.sock_recv(sock, 100))
            proc.send_signal(signal.SIGTERM)
            out, _ = await asyncio.wait_for(proc.communicate(), 10)
            assert proc.returncode == 0, out.decode()
            assert b"RAUC not available" in out  # a clear line, not a crash, without RAUC
    finally:
        sock.close()
        broker.stop()


def test_ota_refuses_an_unreadable_password_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "josev_ota.cli",
            "run",
            "--username",
            "ota",
            "--password-file",
            str(tmp_path / "missing"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 78
    assert "password_file" in proc.stderr
