"""`josev-ota`: the OTA service shell.

Today it reports the A/B slot state from RAUC and takes part in the systemd handshake; receiving
`update_firmware`, downloading, verifying and installing bundles is the OTA issue's work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from josev import sdnotify
from josev_ota import __version__
from josev_ota.rauc import RaucError, read_status

log = logging.getLogger("josev.ota")


def _status(args: argparse.Namespace) -> int:
    try:
        status = read_status(args.rauc)
    except RaucError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"compatible: {status.compatible}")
    print(f"booted: {status.booted}  primary: {status.boot_primary}")
    for slot in status.slots:
        print(
            f"  {slot.name:<12} {slot.slot_class:<8} {slot.device:<24} {slot.state:<9} "
            f"boot={slot.boot_status}"
        )
    return 0


async def _serve(rauc: str) -> int:
    try:
        status = read_status(rauc)
        log.info(
            "RAUC: booted slot %s, primary %s, %d slots",
            status.booted,
            status.boot_primary,
            len(status.slots),
        )
        sdnotify.notify(f"STATUS=booted {status.booted}")
    except RaucError as exc:
        # Not fatal: a development machine has no RAUC; the station image always does.
        log.warning("RAUC not available: %s", exc)
        sdnotify.notify("STATUS=no RAUC")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sdnotify.notify("READY=1")
    watchdog = asyncio.create_task(sdnotify.watchdog_loop())
    await stop.wait()
    watchdog.cancel()
    sdnotify.notify("STOPPING=1")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="josev-ota", description="Josev OTA (RAUC A/B)")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--rauc", default="rauc", help="the rauc binary")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="print the RAUC slot status").set_defaults(func=_status)
    sub.add_parser("run", help="run the service (systemd: Type=notify)").set_defaults(func=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "run":
        return asyncio.run(_serve(args.rauc))
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
