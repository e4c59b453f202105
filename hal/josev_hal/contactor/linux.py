"""Linux backend: the contactor coil, its mirror contact and the e-stop chain on GPIO lines."""

from __future__ import annotations

from josev_hal.config import ContactorConfig
from josev_hal.contactor.base import ConnectorLock, ContactorBank
from josev_hal.contactor.gpio import GpioLine, SysfsGpioLine


class GpioContactorBank(ContactorBank):
    def __init__(self, coil: GpioLine, mirror: GpioLine | None, estop: GpioLine | None,
                 rcd: GpioLine | None = None) -> None:
        self.coil = coil
        self.mirror = mirror
        self.estop = estop
        self.rcd = rcd
        coil.set(False)

    @classmethod
    def from_config(cls, cfg: ContactorConfig) -> GpioContactorBank:
        root = cfg.gpio_root
        coil = SysfsGpioLine(root, cfg.output_line, "out")
        mirror = (SysfsGpioLine(root, cfg.feedback_line, "in", cfg.feedback_active_low)
                  if cfg.feedback_line is not None else None)
        estop = (SysfsGpioLine(root, cfg.estop_line, "in", cfg.estop_active_low)
                 if cfg.estop_line is not None else None)
        rcd = (SysfsGpioLine(root, cfg.rcd_line, "in", cfg.rcd_active_low)
               if cfg.rcd_line is not None else None)
        return cls(coil, mirror, estop, rcd)

    def command(self, closed: bool) -> None:
        self.coil.set(closed)

    def feedback(self, now: float) -> bool | None:
        return None if self.mirror is None else self.mirror.get()

    def estop_pressed(self, now: float) -> bool:
        # active_low is applied by the line: logical 1 = pressed (chain open).
        return False if self.estop is None else self.estop.get()

    def rcd_tripped(self, now: float) -> bool:
        return False if self.rcd is None else self.rcd.get()

    def close(self) -> None:
        self.coil.set(False)


class GpioConnectorLock(ConnectorLock):
    def __init__(self, actuator: GpioLine, switch: GpioLine | None) -> None:
        self.actuator = actuator
        self.switch = switch

    @classmethod
    def from_config(cls, cfg: ContactorConfig) -> GpioConnectorLock:
        if cfg.lock_line is None:
            raise ValueError("no lock_line configured")
        root = cfg.gpio_root
        switch = (SysfsGpioLine(root, cfg.lock_feedback_line, "in", cfg.lock_feedback_active_low)
                  if cfg.lock_feedback_line is not None else None)
        return cls(SysfsGpioLine(root, cfg.lock_line, "out"), switch)

    def command(self, locked: bool) -> None:
        self.actuator.set(locked)

    def feedback(self, now: float) -> bool | None:
        return None if self.switch is None else self.switch.get()
