"""Stopping tasks for sure: Python 3.11's wait_for can swallow a cancellation (gh-86296)."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from josev.tasks import cancel_and_wait


async def _publisher_like(ack: asyncio.Future[None], forever: asyncio.Event) -> None:
    """What aiomqtt's QoS 1 publish does (wait_for on the PUBACK), then the next queue get."""
    await asyncio.wait_for(ack, 5.0)
    await forever.wait()


async def _start_racing_task() -> tuple[asyncio.Task[None], asyncio.Event]:
    """The PUBACK completes in the same loop iteration as the cancellation."""
    ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    forever = asyncio.Event()
    task = asyncio.create_task(_publisher_like(ack, forever), name="publisher")
    await asyncio.sleep(0)  # the task now waits inside wait_for
    ack.set_result(None)
    task.cancel()
    return task, forever


async def test_one_cancel_can_be_swallowed_by_wait_for_on_3_11() -> None:
    task, forever = await _start_racing_task()
    done, _ = await asyncio.wait({task}, timeout=0.3)
    if sys.version_info < (3, 12):
        assert not done  # the cancellation was lost: awaiting it would hang
    else:
        assert done and task.cancelled()
    forever.set()
    if not task.done():
        await task


async def test_cancel_and_wait_stops_it_anyway() -> None:
    task, _forever = await _start_racing_task()
    left = await cancel_and_wait([task], 2.0, "test")
    assert left == [] and task.cancelled()


async def test_a_task_that_will_not_stop_is_named_and_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="josev"):
        left = await cancel_and_wait([task], 0.2, "test")
    assert left == [task]
    assert any("stubborn still running after 0.2 s, left behind" in r.getMessage()
               for r in caplog.records)
    release.set()
    await task


async def test_grace_lets_a_task_finish_without_cancellation() -> None:
    async def closing() -> str:
        await asyncio.sleep(0.05)
        return "closed"

    task = asyncio.create_task(closing())
    assert await cancel_and_wait([task], 2.0, "test", grace=1.0) == []
    assert task.result() == "closed"
