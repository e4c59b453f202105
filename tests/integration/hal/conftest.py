"""Fixtures for the HAL on a real broker: the service in-process on the simulated station."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from josev.api import ApiClient
from josev_hal.config import HalConfig
from josev_hal.service import HalService
from tests.broker import Broker


def hal_config(broker: Broker, tmp_path: Path, **overrides: Any) -> HalConfig:
    """The default simulated DC station, pointed at the test broker; fast IMD and timeouts."""
    data: dict[str, Any] = {
        "mqtt": {"host": broker.host, "port": broker.port, "client_id": "hal-under-test"},
        "tpm": {"backend": "file", "key_dir": str(tmp_path / "keys")},
        "evses": [{"isolation": {"test_duration_s": 0.3}}],
        "supervisor": {"trip_hold_s": 0.2},
        "meter_update_s": 0.2,
        "logs": {"data_dir": str(tmp_path / "logarchives"), "log_dir": str(tmp_path / "varlog"),
                 "journal_directory": str(tmp_path / "journal")},
    }
    for key, value in overrides.items():
        data[key] = value
    return HalConfig.model_validate(data)


async def wait_for(predicate: Any, what: str, timeout: float = 10.0) -> None:
    """Poll until `predicate()`; the bound only guards against a hang, it asserts no timing."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - the state lives in another task
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


class Running:
    def __init__(self, service: HalService, josev: ApiClient) -> None:
        self.service = service
        self.josev = josev
        self.updates: list[tuple[str, Any]] = []

    def seen(self, name: str) -> list[Any]:
        return [m for n, m in self.updates if n == name]


UPDATE_NAMES = ("cp_status", "cs_status_and_limits", "cs_contactor_status", "meter_values",
                "notify_event", "change_availability", "log_status")


@pytest.fixture
async def hal(mosquitto: Broker, tmp_path: Path) -> AsyncIterator[Running]:
    service = HalService(hal_config(mosquitto, tmp_path))
    async with running_hal(service, mosquitto) as running:
        yield running


@contextlib.asynccontextmanager
async def running_hal(service: HalService, broker: Broker) -> AsyncIterator[Running]:
    """The service running in this event loop and a Josev-side client recording updates."""
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    josev = ApiClient({"josev"}, host=broker.host, port=broker.port, backoff_max=0.5)
    running = Running(service, josev)
    for name in UPDATE_NAMES:

        def record(model: Any, name: str = name) -> None:
            running.updates.append((name, model))

        josev.on_update(name, record)
    async with josev:
        await josev.wait_connected(10)
        await asyncio.wait_for(service.ready.wait(), 10)
        try:
            yield running
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
