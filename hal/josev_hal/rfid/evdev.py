"""USB HID card readers that type the UID as keystrokes, read through evdev; hot-plug by udev.

/dev/input/eventN delivers `struct input_event` (linux/input.h): a struct timeval (two
native longs), u16 type, u16 code, s32 value. Key-down events (EV_KEY, value 1) of digits and
letters accumulate until KEY_ENTER ends a UID. The device is grabbed (EVIOCGRAB) so the
keystrokes do not reach a console. Without a fixed device, every input device udev announces
as a keyboard whose name contains `name_contains` is taken, also when plugged in later.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path

from josev_hal.config import RfidReaderConfig
from josev_hal.rfid.base import CardReader, CardTap

log = logging.getLogger(__name__)

EVENT = struct.Struct("@llHHi")
EV_KEY = 0x01
KEY_ENTER = 28
KEY_KPENTER = 96
EVIOCGRAB = 0x40044590  # _IOW('E', 0x90, int)

# Linux key codes (linux/input-event-codes.h) for what card readers type.
KEYMAP: dict[int, str] = {
    2: "1", 3: "2", 4: "3", 5: "4", 6: "5", 7: "6", 8: "7", 9: "8", 10: "9", 11: "0",
    30: "A", 48: "B", 46: "C", 32: "D", 18: "E", 33: "F", 34: "G", 35: "H", 23: "I", 36: "J",
    37: "K", 38: "L", 50: "M", 49: "N", 24: "O", 25: "P", 16: "Q", 19: "R", 31: "S", 20: "T",
    22: "U", 47: "V", 17: "W", 45: "X", 21: "Y", 44: "Z",
    79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8", 73: "9", 82: "0",
}


class KeyAssembler:
    """Sans-I/O: raw input_event bytes in, completed UIDs out."""

    def __init__(self, max_len: int = 36) -> None:
        self.max_len = max_len
        self._buf = b""
        self._chars: list[str] = []

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        done: list[str] = []
        while len(self._buf) >= EVENT.size:
            _sec, _usec, type_, code, value = EVENT.unpack_from(self._buf)
            self._buf = self._buf[EVENT.size:]
            if type_ != EV_KEY or value != 1:
                continue
            if code in (KEY_ENTER, KEY_KPENTER):
                if self._chars:
                    done.append("".join(self._chars))
                self._chars = []
            elif code in KEYMAP and len(self._chars) < self.max_len:
                self._chars.append(KEYMAP[code])
        return done


def key_events(text: str) -> bytes:
    """input_event bytes that type `text` and Enter (tests and the simulator use it)."""
    codes = {v: k for k, v in KEYMAP.items() if k < 60}
    out = b""
    for code in [codes[c] for c in text.upper()] + [KEY_ENTER]:
        out += EVENT.pack(0, 0, EV_KEY, code, 1) + EVENT.pack(0, 0, EV_KEY, code, 0)
        out += EVENT.pack(0, 0, 0, 0, 0)  # EV_SYN
    return out


class EvdevReaders(CardReader):
    def __init__(self, device: str | None, name_contains: str = "") -> None:
        self.device = device
        self.name_contains = name_contains.lower()
        self._queue: asyncio.Queue[CardTap | None] = asyncio.Queue()
        self._open: dict[str, int] = {}
        self._monitor: object | None = None

    @classmethod
    def from_config(cls, cfg: RfidReaderConfig) -> EvdevReaders:
        return cls(cfg.device, cfg.name_contains)

    def attach(self, path: str) -> None:
        """Start reading one event device (at start or when udev announces it)."""
        if path in self._open:
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            log.warning("card reader %s: cannot open: %s", path, exc)
            return
        with contextlib.suppress(OSError):  # a FIFO in tests, or already grabbed
            fcntl.ioctl(fd, EVIOCGRAB, 1)
        assembler = KeyAssembler()
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(fd, EVENT.size * 64)
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("card reader %s: %s; detached", path, exc)
                self.detach(path)
                return
            if not data:
                # The writer went away (FIFO) or the device vanished: stop watching it.
                self.detach(path)
                return
            for uid in assembler.feed(data):
                self._queue.put_nowait(CardTap(uid=uid, reader=f"evdev:{path}"))

        loop.add_reader(fd, readable)
        self._open[path] = fd
        log.info("card reader %s attached", path)

    def detach(self, path: str) -> None:
        fd = self._open.pop(path, None)
        if fd is None:
            return
        asyncio.get_running_loop().remove_reader(fd)
        os.close(fd)
        log.info("card reader %s detached", path)

    def on_udev(self, action: str, path: str | None, name: str, keyboard: bool) -> None:
        """One udev event (pyudev's Device reduced to what matters), hot-plug policy here."""
        if path is None or not Path(path).name.startswith("event"):
            return
        if action == "add" and keyboard and self.name_contains in name.lower():
            self.attach(path)
        elif action == "remove":
            self.detach(path)

    def _start_udev(self) -> None:
        import pyudev

        context = pyudev.Context()
        for dev in context.list_devices(subsystem="input"):
            self._udev_device("add", dev)
        monitor = pyudev.Monitor.from_netlink(context)
        monitor.filter_by("input")
        monitor.start()
        self._monitor = monitor

        def readable() -> None:
            while (dev := monitor.poll(timeout=0)) is not None:
                self._udev_device(dev.action or "", dev)

        asyncio.get_running_loop().add_reader(monitor.fileno(), readable)

    def _udev_device(self, action: str, dev: object) -> None:
        props = getattr(dev, "properties", {})
        parent = getattr(dev, "parent", None)
        name = str(getattr(parent, "properties", {}).get("NAME", "")).strip('"')
        self.on_udev(action, getattr(dev, "device_node", None), name,
                     props.get("ID_INPUT_KEYBOARD") == "1")

    async def taps(self) -> AsyncIterator[CardTap]:
        if self.device is not None:
            self.attach(self.device)
        else:
            self._start_udev()
        while (tap := await self._queue.get()) is not None:
            yield tap

    async def close(self) -> None:
        for path in list(self._open):
            self.detach(path)
        monitor, self._monitor = self._monitor, None
        if monitor is not None:  # udev's netlink socket: off the loop, then closed
            fileno = getattr(monitor, "fileno", None)
            if callable(fileno):
                with contextlib.suppress(OSError, ValueError):
                    asyncio.get_running_loop().remove_reader(fileno())
            del monitor  # pyudev closes the socket when the Monitor is collected
        self._queue.put_nowait(None)
