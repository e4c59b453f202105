"""DC power modules on a python-can 'virtual' bus: our drivers against the module simulator.

The kernel here has no vcan; python-can's virtual interface carries the same can.Message
frames between two Bus objects, so driver and simulator exchange real protocol frames.
Time is the simulator's clock (both sides take `now`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import can
import pytest

from josev_hal.config import PowerConfig
from josev_hal.power import infypower, winline
from josev_hal.power.can_supply import CanModuleSupply
from josev_hal.power.modsim import ModuleSimulator

_channels = itertools.count()
Protocol = Literal["infypower", "winline"]


class Rig:
    def __init__(self, protocol: Protocol, addresses: list[int]) -> None:
        channel = f"josev-hal-test-{next(_channels)}"
        cfg = PowerConfig(backend=protocol, module_addresses=addresses, ramp_a_per_s=500.0)
        self.sim_bus = can.Bus(interface="virtual", channel=channel)
        bus = can.Bus(interface="virtual", channel=channel)
        codec = infypower.InfyPowerCodec() if protocol == "infypower" else winline.WinlineCodec()
        self.supply = CanModuleSupply(bus, codec, cfg)
        self.sim = ModuleSimulator(self.sim_bus, protocol, addresses, load_ohm=3.0)
        self.now = 0.0

    def run(self, seconds: float, dt: float = 0.01, driver: bool = True) -> None:
        end = self.now + seconds
        while self.now < end:
            if driver:
                self.supply.poll(self.now)
            self.sim.poll(self.now)
            if driver:
                self.supply.poll(self.now)  # take the answers in the same step
            self.now += dt

    def close(self) -> None:
        self.supply.close()
        self.sim_bus.shutdown()


@pytest.fixture(params=["infypower", "winline"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    r = Rig(request.param, [1, 2])
    try:
        yield r
    finally:
        r.close()


def test_parallel_modules_share_and_ramp(rig: Rig) -> None:
    rig.run(0.2)  # modules answer polls: both online
    rig.supply.set_output(True, 400.0, 100.0, rig.now)
    rig.run(0.1)
    partial = rig.supply.measure(rig.now).current
    assert 0.0 < partial < 100.0  # ramping at 500 A/s, not a step
    rig.run(0.5)
    m = rig.supply.measure(rig.now)
    assert m.current == pytest.approx(100.0, abs=0.5)
    assert m.voltage == pytest.approx(300.0, abs=2.0)  # CC into 3 Ohm
    assert m.faults == ()
    shares = [mod.i_set for mod in rig.sim.modules.values()]
    assert shares == pytest.approx([50.0, 50.0], abs=0.5)
    rig.supply.set_output(False, 0.0, 0.0, rig.now)
    rig.run(0.05)
    assert not any(mod.on for mod in rig.sim.modules.values())  # off at once, not ramped
    assert rig.supply.measure(rig.now).current == 0.0


def test_keepalive_keeps_modules_on_and_silence_switches_them_off(rig: Rig) -> None:
    rig.supply.set_output(True, 400.0, 30.0, rig.now)
    rig.run(30.0, dt=0.05)  # unchanged setpoint for 30 s: the keep-alive carries it
    assert all(mod.on for mod in rig.sim.modules.values())
    rig.run(10.5, dt=0.05, driver=False)  # the controller dies
    assert not any(mod.on for mod in rig.sim.modules.values())


def test_fault_bits_become_supply_faults(rig: Rig) -> None:
    rig.supply.set_output(True, 400.0, 60.0, rig.now)
    rig.run(0.5)
    rig.sim.modules[2].faults.add("over-temperature")
    rig.run(1.5)
    faults = rig.supply.measure(rig.now).faults
    assert "module 2: over-temperature" in faults


def test_a_silent_module_is_reported_and_the_rest_carry_the_load(rig: Rig) -> None:
    rig.supply.set_output(True, 400.0, 60.0, rig.now)
    rig.run(0.5)
    rig.sim.modules[2].mute = True
    rig.sim.modules[2].on = False
    rig.run(5.0)
    m = rig.supply.measure(rig.now)
    assert "module 2: no response" in m.faults
    assert rig.sim.modules[1].i_set == pytest.approx(60.0, abs=0.5)


def test_malformed_frames_are_counted_not_fatal() -> None:
    r = Rig("infypower", [1])
    try:
        bad = can.Message(arbitration_id=infypower.can_id(infypower.CMD_READ_VI, 0xF0, 1),
                          data=b"\x01\x02", is_extended_id=True)
        r.sim_bus.send(bad)
        nan = can.Message(arbitration_id=infypower.can_id(infypower.CMD_READ_VI, 0xF0, 1),
                          data=b"\x7f\xc0\x00\x00\x00\x00\x00\x00", is_extended_id=True)
        r.sim_bus.send(nan)
        r.supply.poll(0.0)
        assert r.supply.bad_frames == 2
    finally:
        r.close()


def test_frame_layouts() -> None:
    """Byte-exact frames as documented in standards.md."""
    (m,) = infypower.InfyPowerCodec().set_output(3, 500.0, 20.5)
    assert m.arbitration_id == 0x0A << 22 | 0x1C << 16 | 0x03 << 8 | 0xF0
    assert bytes(m.data) == bytes.fromhex("0007a120" "00005014")
    (on,) = infypower.InfyPowerCodec().on_off(3, True)
    assert bytes(on.data)[0] == 0
    v, i = winline.WinlineCodec().set_output(5, 400.0, 10.0)
    assert v.arbitration_id == 0x060 << 20 | 1 << 19 | 5 << 11 | 0xF0 << 3
    assert bytes(v.data) == bytes.fromhex("03000021" "43c80000")
    assert bytes(i.data) == bytes.fromhex("0300001b" "00002800")


def test_station_reports_module_faults(tmp_path: Path) -> None:
    """The service on InfyPower modules: a module fault -> evse_malfunction + notify_event."""
    from josev_hal.config import HalConfig
    from josev_hal.service import HalService
    from josev_hal.sim.scenario import SimClock

    channel = f"josev-hal-test-{next(_channels)}"
    cfg = HalConfig.model_validate({
        "tpm": {"backend": "file", "key_dir": str(tmp_path)},
        "evses": [{"power": {"backend": "infypower", "can_interface": "virtual",
                             "can_channel": channel, "module_addresses": [1, 2]}}],
    })
    clock = SimClock()
    service = HalService(cfg, clock=clock)
    sim = ModuleSimulator(can.Bus(interface="virtual", channel=channel), "infypower", [1, 2])
    try:
        events: list[str] = []

        def run(seconds: float) -> None:
            end = clock.t + seconds
            while clock.t < end:
                for o in service.step(clock.t):
                    if o.name == "notify_event":
                        events.append(str(o.model.tech_info))  # type: ignore[attr-defined]
                sim.poll(clock.t)
                clock.t += 0.005

        run(0.5)
        assert service.controllers[1].status_code() == "evse_ready"
        sim.modules[1].faults.add("fan fault")
        run(0.5)
        assert service.controllers[1].status_code() == "evse_malfunction"
        assert "module 1: fan fault" in events
        limits = service.status_and_limits()[0]
        assert limits.status_code == "evse_malfunction"
    finally:
        sim.bus.shutdown()
        service.controllers[1].dev.supply.close()  # type: ignore[union-attr]


@pytest.mark.slow  # a second Python process and slcan over ptys: ~10 s on a loaded box
def test_module_simulator_in_another_process_over_slcan(tmp_path: Path) -> None:
    """The simulator as its own process (`josev-hal sim modules`), slcan over joined ptys."""
    import subprocess
    import sys
    import time

    from josev_hal.power.ptylink import PtyLink

    link = PtyLink()
    log = (tmp_path / "modules.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "josev_hal.cli", "sim", "modules", "--protocol", "winline",
         "--channel", link.b_path, "--addresses", "3,4", "--load-ohm", "3"],
        stdout=log, stderr=subprocess.STDOUT)
    bus = can.Bus(interface="slcan", channel=link.a_path, bitrate=125000)
    supply = CanModuleSupply(bus, winline.WinlineCodec(),
                             PowerConfig(module_addresses=[3, 4], ramp_a_per_s=500.0))
    try:
        supply.set_output(True, 400.0, 60.0, time.monotonic())
        end = time.monotonic() + 60.0  # bounds a hang only; no timing is asserted
        while supply.measure(time.monotonic()).current < 59.5:
            assert proc.poll() is None, (tmp_path / "modules.log").read_text()
            assert time.monotonic() < end, "no current from the module process"
            supply.poll(time.monotonic())
            time.sleep(0.01)
        m = supply.measure(time.monotonic())
        assert m.voltage == pytest.approx(180.0, abs=2.0)  # 60 A into 3 Ohm
        assert m.faults == ()
    finally:
        supply.close()
        proc.terminate()
        proc.wait(10)
        log.close()
        link.close()
