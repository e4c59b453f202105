"""Linux backend: the pilot's PWM through sysfs PWM, its levels (and PP) through an IIO ADC.

PWM: /sys/class/pwm/pwmchipN/pwmM/{period,duty_cycle,enable,polarity}, times in ns, 1 kHz.
The CP front end maps PWM high to +12 V and low to -12 V, so a steady +12 V is 100 % duty
and state F (-12 V) is 0 %. State E (0 V) needs extra hardware this backend does not drive:
it is signalled as F (also "not available" to the EV) and logged.
ADC: /sys/bus/iio/devices/iio:deviceN/in_voltageX_raw times in_voltageX_scale (or the
shared in_voltage_scale) gives mV at the ADC; the front end's gain and offset give CP volts.
Both roots are parameters, so tests run on a fake tree.
"""

from __future__ import annotations

import logging
from pathlib import Path

from josev_hal import sysfs
from josev_hal.config import CpConfig
from josev_hal.cp.base import ControlPilot, CpMode, CpReading
from josev_hal.cp.iec61851 import pp_resistance

log = logging.getLogger(__name__)

PERIOD_NS = 1_000_000  # 1 kHz (IEC 61851-1)


class IioChannel:
    def __init__(self, device: Path, channel: int) -> None:
        self.raw = device / f"in_voltage{channel}_raw"
        own = device / f"in_voltage{channel}_scale"
        self.scale_path = own if own.exists() else device / "in_voltage_scale"
        self.offset_path = device / f"in_voltage{channel}_offset"
        self.scale = sysfs.read_float(self.scale_path)
        self.offset = sysfs.read_float(self.offset_path) if self.offset_path.exists() else 0.0
        if not self.raw.exists():
            raise sysfs.SysfsError(f"{self.raw}: no such IIO channel")

    def volts(self) -> float:
        """(raw + offset) * scale is mV in the IIO ABI."""
        return (sysfs.read_float(self.raw) + self.offset) * self.scale / 1000.0


class SysfsControlPilot(ControlPilot):
    def __init__(self, cfg: CpConfig) -> None:
        self.cfg = cfg
        chip = cfg.sysfs_root / "class" / "pwm" / f"pwmchip{cfg.pwm_chip}"
        self.pwm = chip / f"pwm{cfg.pwm_channel}"
        sysfs.export(chip, self.pwm, cfg.pwm_channel)
        iio = cfg.sysfs_root / "bus" / "iio" / "devices" / f"iio:device{cfg.iio_device}"
        self.high = IioChannel(iio, cfg.iio_channel_high)
        self.low = IioChannel(iio, cfg.iio_channel_low)
        self.pp = IioChannel(iio, cfg.iio_channel_pp) if cfg.iio_channel_pp is not None else None
        sysfs.write(self.pwm / "enable", 0)
        sysfs.write(self.pwm / "duty_cycle", 0)  # duty must never exceed the period
        sysfs.write(self.pwm / "period", PERIOD_NS)
        self._warned_e = False
        self.set_output(CpMode.STEADY)
        sysfs.write(self.pwm / "enable", 1)

    @classmethod
    def from_config(cls, cfg: CpConfig) -> SysfsControlPilot:
        return cls(cfg)

    def set_output(self, mode: CpMode, duty: float = 100.0) -> None:
        if mode is CpMode.STATE_E and not self._warned_e:
            log.warning("CP state E (0 V) needs a pilot switch this board lacks: sending F")
            self._warned_e = True
        percent = {CpMode.STEADY: 100.0, CpMode.STATE_F: 0.0, CpMode.STATE_E: 0.0}.get(
            mode, min(max(duty, 0.0), 100.0)
        )
        if self.cfg.pwm_inverted:
            percent = 100.0 - percent
        sysfs.write(self.pwm / "duty_cycle", round(PERIOD_NS * percent / 100.0))

    def read(self, now: float) -> CpReading:
        gain, offset = self.cfg.adc_gain, self.cfg.adc_offset
        high = self.high.volts() * gain + offset
        low = self.low.volts() * gain + offset
        pp = None
        if self.pp is not None:
            pp = pp_resistance(self.pp.volts(), self.cfg.pp_pullup_ohm, self.cfg.pp_supply_v)
        return CpReading(high_v=high, low_v=low, pp_ohm=pp)

    def close(self) -> None:
        self.set_output(CpMode.STATE_F)
