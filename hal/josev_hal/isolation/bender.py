"""Bender isoCHA425HV isolation monitor over Modbus RTU (19200 baud, even parity, unit 3).

Register map as used here (the device's Modbus manual; cross-checked with open-source
drivers): each measuring channel is 4 holding registers: a big-endian float (2 registers),
then one register whose high byte is the alarm/test byte (bits 0-2: 0 none, 1 pre-warning,
2 device error, 4 warning, 5 alarm; bits 6-7: 0 no test, 1 internal, 2 external test) and
whose low byte is the range/unit byte (bits 0-4 unit: 2 Ohm, 4 V; bits 6-7 validity: 0 true
value, 1 true value smaller, 2 true value bigger, 3 invalid), then the channel description.
Channels: 1000 insulation resistance R_F, 1008 voltage U_n. Control: register 3026 = 1
switches measuring on, 0 off; writing 0x5445 ("TE") to 8005 starts a self test.

Modbus RTU is slow (tens of ms per exchange), so a thread does the I/O and `poll()` only
reads the latest result: the control loop never waits on the serial line.
"""

from __future__ import annotations

import logging
import struct
import threading
from dataclasses import dataclass

from josev_hal.config import IsolationConfig
from josev_hal.isolation.base import IsolationMonitor, IsolationResult, grade
from josev_hal.modbus import ModbusError, ModbusRtuClient

log = logging.getLogger(__name__)

REG_RESISTANCE = 1000
REG_VOLTAGE = 1008
REG_ENABLE = 3026
REG_SELF_TEST = 8005
SELF_TEST_CODE = 0x5445
ALARM_DEVICE_ERROR = 2
VALID_INVALID = 3
SETTLE_S = 1.0  # the first measurement after switching on is not trusted


@dataclass(frozen=True, slots=True)
class Channel:
    value: float
    alarm: int
    test: int
    unit: int
    validity: int
    description: int


def parse_channel(regs: list[int]) -> Channel:
    if len(regs) != 4:
        raise ModbusError(f"a channel is 4 registers, got {len(regs)}")
    (value,) = struct.unpack(">f", struct.pack(">HH", regs[0], regs[1]))
    at, ru = regs[2] >> 8, regs[2] & 0xFF
    return Channel(value, at & 0x07, at >> 6, ru & 0x1F, ru >> 6, regs[3])


def channel_registers(value: float, alarm: int = 0, test: int = 0, unit: int = 2,
                      validity: int = 0, description: int = 71) -> list[int]:
    """The inverse of parse_channel (the simulator uses it)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo, (alarm | test << 6) << 8 | (unit | validity << 6), description]


class IsoCha425(IsolationMonitor):
    def __init__(self, client: ModbusRtuClient, cfg: IsolationConfig,
                 poll_interval_s: float = 0.2) -> None:
        self.client = client
        self.cfg = cfg
        self.poll_interval_s = poll_interval_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._want_on = False
        self._on_since: float | None = None
        self._voltage = 0.0
        self._result: IsolationResult | None = None
        self._clock = 0.0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="isocha425", daemon=True)
        self._thread.start()

    @classmethod
    def from_config(cls, cfg: IsolationConfig) -> IsoCha425:
        return cls(ModbusRtuClient(cfg.serial_port, cfg.baudrate, parity="E"), cfg)

    def start(self, voltage: float, now: float) -> None:
        with self._lock:
            self._want_on = True
            self._voltage = voltage
            self._on_since = None
            self._result = None
            self._clock = now
        self._wake.set()

    def stop(self, now: float) -> None:
        with self._lock:
            self._want_on = False
            self._result = None
        self._wake.set()

    def poll(self, now: float) -> IsolationResult:
        with self._lock:
            self._clock = now
            if self.error is not None and self._want_on:
                return IsolationResult(ongoing=False, level="invalid")
            return self._result or IsolationResult(ongoing=True, level="invalid")

    def _run(self) -> None:
        enabled = False
        started_at = 0.0
        while not self._closing:
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()
            with self._lock:
                want, voltage, now = self._want_on, self._voltage, self._clock
            try:
                if want != enabled:
                    self.client.write(self.cfg.unit, REG_ENABLE, [1 if want else 0])
                    enabled = want
                    started_at = now
                    log.info("isoCHA425: measuring %s", "on" if want else "off")
                if not enabled:
                    continue
                rf = parse_channel(self.client.read(self.cfg.unit, "holding", REG_RESISTANCE, 4))
                un = parse_channel(self.client.read(self.cfg.unit, "holding", REG_VOLTAGE, 4))
                self.error = None
            except (ModbusError, OSError) as exc:
                if self.error is None:
                    log.error("isoCHA425 unit %d: %s", self.cfg.unit, exc)
                self.error = str(exc)
                continue
            result = self._judge(rf, un, voltage, now - started_at)
            if result is not None:
                with self._lock:
                    if self._want_on:  # every trustworthy reading: monitoring goes on
                        if self._result is None or self._result.level != result.level:
                            log.info("isoCHA425: %s (%.0f Ohm at %.0f V)", result.level,
                                     rf.value, un.value)
                        self._result = result

    def _judge(self, rf: Channel, un: Channel, voltage: float,
               elapsed: float) -> IsolationResult | None:
        if rf.alarm == ALARM_DEVICE_ERROR:
            return IsolationResult(ongoing=False, level="invalid")
        if rf.test != 0 or rf.validity == VALID_INVALID or elapsed < SETTLE_S:
            return None  # self test running or no trustworthy value yet
        volts = un.value if un.validity != VALID_INVALID and un.value > 1.0 else voltage
        level = grade(rf.value, volts, self.cfg.warning_ohm_per_v, self.cfg.fault_ohm_per_v)
        return IsolationResult(ongoing=False, level=level, resistance_ohm=rf.value)

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join(2.0)
        self.client.close()
