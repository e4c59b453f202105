"""An isoCHA425-like IMD simulator speaking Modbus RTU on a serial line (a pty in tests)."""

from __future__ import annotations

import threading
import time

from josev_hal.isolation.bender import (
    REG_ENABLE,
    REG_RESISTANCE,
    REG_SELF_TEST,
    REG_VOLTAGE,
    SELF_TEST_CODE,
    VALID_INVALID,
    channel_registers,
)
from josev_hal.modbus import answer_pdu, serve_rtu


class ImdSimulator:
    def __init__(self, fd: int, unit: int = 3, resistance_ohm: float = 5e6,
                 voltage: float = 500.0, measure_s: float = 1.5) -> None:
        self.fd = fd
        self.unit = unit
        self.resistance_ohm = resistance_ohm
        self.voltage = voltage
        self.measure_s = measure_s
        self.registers: dict[int, int] = {REG_ENABLE: 0, REG_SELF_TEST: 0}
        self.enabled_at: float | None = None
        self.device_error = False
        self.frames = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        now = time.monotonic()
        ready = self.enabled_at is not None and now - self.enabled_at >= self.measure_s
        validity = 0 if ready else VALID_INVALID
        alarm = 2 if self.device_error else 0
        for i, w in enumerate(channel_registers(self.resistance_ohm, alarm=alarm,
                                                validity=validity)):
            self.registers[REG_RESISTANCE + i] = w
        for i, w in enumerate(channel_registers(self.voltage if ready else 0.0, unit=4,
                                                validity=validity, description=76)):
            self.registers[REG_VOLTAGE + i] = w

    def _run(self) -> None:
        serve_rtu(self.fd, self.unit, lambda: self._stop, self._answer)

    def _answer(self, pdu: bytes) -> bytes:
        self.frames += 1
        was_on = self.registers[REG_ENABLE] == 1
        self._refresh()
        answer = answer_pdu(pdu, self.registers)
        if self.registers[REG_ENABLE] == 1 and not was_on:
            self.enabled_at = time.monotonic()
        elif self.registers[REG_ENABLE] == 0:
            self.enabled_at = None
        if self.registers.get(REG_SELF_TEST) == SELF_TEST_CODE:
            self.registers[REG_SELF_TEST] = 0
        return answer

    def close(self) -> None:
        self._stop = True
        self._thread.join(1.0)
