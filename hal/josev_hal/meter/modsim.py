"""Meter simulators: a register bank served over Modbus TCP (asyncio) or RTU (a serial line),
for tests and bench setups. Values are written with the same register map the driver reads."""

from __future__ import annotations

import asyncio
import struct
import threading

from josev_hal.config import MeterRegister
from josev_hal.meter.modbus import encode
from josev_hal.modbus import answer_pdu, serve_rtu


class MeterServer:
    def __init__(self, unit: int = 1) -> None:
        self.unit = unit
        self.holding: dict[int, int] = {}
        self.input: dict[int, int] = {}
        self.server: asyncio.Server | None = None
        self.requests = 0
        self._writers: set[asyncio.StreamWriter] = set()

    def set(self, reg: MeterRegister, value: float) -> None:
        bank = self.holding if reg.kind == "holding" else self.input
        for i, word in enumerate(encode(value, reg)):
            bank[reg.address + i] = word

    def set_text(self, address: int, text: str, length: int) -> None:
        raw = text.encode("ascii").ljust(2 * length, b"\0")
        for i, (word,) in enumerate(struct.iter_unpack(">H", raw[: 2 * length])):
            self.holding[address + i] = word

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self._client, host, port)
        sock = self.server.sockets[0]
        return int(sock.getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readexactly(7)
                tid, _proto, length, unit = struct.unpack(">HHHB", head)
                pdu = await reader.readexactly(length - 1)
                self.requests += 1
                if unit != self.unit:
                    continue  # another unit's request: silence, as on a bus
                bank = self.input if pdu[0] == 0x04 else self.holding
                answer = answer_pdu(pdu, bank)
                writer.write(struct.pack(">HHHB", tid, 0, len(answer) + 1, unit) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        for writer in list(self._writers):  # a meter switched off drops its connections
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


class RtuMeterServer(MeterServer):
    """The same register bank served as Modbus RTU on a serial line (a pty master in tests)."""

    def __init__(self, fd: int, unit: int = 1) -> None:
        super().__init__(unit)
        self.fd = fd
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtu-meter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        serve_rtu(self.fd, self.unit, self._stop.is_set, self._answer)

    def _answer(self, pdu: bytes) -> bytes:
        self.requests += 1
        return answer_pdu(pdu, self.input if pdu[0] == 0x04 else self.holding)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
