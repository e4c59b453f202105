"""A PN532 simulator on the master side of a pty: answers the commands the driver uses."""

from __future__ import annotations

import os
import select
import threading

from josev_hal.rfid.pn532 import (
    ACK,
    DEVICE,
    GET_FIRMWARE_VERSION,
    IN_LIST_PASSIVE_TARGET,
    RF_CONFIGURATION,
    SAM_CONFIGURATION,
    Pn532Error,
    frame,
    parse_frame,
)


class Pn532Simulator:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.card: bytes | None = None  # the UID on the antenna, if any
        self.commands: list[int] = []
        self.corrupt_next = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def present(self, uid_hex: str | None) -> None:
        self.card = None if uid_hex is None else bytes.fromhex(uid_hex)

    def _answer(self, body: bytes) -> bytes:
        cmd = body[1]
        if cmd == GET_FIRMWARE_VERSION:
            data = bytes([0x32, 0x01, 0x06, 0x07])
        elif cmd in (SAM_CONFIGURATION, RF_CONFIGURATION):
            data = b""
        elif cmd == IN_LIST_PASSIVE_TARGET:
            if self.card is None:
                data = b"\x00"
            else:
                data = bytes([1, 1, 0x00, 0x04, 0x08, len(self.card)]) + self.card
        else:
            data = b"\x7f"  # syntax error answer
        return frame(DEVICE, bytes([cmd + 1]) + data)

    def _run(self) -> None:
        buf = b""
        while not self._stop:
            readable, _, _ = select.select([self.fd], [], [], 0.05)
            if not readable:
                continue
            try:
                buf += os.read(self.fd, 256)
            except OSError:
                return
            while True:
                try:
                    body, buf = parse_frame(buf)
                except Pn532Error:
                    buf = b""
                    break
                if body is None:
                    break
                if len(body) < 2:
                    continue
                self.commands.append(body[1])
                answer = self._answer(body)
                if self.corrupt_next:
                    self.corrupt_next = False
                    answer = answer[:-2] + bytes([answer[-2] ^ 0xFF, 0])
                os.write(self.fd, ACK + answer)

    def close(self) -> None:
        self._stop = True
        self._thread.join(1.0)
