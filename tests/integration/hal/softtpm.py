"""A software TPM for tests: swtpm behind tpm2-abrmd on a private D-Bus session bus.

Exactly the stack of the station (TPM -> tpm2-abrmd -> TCTI "tabrmd"), with swtpm in place of
the chip. Every process is ours, started here and stopped by its own handle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from tests.broker import free_port

PACKAGES = "swtpm, tpm2-abrmd, libtss2-tcti-tabrmd0, dbus (.ci/packages-test-hal.txt)"


class SoftTpm:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.bus_name = f"com.intel.tss2.Tabrmd.t{uuid.uuid4().hex[:8]}"
        self.dbus_address = ""

    @property
    def tcti(self) -> str:
        return f"tabrmd:bus_type=session,bus_name={self.bus_name}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.dbus_address,
                "TPM2OPENSSL_TCTI": self.tcti}

    def start(self) -> None:
        for tool in ("swtpm", "dbus-daemon", "tpm2-abrmd"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise RuntimeError(f"{tool} missing: ./dev test installs {PACKAGES}")
        state = self.workdir / "state"
        state.mkdir(parents=True, exist_ok=True)
        port = free_port()
        ctrl = port + 1  # the swtpm TCTI finds the control channel at port + 1
        self.procs.append(subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}",
             "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={ctrl},bindaddr=127.0.0.1",
             "--flags", "not-need-init,startup-clear"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        dbus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.procs.append(dbus)
        assert dbus.stdout is not None
        self.dbus_address = dbus.stdout.readline().decode().strip()
        if not self.dbus_address:
            raise RuntimeError("dbus-daemon gave no address")
        time.sleep(0.2)  # swtpm binds its port
        abrmd = shutil.which("tpm2-abrmd") or "/usr/sbin/tpm2-abrmd"
        self.procs.append(subprocess.Popen(
            [abrmd, "--session", "--allow-root", f"--dbus-name={self.bus_name}",
             f"--tcti=swtpm:host=127.0.0.1,port={port}"],
            env=self.env(), stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "abrmd.log").open("wb")))
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15.0) -> None:
        from tpm2_pytss import ESAPI, TCTILdr

        os.environ["DBUS_SESSION_BUS_ADDRESS"] = self.dbus_address
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                ctx = ESAPI(TCTILdr("tabrmd", self.tcti.split(":", 1)[1]))
                ctx.get_random(4)
                ctx.close()
                return
            except Exception as exc:  # the broker is not on the bus yet
                last = exc
                time.sleep(0.1)
        raise RuntimeError(f"tpm2-abrmd did not come up: {last}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
