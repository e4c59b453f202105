"""A Modbus TCP meter simulator: a real server (asyncio) with a register bank, for tests and
bench setups. Values are written with the same register map the driver reads."""

from __future__ import annotations

import asyncio
import struct

from josev_hal.config import MeterRegister
from josev_hal.meter.modbus import encode
from josev_hal.modbus import answer_pdu


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
