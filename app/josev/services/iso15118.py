"""josev-iso15118: the HLC brain of the station (SLAC, SDP, SECC), bound to the Josev API.

This module is the service shell: configuration, the API boot sequence, the station-state cache
and the systemd handshake. The protocol parts plug into it as they land; each is sans-I/O and is
fed from here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from josev import __version__, sdnotify
from josev.api import API_VERSION, ApiClient, ApiError
from josev.api.envelope import describe_validation_error
from josev.configfile import ConfigError, load_tables, read_password, section
from josev.lean.generated import api as models
from josev.lean.generated.config import HlcConfig, MqttConfig
from josev.services.hlc import Hlc, secc_config
from josev.station import StationState

log = logging.getLogger("josev.iso15118")


class Iso15118Service:
    """Boots against the station over the API and keeps the station state current."""

    def __init__(self, client: ApiClient, *, retry_delay: float = 1.0,
                 hlc: HlcConfig | None = None) -> None:
        self.client = client
        self.state = StationState()
        self.retry_delay = retry_delay
        self.status: str = "starting"
        self.ready = asyncio.Event()
        # The SECCs (None: the service runs without HLC, e.g. in API-only tests).
        self.hlc = Hlc(client, self.state, hlc) if hlc is not None else None
        client.on_request("service_status", self._service_status)
        client.on_update("cs_status_and_limits", self._on_limits)
        client.on_update("cs_contactor_status", self._on_contactor)
        client.on_update("meter_values", self.state.set_meter)
        client.on_update("cp_status", self._on_cp)

    def _on_limits(self, value: models.CsStatusAndLimitsUpdate) -> None:
        self.state.set_limits(value)
        if self.hlc is not None:
            self.hlc.on_station()

    def _on_contactor(self, value: models.CsContactorStatusUpdate) -> None:
        self.state.set_contactor(value)
        if self.hlc is not None:
            self.hlc.on_station()

    async def _service_status(
        self, req: models.ServiceStatusRequest
    ) -> models.ServiceStatusResponse:
        # Only our own status is ours to tell; other services answer for themselves.
        status = self.status if req.service == "iso15118" else "error"
        return models.ServiceStatusResponse.model_validate(
            {
                "service": req.service,
                "software_version": __version__,
                "api_version": API_VERSION,
                "status": status,
            }
        )

    def _on_cp(self, value: models.CpStatusUpdate) -> None:
        before = self.state.set_cp(value)
        if self.hlc is not None:
            self.hlc.on_cp(before, value)
        if before is not None:
            log.info(
                "evse %s connector %s: CP %s -> %s",
                value.evse_id,
                value.connector_id,
                before or "?",
                value.state,
            )

    async def _ask(self, name: str) -> Any:
        """Ask the station until it answers: josev-hal may start after us, or restart."""
        while True:
            try:
                return await self.client.request(name, {})
            except ApiError as exc:
                log.warning("%s: %s; asking again in %.1f s", name, exc, self.retry_delay)
                await asyncio.sleep(self.retry_delay)

    async def _fetch(self, name: str, store: Callable[[Any], None]) -> None:
        store(await self._ask(name))

    async def boot(self) -> None:
        """The boot sequence of josev-api.md: device model, status and limits, parameters.

        The three requests go out together and each answer is stored as it arrives (the state
        does not depend on the order): one wait for josev-hal instead of three, ~0.15 s of a
        1 s start-up budget on a busy 2-core machine."""
        await self.publish_status("starting")
        fetches = [
            asyncio.create_task(self._fetch(name, store)) for name, store in (
                ("device_model", self.state.set_device_model),
                ("cs_status_and_limits", self.state.set_limits),
                ("cs_parameters", self.state.set_parameters),
            )
        ]
        try:
            await asyncio.gather(*fetches)
        finally:
            for task in fetches:
                task.cancel()
        for evse_id in sorted(self.state.evses):
            await self.client.update(
                "iso15118_state_info", {"evse_id": evse_id, "session_status": "Idle"}
            )
        if self.hlc is not None:
            await self.hlc.start()
        await self.publish_status("ready")
        dm = self.state.device_model
        assert dm is not None
        log.info(
            "station %s (%s %s): %d EVSE(s) ready",
            dm.identity,
            dm.vendor,
            dm.model,
            len(self.state.evses),
        )
        self.ready.set()

    async def publish_status(self, status: str) -> None:
        self.status = status
        await self.client.update(
            "service_status",
            {
                "service": "iso15118",
                "software_version": __version__,
                "api_version": API_VERSION,
                "status": status,
            },
        )


def _settle() -> None:
    """Everything allocated so far (modules, models, codecs, the station) lives as long as the
    process: move it out of the garbage collector's sight, so that a full collection during a
    charge loop walks only what the sessions allocate (a full collection of the start-up
    objects takes 15-40 ms here), then let the collector run as usual. Freed C heap goes back
    to the system."""
    gc.freeze()
    gc.enable()
    with contextlib.suppress(OSError, AttributeError):   # glibc only (musl has no trim)
        ctypes.CDLL(None).malloc_trim(0)   # the process's own symbols: no ldconfig run


async def run_service(mqtt: MqttConfig, hlc: HlcConfig | None = None, *,
                      settle: bool = False) -> int:
    """Run until SIGTERM/SIGINT. `settle`: this process is the service itself (the garbage
    collector may have been turned off for the imports: see josev.services.__main__)."""
    if settle:
        gc.freeze()   # the imports: never garbage, never walked again
        gc.enable()
    client = ApiClient(
        {"josev", "iso15118"},
        host=mqtt.host,
        port=mqtt.port,
        username=mqtt.username,
        password=read_password(mqtt.password_file),
        client_id="josev-iso15118",
        persistent=True,
        models=models,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with client:
        service = Iso15118Service(client, hlc=hlc or HlcConfig())
        boot = asyncio.create_task(service.boot())
        watchdog = asyncio.create_task(sdnotify.watchdog_loop())
        ready_or_stop = asyncio.create_task(stop.wait())
        await asyncio.wait({boot, ready_or_stop}, return_when=asyncio.FIRST_COMPLETED)
        if boot.done() and boot.exception() is None:
            sdnotify.notify("READY=1")
            sdnotify.notify("STATUS=ready")
            if settle:
                _settle()
            await stop.wait()
        sdnotify.notify("STOPPING=1")
        with contextlib.suppress(ApiError):
            await asyncio.wait_for(service.publish_status("stopping"), 1.0)
        for task in (boot, watchdog, ready_or_stop):
            task.cancel()
        if service.hlc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(service.hlc.close(), 3.0)
    return 0


def _add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--config", type=Path, default=None, help="josev.toml (default /etc/josev)")
    run.add_argument("--host", help="broker host (overrides [mqtt] host)")
    run.add_argument("--port", type=int, help="broker port (overrides [mqtt] port)")
    run.add_argument("--username", help="broker user (overrides [mqtt] username)")
    run.add_argument("--password-file", type=Path, help="broker password file (overrides [mqtt])")
    run.add_argument("--iface", help="PLC interface (overrides the station's network_interface)")
    run.add_argument("--netns", help="the PLC interface is in this named netns (simulation)")
    run.add_argument("--pki", type=Path, help="PKI store for TLS (josev pki create)")
    run.add_argument("--protocols", help="offered protocols, best first, e.g. ISO20_DC,DIN")
    run.add_argument("--prefer", choices=["ev", "secc"], help="whose priority decides")
    run.add_argument("--no-slac", action="store_true", help="no SLAC (an EV that skips it)")
    run.add_argument("--require-authorization", action="store_true",
                     help="EIM waits for the station's authorization (a card) instead of "
                          "free charging")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    iso = sub.add_parser("iso15118", help="the josev-iso15118 service")
    iso_sub = iso.add_subparsers(dest="iso_command", required=True, metavar="ACTION")
    run = iso_sub.add_parser("run", help="run the service (systemd: Type=notify)")
    _add_run_options(run)
    run.set_defaults(func=_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="josev-iso15118",
                                     description="the josev-iso15118 service (SLAC, SDP, SECC)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    _add_run_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`josev-iso15118 [options]` (via josev.services.__main__): the service alone, as its
    systemd unit starts it.

    Why not `josev iso15118 run`: the full CLI imports every area (the HAL, the PKI tools with
    cryptography, the demo), about 10 MB of resident memory and start-up time that the service
    never uses. Same options, same behaviour."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    try:
        tables = load_tables(args.config, required=args.config is not None)
        mqtt = section(tables, "mqtt", MqttConfig)
        hlc = section(tables, "iso15118", HlcConfig)
    except ConfigError as exc:
        log.error("%s", exc)
        return 78  # EX_CONFIG: systemd shows why the unit failed
    given = (
        ("host", args.host),
        ("port", args.port),
        ("username", args.username),
        ("password_file", args.password_file),
    )
    overrides = {k: v for k, v in given if v is not None}
    hlc_over: dict[str, Any] = {}
    if args.iface:
        hlc_over["iface"] = args.iface
    if args.pki:
        hlc_over["pki"] = args.pki
    if args.netns:
        hlc_over["netns"] = args.netns
    if args.protocols:
        hlc_over["protocols"] = tuple(p.strip() for p in args.protocols.split(",") if p.strip())
    if args.prefer:
        hlc_over["prefer"] = args.prefer
    if args.no_slac:
        hlc_over["slac"] = False
    if args.require_authorization:
        hlc_over["free_charging"] = False
    try:   # the file and the flags together: a bad value ends here with 78, not at boot
        mqtt = mqtt.model_copy(update=overrides)
        hlc = hlc.model_copy(update=hlc_over)
        secc_config(hlc, 1, "x")
    except ValueError as exc:
        log.error("invalid setting: %s", describe_validation_error(exc))
        return 78
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    return asyncio.run(run_service(mqtt, hlc, settle=True))

