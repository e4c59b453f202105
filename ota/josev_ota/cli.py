"""`josev-ota`: the OTA service shell.

Today it reports the A/B slot state from RAUC, holds its broker session as the station-side
receiver of `update_firmware` (reporting `firmware_status` Idle) and takes part in the systemd
handshake; downloading, verifying and installing bundles is the OTA issue's work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from josev import sdnotify
from josev.api import ApiClient
from josev.config import ConfigError, MqttConfig, load_tables, section
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


async def _serve(args: argparse.Namespace, mqtt: MqttConfig) -> int:
    try:
        status = read_status(args.rauc)
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
    # The station-side receiver of update_firmware (the OTA issue adds the handler): it holds a
    # persistent session from boot and reports that no update is in progress.
    client = ApiClient(
        {"cs"},
        host=mqtt.host,
        port=mqtt.port,
        username=mqtt.username,
        password=mqtt.password(),
        client_id="josev-ota",
        persistent=True,
    )
    async with client:
        connected = asyncio.create_task(client.wait_connected(None))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({connected, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if connected.done():
            await client.update("firmware_status", {"status": "Idle"})
            sdnotify.notify("READY=1")
            watchdog = asyncio.create_task(sdnotify.watchdog_loop())
            await stop.wait()
            watchdog.cancel()
        connected.cancel()
        stopping.cancel()
    sdnotify.notify("STOPPING=1")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="josev-ota", description="Josev OTA (RAUC A/B)")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--rauc", default="rauc", help="the rauc binary")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="print the RAUC slot status").set_defaults(func=_status)
    run = sub.add_parser("run", help="run the service (systemd: Type=notify)")
    run.set_defaults(func=None)
    run.add_argument("--config", type=Path, default=None, help="josev.toml (default /etc/josev)")
    run.add_argument("--host", help="broker host (overrides [mqtt] host)")
    run.add_argument("--port", type=int, help="broker port (overrides [mqtt] port)")
    run.add_argument("--username", help="broker user (overrides [mqtt] username)")
    run.add_argument("--password-file", type=Path, help="broker password file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "run":
        try:
            tables = load_tables(args.config, required=args.config is not None)
            mqtt = section(tables, "mqtt", MqttConfig)
            given = (
                ("host", args.host),
                ("port", args.port),
                ("username", args.username),
                ("password_file", args.password_file),
            )
            mqtt = mqtt.model_copy(update={k: v for k, v in given if v is not None})
            mqtt.password()  # an unreadable password file is a configuration error, now
        except ConfigError as exc:
            log.error("%s", exc)
            return 78  # EX_CONFIG
        return asyncio.run(_serve(args, mqtt))
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
