"""Stopping asyncio tasks for sure, within a bound.

One `task.cancel()` is not always enough on Python 3.11: `asyncio.wait_for()` swallows the
cancellation when the future it waits for completes in the same loop iteration (it returns the
result instead, CPython gh-86296, fixed by 3.12's rewrite). aiomqtt waits for every QoS 1
PUBACK with `wait_for`, so a task publishing at the moment it is cancelled can carry on, and a
shutdown that then awaits it without a limit hangs (what made josev-hal outlive the demo's
10 s after SIGTERM). Here the cancellation is repeated until the task ends, within a bound, and
whatever is still running is named in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("josev")


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], limit: float, what: str, *,
                          grace: float = 0.0, repeat_s: float = 0.05) -> list[asyncio.Task[Any]]:
    """Let `tasks` end on their own for `grace` s, then cancel them again and again (every
    `repeat_s`) until they are done or `limit` s have passed in all; returns those left."""
    tasks = list(tasks)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    pending = {t for t in tasks if not t.done()}
    if pending and grace > 0:
        _done, pending = await asyncio.wait(pending, timeout=min(grace, limit))
    while pending:
        for t in pending:
            t.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        _done, pending = await asyncio.wait(pending, timeout=min(repeat_s, remaining))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("stopping %s: %s failed: %s: %s", what, task.get_name(),
                      type(exc).__name__, exc)
    for task in pending:
        where = "; ".join(f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}"
                          for f in task.get_stack(limit=3)) or "?"
        log.error("stopping %s: %s still running after %.1f s, left behind (at %s)", what,
                  task.get_name(), limit, where)
    return sorted(pending, key=lambda t: t.get_name())
