"""A simulator of CAN power modules that speaks the real frames (InfyPower or Winline).

Runs on any python-can bus (the 'virtual' one in tests, SocketCAN on a bench), answers reads,
obeys setpoints, switches a module off after `watchdog_s` without frames (as real modules do),
and feeds a shared resistive load: the paralleled outputs run in constant-current mode until
the voltage setpoint is reached. Faults can be injected per module. Sans-asyncio: `poll(now)`.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from typing import Literal

import can

from josev_hal.power import infypower as infy
from josev_hal.power import winline as wl

log = logging.getLogger(__name__)


@dataclass
class SimModule:
    address: int
    on: bool = False
    v_set: float = 0.0
    i_set: float = 0.0
    voltage: float = 0.0
    current: float = 0.0
    faults: set[str] = field(default_factory=set)
    last_frame: float | None = None
    mute: bool = False  # stops answering (a module pulled or a broken wire)


class ModuleSimulator:
    def __init__(self, bus: can.BusABC, protocol: Literal["infypower", "winline"],
                 addresses: list[int], load_ohm: float = 3.0, watchdog_s: float = 10.0) -> None:
        self.bus = bus
        self.protocol = protocol
        self.modules = {a: SimModule(a) for a in addresses}
        self.load_ohm = load_ohm
        self.watchdog_s = watchdog_s
        self.frames_in = 0

    def poll(self, now: float) -> None:
        while (msg := self.bus.recv(timeout=0.0)) is not None:
            self.frames_in += 1
            if self.protocol == "infypower":
                self._infy(msg, now)
            else:
                self._winline(msg, now)
        self._physics(now)

    def _physics(self, now: float) -> None:
        live = []
        for m in self.modules.values():
            if m.on and m.last_frame is not None and now - m.last_frame > self.watchdog_s:
                log.info("module %d: no frames for %.0f s, switching off", m.address,
                         self.watchdog_s)
                m.on = False
            if m.on and not m.faults:
                live.append(m)
        for m in self.modules.values():
            m.voltage = m.current = 0.0
        if not live:
            return
        v_set = min(m.v_set for m in live)
        total_i = min(sum(m.i_set for m in live), v_set / self.load_ohm)
        for m in live:
            m.voltage = total_i * self.load_ohm
            m.current = total_i / len(live)

    def _reply(self, arbitration_id: int, data: bytes) -> None:
        self.bus.send(can.Message(arbitration_id=arbitration_id, data=data,
                                  is_extended_id=True))

    def _infy(self, msg: can.Message, now: float) -> None:
        _err, dev, cmd, dst, src = infy.split_id(msg.arbitration_id)
        m = self.modules.get(dst)
        if m is None or dev != infy.DEV_SINGLE or m.mute:
            return
        m.last_frame = now
        data = bytes(msg.data)
        reply_id = infy.can_id(cmd, src, m.address)
        if cmd == infy.CMD_SET_VI:
            mv, ma = struct.unpack(">II", data[:8])
            m.v_set, m.i_set = mv / 1000.0, ma / 1000.0
            self._reply(reply_id, data)
        elif cmd == infy.CMD_ON_OFF:
            m.on = data[0] == 0
            self._reply(reply_id, data)
        elif cmd == infy.CMD_READ_VI:
            self._reply(reply_id, struct.pack(">ff", m.voltage, m.current))
        elif cmd == infy.CMD_STATUS:
            self._reply(reply_id, infy.status_bytes(m.faults, not m.on))
        else:
            self._reply(infy.can_id(cmd, src, m.address, err=2), bytes(8))

    def _winline(self, msg: can.Message, now: float) -> None:
        protno, _ptp, dst, src, group = wl.split_id(msg.arbitration_id)
        m = self.modules.get(dst)
        if protno != wl.PROTNO or m is None or m.mute:
            return
        m.last_frame = now
        data = bytes(msg.data)
        fn = data[0]
        (register,) = struct.unpack(">H", data[2:4])
        reply_id = wl.can_id(src, m.address, group)

        def answer(kind: int, value: bytes, code: int = wl.OK) -> None:
            self._reply(reply_id, bytes([kind, code]) + data[2:4] + value)

        if fn == wl.FN_SET:
            if register == wl.REG_SET_VOLTAGE:
                (m.v_set,) = struct.unpack(">f", data[4:8])
            elif register == wl.REG_SET_CURRENT:
                (raw,) = struct.unpack(">I", data[4:8])
                m.i_set = raw / 1024.0
            elif register == wl.REG_POWER:
                (raw,) = struct.unpack(">I", data[4:8])
                m.on = raw == wl.POWER_ON
            answer(wl.TYPE_INT, data[4:8])
        elif fn == wl.FN_READ:
            if register == wl.REG_VOLTAGE:
                answer(wl.TYPE_FLOAT, struct.pack(">f", m.voltage))
            elif register == wl.REG_CURRENT:
                answer(wl.TYPE_FLOAT, struct.pack(">f", m.current))
            elif register == wl.REG_STATUS:
                answer(wl.TYPE_INT, struct.pack(">I", wl.status_value(m.faults, not m.on)))
            else:
                answer(wl.TYPE_INT, bytes(4), code=0xF2)
