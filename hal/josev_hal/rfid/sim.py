"""Simulator backend: cards "tapped" through the sim/ control channel (`josev-hal sim tap`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from josev_hal.rfid.base import CardReader, CardTap


class SimCardReader(CardReader):
    def __init__(self, name: str = "sim") -> None:
        self._name = name
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

    def tap(self, uid: str) -> None:
        self._queue.put_nowait(uid)

    async def taps(self) -> AsyncIterator[CardTap]:
        while True:
            uid = await self._queue.get()
            if uid is None:
                return
            yield CardTap(uid=uid, reader=self._name)

    async def close(self) -> None:
        self._queue.put_nowait(None)
