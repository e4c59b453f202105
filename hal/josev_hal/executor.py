"""The event loop's default executor for josev-hal: daemon threads, a bounded shutdown.

asyncio's own default executor is a ThreadPoolExecutor, and both `asyncio.run()` (through
`shutdown_default_executor()`) and the interpreter's exit join its threads without a time
limit. Blocking work handed to it (aiomqtt's connect, a TPM key generation, a PN532 or Modbus
RTU exchange, sd_notify) then decides when the service may exit: a connect to an unreachable
broker or a slow TPM holds SIGTERM up. Here every call runs in a daemon thread of its own
(calls are rare: connects, a CSR, reader polls), shutdown waits for them at most
`shutdown_wait_s` and names the ones it leaves behind; the hardware is made safe before that.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger("josev_hal")

P = ParamSpec("P")
T = TypeVar("T")


class DaemonExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor by type (asyncio insists), one daemon thread per call by design."""

    def __init__(self, name: str = "hal-worker", shutdown_wait_s: float = 1.0) -> None:
        super().__init__(max_workers=1, thread_name_prefix=name)  # its pool is never used
        self.name = name
        self.shutdown_wait_s = shutdown_wait_s
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self._count = 0

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._count += 1
            label = getattr(fn, "__qualname__", type(fn).__name__)
            thread = threading.Thread(name=f"{self.name}-{self._count}:{label}", daemon=True,
                                      target=self._run, args=(fut, fn, args, kwargs))
            self._threads.add(thread)
        thread.start()
        return fut

    def _run(self, fut: concurrent.futures.Future[Any], fn: Callable[..., Any],
             args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to whoever awaits the future
                    fut.set_exception(exc)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def running(self) -> list[str]:
        with self._lock:
            return sorted(t.name for t in self._threads)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if not wait:
            return
        deadline = time.monotonic() + self.shutdown_wait_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = self.running()
        if left:
            log.warning("shutdown: %d blocking call(s) still running, left behind (daemon "
                        "threads): %s", len(left), ", ".join(left))
