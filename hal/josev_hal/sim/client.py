"""A tiny client for the simulator control channel: what the EV simulator and the CLI import.

    async with SimClient(host, port) as sim:
        await sim.send(protocol.Plug(pp_ohm=220))
        await sim.send(protocol.SetCp(state="C"))
        state = await sim.next_state()        # a protocol.StationState
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType

import aiomqtt
from pydantic import ValidationError

from josev_hal.sim import protocol as p

log = logging.getLogger(__name__)


class SimClient:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 1883, prefix: str = "sim",
        username: str | None = None, password: str | None = None,
    ) -> None:
        self.prefix = prefix
        self._mqtt = aiomqtt.Client(host, port, username=username, password=password)
        self._states: asyncio.Queue[p.StationState] = asyncio.Queue(maxsize=1000)
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SimClient:
        await self._mqtt.__aenter__()
        await self._mqtt.subscribe(f"{self.prefix}/{p.STATION_TOPIC}", qos=1)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._reader
        await self._mqtt.__aexit__(et, e, tb)

    def topic_for(self, cmd: p._Msg) -> str:
        ev = isinstance(cmd, p.Plug | p.Unplug | p.SetCp | p.SetBattery | p.SetEvContactor)
        return f"{self.prefix}/{p.EV_TOPIC if ev else p.CONTROL_TOPIC}"

    async def send(self, cmd: p._Msg) -> None:
        await self._mqtt.publish(self.topic_for(cmd), cmd.model_dump_json(), qos=1)

    async def _read(self) -> None:
        async for message in self._mqtt.messages:
            try:
                state = p.StationState.model_validate_json(bytes(message.payload))
            except ValidationError as exc:
                log.warning("sim/station: invalid state: %s", exc)
                continue
            if self._states.full():
                self._states.get_nowait()
            self._states.put_nowait(state)

    async def next_state(self, timeout: float = 5.0) -> p.StationState:
        return await asyncio.wait_for(self._states.get(), timeout)

    async def wait_for(
        self, predicate: Callable[[p.StationState], bool], timeout: float = 10.0,
        evse_id: int = 1,
    ) -> p.StationState:
        """The first state (of `evse_id`) for which `predicate(state)` is true."""
        async def scan() -> p.StationState:
            while True:
                state = await self._states.get()
                if state.evse_id == evse_id and predicate(state):
                    return state

        return await asyncio.wait_for(scan(), timeout)
