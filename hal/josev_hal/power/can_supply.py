"""Several CAN power modules in parallel as one DC supply: shared by every module protocol.

The protocol specifics (frame layouts) live in a `ModuleCodec` (infypower.py, winline.py),
pure functions from values to frames and back. This driver does the rest, never blocking:
it splits the current over the modules that answer, ramps towards the target, repeats the
setpoint and the "on" command as the keep-alive the modules need to stay on (they switch
themselves off after ~10 s of silence), polls measurements and status, and marks a module
lost when it stops answering.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass

import can

from josev_hal.config import PowerConfig
from josev_hal.power.base import DcSupply, SupplyMeasurement

log = logging.getLogger(__name__)

LOST_AFTER_S = 3.0


@dataclass
class ModuleReport:
    """What one received frame said about one module (None = not in this frame)."""

    address: int
    voltage: float | None = None
    current: float | None = None
    faults: tuple[str, ...] | None = None
    off: bool | None = None


class ModuleCodec(abc.ABC):
    """One module protocol: frames out for commands, reports in from frames."""

    name: str

    @abc.abstractmethod
    def set_output(self, address: int, voltage: float, current: float) -> list[can.Message]:
        """Frames that set one module's output voltage and current limit."""

    @abc.abstractmethod
    def on_off(self, address: int, on: bool) -> list[can.Message]:
        """Frames that switch one module on or off."""

    @abc.abstractmethod
    def polls(self, address: int) -> list[can.Message]:
        """Frames that ask one module for its measurements and status."""

    @abc.abstractmethod
    def decode(self, msg: can.Message) -> ModuleReport | None:
        """A module's answer as a report; None for frames that are not for us. Raises
        ValueError for a frame that is for us but malformed."""


@dataclass
class _Module:
    address: int
    voltage: float = 0.0
    current: float = 0.0
    faults: tuple[str, ...] = ()
    last_seen: float | None = None


@dataclass
class _Target:
    on: bool = False
    voltage: float = 0.0
    current: float = 0.0


class CanModuleSupply(DcSupply):
    def __init__(self, bus: can.BusABC, codec: ModuleCodec, cfg: PowerConfig) -> None:
        self.bus = bus
        self.codec = codec
        self.cfg = cfg
        self.modules = {a: _Module(a) for a in cfg.module_addresses}
        self.target = _Target()
        self.commanded_current = 0.0  # the ramped total current actually sent
        self._last_step: float | None = None
        self._last_keepalive = -1e9
        self._last_poll = -1e9
        self._sent: tuple[bool, float, float] | None = None
        self.bad_frames = 0
        self.sent_frames = 0
        self._started = False
        self._faults: dict[int, tuple[str, ...]] = {}

    @classmethod
    def open_bus(cls, cfg: PowerConfig) -> can.BusABC:
        return can.Bus(interface=cfg.can_interface, channel=cfg.can_channel,
                       bitrate=cfg.can_bitrate)

    def _send(self, msgs: list[can.Message]) -> None:
        for msg in msgs:
            try:
                self.bus.send(msg, timeout=0.01)
                self.sent_frames += 1
            except can.CanError as exc:
                log.warning("%s: CAN send failed: %s", self.codec.name, exc)

    def set_output(self, on: bool, voltage: float, current: float, now: float) -> None:
        was_on = self.target.on
        self.target = _Target(on, voltage if on else 0.0, current if on else 0.0)
        if not on and was_on:
            # Off is never ramped: every module is told at once.
            self.commanded_current = 0.0
            self._push(now, force=True)

    def _online(self, now: float) -> list[_Module]:
        return [m for m in self.modules.values()
                if m.last_seen is not None and now - m.last_seen <= LOST_AFTER_S]

    def _push(self, now: float, force: bool = False) -> None:
        t = self.target
        sharing = self._online(now) or list(self.modules.values())
        per_module = self.commanded_current / len(sharing)
        state = (t.on, t.voltage, per_module)
        due = now - self._last_keepalive >= self.cfg.keepalive_s
        if not force and not due and state == self._sent:
            return
        for m in self.modules.values():
            share = per_module if m in sharing else 0.0
            self._send(self.codec.set_output(m.address, t.voltage, share))
            self._send(self.codec.on_off(m.address, t.on))
        self._sent = state
        if due or force:
            self._last_keepalive = now

    def poll(self, now: float) -> None:
        self._receive(now)
        dt = 0.0 if self._last_step is None else max(0.0, now - self._last_step)
        self._last_step = now
        goal = self.target.current if self.target.on else 0.0
        step = self.cfg.ramp_a_per_s * dt
        if self.commanded_current < goal:
            self.commanded_current = min(goal, self.commanded_current + step)
        else:
            self.commanded_current = max(goal, self.commanded_current - step)
        self._push(now)
        if now - self._last_poll >= self.cfg.measure_poll_s:
            self._last_poll = now
            for m in self.modules.values():
                self._send(self.codec.polls(m.address))

    def _receive(self, now: float) -> None:
        while True:
            try:
                msg = self.bus.recv(timeout=0.0)
            except can.CanError as exc:
                log.warning("%s: CAN receive failed: %s", self.codec.name, exc)
                return
            if msg is None:
                return
            try:
                report = self.codec.decode(msg)
            except ValueError as exc:
                self.bad_frames += 1
                log.warning("%s: bad frame %08X %s: %s", self.codec.name, msg.arbitration_id,
                            bytes(msg.data).hex(), exc)
                continue
            if report is None:
                continue
            module = self.modules.get(report.address)
            if module is None:
                continue  # a module we were not configured to drive
            module.last_seen = now
            if report.voltage is not None:
                module.voltage = report.voltage
            if report.current is not None:
                module.current = report.current
            if report.faults is not None:
                if report.faults != module.faults and report.faults:
                    log.warning("%s module %d: %s", self.codec.name, module.address,
                                ", ".join(report.faults))
                module.faults = report.faults

    def measure(self, now: float) -> SupplyMeasurement:
        online = self._online(now)
        faults: list[str] = []
        for m in self.modules.values():
            if m.last_seen is not None and m not in online:
                faults.append(f"module {m.address}: no response")
            faults.extend(f"module {m.address}: {f}" for f in m.faults)
        if not online:
            return SupplyMeasurement(0.0, 0.0, tuple(faults))
        voltage = max(m.voltage for m in online)
        current = sum(m.current for m in online)
        return SupplyMeasurement(voltage, current, tuple(faults))

    def close(self) -> None:
        try:
            for m in self.modules.values():
                self._send(self.codec.on_off(m.address, False))
        finally:
            self.bus.shutdown()
