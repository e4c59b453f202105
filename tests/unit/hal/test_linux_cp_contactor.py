"""Linux backends of the pilot (sysfs PWM + IIO) and the contactors (sysfs GPIO) on fake trees.

The fake trees are directories of attribute files laid out as the kernel's ABI documents them
(Documentation/ABI/testing/sysfs-class-pwm, sysfs-bus-iio, sysfs-gpio); the kernel itself
cannot run here, so what it would do on `export` is done by creating the directory up front.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from josev.api import models
from josev_hal.config import ContactorConfig, CpConfig, HalConfig
from josev_hal.contactor.base import ContactorMonitor, ContactorStatus
from josev_hal.contactor.linux import GpioContactorBank
from josev_hal.cp.base import CpMode
from josev_hal.cp.linux import PERIOD_NS, SysfsControlPilot
from josev_hal.station import EvseController, EvseDevices
from josev_hal.sysfs import SysfsError


def fake_sysfs(root: Path) -> Path:
    pwm = root / "class/pwm/pwmchip0/pwm0"
    pwm.mkdir(parents=True)
    (root / "class/pwm/pwmchip0/export").write_text("")
    for name in ("period", "duty_cycle", "enable", "polarity"):
        (pwm / name).write_text("0\n")
    iio = root / "bus/iio/devices/iio:device0"
    iio.mkdir(parents=True)
    (iio / "in_voltage_scale").write_text("0.805664062\n")  # 3.3 V / 4096, in mV
    for ch in range(3):
        (iio / f"in_voltage{ch}_raw").write_text("0\n")
    return root


def set_cp(root: Path, high_v: float, low_v: float, pp_v: float | None = None) -> None:
    """Put levels on the fake ADC as the front end (gain 10, offset -15) would show them."""
    iio = root / "bus/iio/devices/iio:device0"
    for ch, volts in ((0, high_v), (1, low_v)):
        adc_mv = (volts + 15.0) / 10.0 * 1000.0
        (iio / f"in_voltage{ch}_raw").write_text(f"{round(adc_mv / 0.805664062)}\n")
    if pp_v is not None:  # the PP divider goes straight to the ADC
        (iio / "in_voltage2_raw").write_text(f"{round(pp_v * 1000.0 / 0.805664062)}\n")


def cp_config(root: Path, **kw: object) -> CpConfig:
    return CpConfig.model_validate({"sysfs_root": root, "adc_gain": 10.0, "adc_offset": -15.0,
                                    "iio_channel_pp": 2, "pp_supply_v": 5.0,
                                    "pp_pullup_ohm": 330.0, **kw})


def duty_ns(root: Path) -> int:
    return int((root / "class/pwm/pwmchip0/pwm0/duty_cycle").read_text())


def test_pwm_outputs(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path)
    cp = SysfsControlPilot(cp_config(root))
    assert (root / "class/pwm/pwmchip0/pwm0/period").read_text().strip() == str(PERIOD_NS)
    assert (root / "class/pwm/pwmchip0/pwm0/enable").read_text().strip() == "1"
    assert duty_ns(root) == PERIOD_NS  # steady +12 V
    cp.set_output(CpMode.PWM, 5.0)
    assert duty_ns(root) == 50_000
    cp.set_output(CpMode.PWM, 53.33)
    assert duty_ns(root) == 533_300
    cp.set_output(CpMode.STATE_F)
    assert duty_ns(root) == 0
    cp.set_output(CpMode.STATE_E)  # no 0 V switch on this board: F, logged
    assert duty_ns(root) == 0


def test_inverted_pwm(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path)
    cp = SysfsControlPilot(cp_config(root, pwm_inverted=True))
    cp.set_output(CpMode.PWM, 5.0)
    assert duty_ns(root) == 950_000


def test_levels_and_pp(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path)
    cp = SysfsControlPilot(cp_config(root))
    # 220 Ohm against a 330 Ohm pull-up to 5 V: 2.0 V at the ADC
    set_cp(root, 9.0, -12.0, 2.0)
    r = cp.read(0.0)
    assert r.high_v == pytest.approx(9.0, abs=0.02)
    assert r.low_v == pytest.approx(-12.0, abs=0.02)
    assert r.pp_ohm == pytest.approx(220.0, rel=0.01)


def test_missing_channel_is_a_clear_error(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path)
    with pytest.raises(SysfsError, match="in_voltage7_raw"):
        SysfsControlPilot(cp_config(root, iio_channel_low=7))


def test_export_that_produces_nothing_is_an_error(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path)
    with pytest.raises(SysfsError, match="did not appear after export"):
        SysfsControlPilot(cp_config(root, pwm_channel=3))
    assert (root / "class/pwm/pwmchip0/export").read_text().strip() == "3"


def fake_gpio(root: Path, lines: tuple[int, ...] = (0, 1, 2)) -> Path:
    (root / "export").parent.mkdir(parents=True, exist_ok=True)
    (root / "export").write_text("")
    for n in lines:
        d = root / f"gpio{n}"
        d.mkdir()
        for name, value in (("value", "0"), ("direction", "in"), ("active_low", "0")):
            (d / name).write_text(value + "\n")
    return root


def test_gpio_contactors_feedback_and_estop(tmp_path: Path) -> None:
    root = fake_gpio(tmp_path / "gpio")
    bank = GpioContactorBank.from_config(ContactorConfig(gpio_root=root))
    assert (root / "gpio0/direction").read_text().strip() == "low"
    assert (root / "gpio2/active_low").read_text().strip() == "1"
    bank.command(True)
    assert (root / "gpio0/value").read_text().strip() == "1"
    assert bank.feedback(0.0) is False
    (root / "gpio1/value").write_text("1\n")  # the mirror contact follows
    assert bank.feedback(0.0) is True
    # The fake file holds the logical value (the kernel applies active_low on read).
    (root / "gpio2/value").write_text("1\n")
    assert bank.estop_pressed(0.0) is True
    assert bank.rcd_tripped(0.0) is False  # no RCD line configured
    (root / "gpio1/value").write_text("garbage\n")
    with pytest.raises(SysfsError, match="expected 0 or 1"):
        bank.feedback(0.0)


def test_rcd_line(tmp_path: Path) -> None:
    root = fake_gpio(tmp_path / "gpio", lines=(0, 5))
    bank = GpioContactorBank.from_config(ContactorConfig(
        gpio_root=root, feedback_line=None, estop_line=None, rcd_line=5))
    assert bank.rcd_tripped(0.0) is False
    (root / "gpio5/value").write_text("1\n")
    assert bank.rcd_tripped(0.0) is True
    assert bank.feedback(0.0) is None  # no mirror contact: the monitor trusts the command


def test_monitor_detects_welding_and_failure_to_close() -> None:
    m = ContactorMonitor(close_timeout_s=0.2, open_timeout_s=0.2)
    m.command(True, 0.0)
    assert m.status(False, 0.1) is ContactorStatus.OPENED  # still travelling
    assert m.status(False, 0.3) is ContactorStatus.ERROR and m.failed_to_close
    assert m.status(True, 0.35) is ContactorStatus.CLOSED and not m.failed_to_close
    m.command(False, 1.0)
    assert m.status(True, 1.1) is ContactorStatus.CLOSED
    assert m.status(True, 1.3) is ContactorStatus.ERROR and m.welded


def test_controller_on_the_linux_pilot(tmp_path: Path) -> None:
    """The EVSE controller sees B through the fake ADC and drives 5 % through the fake PWM."""
    root = fake_sysfs(tmp_path / "sys")
    groot = fake_gpio(tmp_path / "gpio")
    hal = HalConfig.model_validate({"evses": [{"kind": "ac", "connectors": [
        {"id": 1, "connector_type": "sType2"}]}]})
    cfg = hal.evses[0]

    from josev_hal.meter.sim import SimMeter
    from josev_hal.sim.world import SimEvse

    devices = EvseDevices(cp=SysfsControlPilot(cp_config(root)),
                          contactors=GpioContactorBank.from_config(
                              ContactorConfig(gpio_root=groot)),
                          meter=SimMeter(SimEvse()))
    ctl = EvseController(cfg, hal, devices, 0.0)
    set_cp(root, 9.0, 9.0, 2.0)
    for i in range(5):
        ctl.step(i * 0.005)
    assert ctl.cp_letter is not None and ctl.cp_letter.value == "B"
    assert ctl.cable_max_current() == 32.0  # 220 Ohm PP
    resp = ctl.cp_pwm(models.CpPwmRequest(evse_id=1, hlc=False, current=63.0,
                                          error_state=False, fault_state=False), 0.03)
    assert resp.status == "valid" and resp.info is not None and "32.0" in resp.info
    ctl.step(0.035)
    assert duty_ns(root) == round(PERIOD_NS * (32.0 / 0.6) / 100.0)
    set_cp(root, 6.0, -12.0, 2.0)  # EV closes S2: C
    for i in range(8, 14):
        ctl.step(i * 0.005)
    assert (groot / "gpio0/value").read_text().strip() == "1"  # contactor commanded


def test_unreadable_pilot_trips_and_opens(tmp_path: Path) -> None:
    """The ADC vanishing mid-charge (driver unbound, bus error) must not freeze the path."""
    root = fake_sysfs(tmp_path / "sys")
    groot = fake_gpio(tmp_path / "gpio")
    hal = HalConfig.model_validate({"evses": [{"kind": "ac", "connectors": [
        {"id": 1, "connector_type": "sType2"}]}]})
    from josev_hal.meter.sim import SimMeter
    from josev_hal.sim.world import SimEvse
    from josev_hal.supervisor import TripReason

    devices = EvseDevices(cp=SysfsControlPilot(cp_config(root)),
                          contactors=GpioContactorBank.from_config(
                              ContactorConfig(gpio_root=groot, feedback_line=None)),
                          meter=SimMeter(SimEvse()))
    ctl = EvseController(hal.evses[0], hal, devices, 0.0)
    set_cp(root, 6.0, -12.0, 2.0)
    for i in range(4):
        ctl.step(i * 0.005)
    answer = ctl.cp_pwm(models.CpPwmRequest(evse_id=1, hlc=False, current=16.0,
                                            error_state=False, fault_state=False), 0.02)
    assert answer.status == "valid"
    for i in range(4, 10):
        ctl.step(i * 0.005)
    assert (groot / "gpio0/value").read_text().strip() == "1"
    (root / "bus/iio/devices/iio:device0/in_voltage0_raw").unlink()
    out = ctl.step(0.06)
    assert (groot / "gpio0/value").read_text().strip() == "0"
    assert duty_ns(root) == 0  # F
    assert ctl.supervisor.trips[-1][1] is TripReason.SENSOR_FAULT
    assert any(o.name == "notify_event" for o in out)
    assert ctl.status_code() == "evse_malfunction"


def test_gpio_connector_lock(tmp_path: Path) -> None:
    from josev_hal.contactor.linux import GpioConnectorLock

    root = fake_gpio(tmp_path / "gpio", lines=(6, 7))
    lock = GpioConnectorLock.from_config(ContactorConfig(gpio_root=root, lock_line=6,
                                                         lock_feedback_line=7))
    lock.command(True)
    assert (root / "gpio6/value").read_text().strip() == "1"
    assert lock.feedback(0.0) is False  # the switch has not moved yet
    (root / "gpio7/value").write_text("1\n")
    assert lock.feedback(0.0) is True
    with pytest.raises(ValueError, match="lock_line"):
        GpioConnectorLock.from_config(ContactorConfig(gpio_root=root))
