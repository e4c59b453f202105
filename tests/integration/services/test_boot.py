"""josev-iso15118's boot against a station on a real broker (mosquitto): the three boot
requests answered, ready published, and the garbage collector handed back after start-up.

The station side is an ApiClient speaking as `cs` with the documented example answers; no
PLC interface exists by that name, so the SECC logs that and the service still gets ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

from josev.api import ApiClient
from josev.api.examples import EXAMPLES
from josev.config import MqttConfig
from josev.services.hlc import HlcConfig
from josev.services.iso15118 import run_service

BOOT = ("device_model", "cs_status_and_limits", "cs_parameters")


async def test_boot_gets_ready_and_settles_the_collector(mosquitto: Any) -> None:
    asked: list[str] = []
    statuses: list[str] = []
    ready = asyncio.Event()
    cs = ApiClient({"cs"}, host=mosquitto.host, port=mosquitto.port)

    def answer(name: str) -> Any:
        async def handler(_req: Any) -> dict[str, Any]:
            asked.append(name)
            return EXAMPLES[(name, "response")]
        return handler

    def on_status(update: Any) -> None:
        statuses.append(update.status)
        if update.status == "ready":
            ready.set()

    for name in BOOT:
        cs.on_request(name, answer(name))
    cs.on_update("service_status", on_status)
    mqtt = MqttConfig(host=mosquitto.host, port=mosquitto.port)
    hlc = HlcConfig(iface="jsvnoif0", slac=False)
    async with cs:
        await cs.wait_connected(10)
        gc.disable()   # as josev.services.__main__ does before the imports
        service = asyncio.create_task(run_service(mqtt, hlc, settle=True))
        try:
            await asyncio.wait_for(ready.wait(), 20)
            for _ in range(50):   # the collector is handed back right after READY
                if gc.get_freeze_count() and gc.isenabled():
                    break
                await asyncio.sleep(0.02)
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0
        finally:
            service.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await service
            gc.unfreeze()
            gc.enable()
    assert sorted(asked) == sorted(BOOT)   # each asked once
    assert statuses[:1] == ["starting"] and "ready" in statuses
