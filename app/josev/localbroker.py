"""Run a private mosquitto on loopback: for the simulator, the demo and the tests.

On the station the broker is a systemd unit with its own configuration; this is for running the
stack anywhere else. It listens on 127.0.0.1 only. With `users`, every client must log in (one
user per service, passwords generated per run); anonymous access is for tests only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path


class BrokerError(Exception):
    """mosquitto is missing or did not come up; the message says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(name: str) -> str:
    for cand in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if cand and Path(cand).exists():
            return cand
    raise BrokerError(f"{name} is not installed (Debian package mosquitto; ./dev installs it)")


class Broker:
    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        users: list[str] | None = None,
        extra_config: str = "",
        persistence: bool = False,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.users = users
        self.extra_config = extra_config
        self.persistence = persistence
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.password_files: dict[str, Path] = {}
        if users:
            self._make_users(users)

    def _make_users(self, users: list[str]) -> None:
        passwd = self.workdir / "passwd"
        passwd.unlink(missing_ok=True)
        passwd.touch(mode=0o600)
        for user in users:
            password = secrets.token_urlsafe(24)
            subprocess.run(
                [_binary("mosquitto_passwd"), "-b", str(passwd), user, password],
                check=True,
                capture_output=True,
            )
            secret = self.workdir / f"{user}.password"
            secret.touch(mode=0o600)
            secret.write_text(password + "\n")
            self.password_files[user] = secret

    def write_config(self) -> None:
        auth = (
            f"allow_anonymous false\npassword_file {self.workdir / 'passwd'}\n"
            if self.users
            else "allow_anonymous true\n"
        )
        # Started as root (CI, the demo under sudo), mosquitto would switch to its own user and
        # could not read our private work folder; this broker is ours alone, on loopback.
        user = "user root\n" if os.geteuid() == 0 else ""
        # With persistence the broker keeps sessions (subscriptions, queued QoS 1 messages)
        # across its own restart, as the station's broker does on the data partition.
        keep = (
            f"persistence true\npersistence_location {self.workdir}/\n"
            if self.persistence
            else "persistence false\n"
        )
        self.config.write_text(
            f"listener {self.port} {self.host}\n{user}{auth}{keep}"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"{self.extra_config}"
        )

    def start(self, timeout: float = 10.0) -> None:
        self.write_config()
        self.proc = subprocess.Popen(
            [_binary("mosquitto"), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.log.read_text() if self.log.exists() else ""
                raise BrokerError(f"mosquitto exited with {self.proc.returncode}: {text}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise BrokerError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
