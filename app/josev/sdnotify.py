"""sd_notify without libsystemd: services tell systemd READY, WATCHDOG and STATUS.

Written by hand (one datagram on $NOTIFY_SOCKET) so that the services carry no C dependency;
it is a no-op when systemd did not ask for notifications, as in tests and the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(state: str) -> bool:
    """Send one notification line, e.g. "READY=1"; True when it was delivered."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    # Never block: a full datagram queue (net.unix.max_dgram_qlen, 10 by default) while systemd
    # lags would freeze the caller's event loop, and with it the service. A dropped WATCHDOG is
    # repeated at the next interval; READY is retried by the caller's next notify.
    try:
        with socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        ) as sock:
            sock.connect(addr)
            sock.send(state.encode())
    except BlockingIOError:
        log.warning(
            "sd_notify(%s) dropped: the notify socket's queue is full", state.split("=", 1)[0]
        )
        return False
    except OSError as exc:
        log.warning("sd_notify(%s) failed: %s", state.split("=", 1)[0], exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of WatchdogSec (systemd's advice), or None when no watchdog is set for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None


async def watchdog_loop() -> None:
    """Ping the watchdog from the event loop: a blocked loop then really trips it."""
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)


async def run_watchdog_until_cancelled() -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await watchdog_loop()
