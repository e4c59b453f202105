"""The `josev-hal` command: `run` the service, `sim ...` drive the simulated station.

Also registered in the `josev` CLI as `josev hal ...` (register()).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from josev_hal.config import DEFAULT_PATH, ConfigError, HalConfig, load
from josev_hal.sim.protocol import _Msg as _SimMsg

log = logging.getLogger("josev_hal")


def _add_broker(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None,
                   help=f"TOML file with a [hal] table (default: {DEFAULT_PATH} if it exists, "
                   "else the built-in simulator defaults)")
    p.add_argument("--host", help="broker host (overrides hal.mqtt.host)")
    p.add_argument("--port", type=int, help="broker port (overrides hal.mqtt.port)")
    p.add_argument("--username", help="broker user (overrides hal.mqtt.username)")
    p.add_argument("--password-file", type=Path, help="file holding the broker password")


def _config(args: argparse.Namespace) -> tuple[HalConfig, str | None]:
    path = args.config
    if path is None and DEFAULT_PATH.exists():
        path = DEFAULT_PATH
    cfg = load(path)
    if args.func is cmd_run:
        log.info("configuration: %s (%s backend)", path or "built-in defaults", cfg.backend)
    mqtt = cfg.mqtt.model_copy(update={
        k: v for k, v in (("host", args.host), ("port", args.port),
                          ("username", args.username), ("password_file", args.password_file))
        if v is not None
    })
    cfg = cfg.model_copy(update={"mqtt": mqtt})
    password = None
    if mqtt.password_file is not None:
        try:
            password = mqtt.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"password file {mqtt.password_file}: {exc}") from exc
    return cfg, password


def cmd_run(args: argparse.Namespace) -> int:
    from josev_hal.service import HalService

    try:
        cfg, password = _config(args)
        service = HalService(cfg, password=password)
    except ConfigError as exc:
        print(f"josev-hal: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            if not stop.is_set():
                log.info("%s received", sig.name)
                _arm_exit_guard(cfg.shutdown_timeout_s)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, on_signal, sig)
        await service.run(stop)
        # asyncio.run() would cancel what is left once and wait for it without a limit.
        from josev.tasks import cancel_and_wait

        me = asyncio.current_task()
        await cancel_and_wait([t for t in asyncio.all_tasks() if t is not me], 1.0,
                              "remaining tasks")

    asyncio.run(main())
    return 0


def _arm_exit_guard(limit: float) -> None:
    """A daemon timer: if the orderly shutdown (every step bounded) still has not finished,
    dump every thread's stack to stderr (the journal) and exit 1 rather than hang."""
    import faulthandler
    import os
    import threading

    def expire() -> None:
        log.critical("shutdown did not finish within %.0f s: thread stacks follow; exiting 1",
                     limit)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)

    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()


def sim_command(args: argparse.Namespace) -> _SimMsg | None:
    """The control-channel message a `sim` sub-command sends (None: `state` only reads)."""
    from josev_hal.sim import protocol as p

    e = args.evse
    action = args.sim_command
    cmd: p._Msg
    if action == "tap":
        cmd = p.Tap(evse_id=e, uid=args.uid)
    elif action == "plug":
        cmd = p.Plug(evse_id=e, pp_ohm=args.pp_ohm)
    elif action == "unplug":
        cmd = p.Unplug(evse_id=e)
    elif action == "cp":
        cmd = p.SetCp(evse_id=e, state=args.state)
    elif action == "battery":
        cmd = p.SetBattery(evse_id=e, voltage=args.voltage, max_current=args.max_current)
    elif action == "estop":
        cmd = p.EmergencyStop(evse_id=e, pressed=args.state == "press")
    elif action == "isolation":
        cmd = p.SetIsolation(evse_id=e, resistance_ohm=args.ohm)
    elif action == "ev-contactor":
        cmd = p.SetEvContactor(evse_id=e, mode=args.mode)
    elif action == "supply-fault":
        cmd = p.SupplyFault(evse_id=e, fault=None if args.clear else args.text)
    elif action == "weld":
        cmd = p.WeldContactor(evse_id=e, welded=args.state == "on")
    elif action == "rcd":
        cmd = p.Rcd(evse_id=e, tripped=args.state == "trip")
    else:  # state
        return None
    return cmd


def cmd_config(args: argparse.Namespace) -> int:
    """Validate the configuration and print the effective settings (every default filled in)."""
    try:
        cfg, _password = _config(args)
    except ConfigError as exc:
        print(f"josev-hal: {exc}", file=sys.stderr)
        return 2
    print(cfg.model_dump_json(indent=2))
    return 0


def cmd_can_link(args: argparse.Namespace) -> int:
    """Print two joined serial ports and relay between them until interrupted."""
    import time

    from josev_hal.power.ptylink import PtyLink

    link = PtyLink()
    print(f"{link.a_path} {link.b_path}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        link.close()


def cmd_modules(args: argparse.Namespace) -> int:
    """Run the CAN power-module simulator as its own process, on any python-can bus."""
    import time

    import can

    from josev_hal.power.modsim import ModuleSimulator

    addresses = [int(a, 0) for a in args.addresses.split(",") if a]
    try:
        bus = can.Bus(interface=args.interface, channel=args.channel, bitrate=args.bitrate)
    except (can.CanError, OSError, ValueError) as exc:
        print(f"josev-hal sim modules: {exc}", file=sys.stderr)
        return 1
    sim = ModuleSimulator(bus, args.protocol, addresses, load_ohm=args.load_ohm)
    log.info("simulating %s modules %s on %s %s", args.protocol, addresses, args.interface,
             args.channel)
    try:
        while True:
            sim.poll(time.monotonic())
            time.sleep(0.002)
    finally:
        bus.shutdown()


def cmd_sim(args: argparse.Namespace) -> int:
    from josev_hal.sim.client import SimClient

    try:
        cfg, password = _config(args)
    except ConfigError as exc:
        print(f"josev-hal: {exc}", file=sys.stderr)
        return 2
    cmd = sim_command(args)

    async def main() -> int:
        async with SimClient(cfg.mqtt.host, cfg.mqtt.port, cfg.sim_topic_prefix,
                             cfg.mqtt.username, password) as sim:
            if cmd is not None:
                await sim.send(cmd)
                return 0
            state = await sim.wait_for(lambda s: True, timeout=5.0, evse_id=args.evse)
            print(state.model_dump_json(indent=2))
            return 0

    try:
        return asyncio.run(main())
    except (OSError, TimeoutError) as exc:
        print(f"josev-hal sim: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # aiomqtt.MqttError and friends: say what failed, no traceback
        print(f"josev-hal sim: {exc}", file=sys.stderr)
        return 1


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the HAL service (answers the Josev API)")
    _add_broker(run)
    run.set_defaults(func=cmd_run)
    check = sub.add_parser("config", help="validate the configuration, print it with defaults")
    _add_broker(check)
    check.set_defaults(func=cmd_config)
    sim = sub.add_parser("sim", help="drive the simulated station (sim/ topics)")
    simsub = sim.add_subparsers(dest="sim_command", required=True, metavar="ACTION")

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        p = simsub.add_parser(name, help=help_)
        _add_broker(p)
        p.add_argument("--evse", type=int, default=1, help="EVSE id (default 1)")
        p.set_defaults(func=cmd_sim)
        return p

    action("tap", "present a card to the reader").add_argument("uid", help="card UID (hex)")
    action("plug", "plug the EV in").add_argument("--pp-ohm", type=float, default=220.0)
    action("unplug", "unplug the EV")
    action("cp", "set the EV's CP state").add_argument("state", choices=["B", "C", "D"])
    bat = action("battery", "set the EV battery (DC load)")
    bat.add_argument("voltage", type=float)
    bat.add_argument("--max-current", type=float, default=500.0)
    action("estop", "press or release the e-stop").add_argument("state",
                                                                choices=["press", "release"])
    action("isolation", "set the cable's isolation resistance").add_argument("ohm", type=float)
    action("ev-contactor", "the EV's own contactor").add_argument(
        "mode", choices=["auto", "open", "closed"])
    fault = action("supply-fault", "inject (or --clear) a power-module fault")
    fault.add_argument("text", nargs="?", default="module 1: over-temperature")
    fault.add_argument("--clear", action="store_true")
    action("weld", "weld the contactors (or not)").add_argument("state", choices=["on", "off"])
    action("rcd", "trip or reset the RCD").add_argument("state", choices=["trip", "reset"])
    action("state", "print the station's simulated state once")
    link = simsub.add_parser("can-link", help="two joined serial ports for slcan (prints both)")
    link.set_defaults(func=cmd_can_link)
    mods = simsub.add_parser("modules", help="run the CAN power-module simulator")
    mods.add_argument("--protocol", choices=["infypower", "winline"], default="infypower")
    mods.add_argument("--interface", default="slcan", help="python-can interface")
    mods.add_argument("--channel", required=True, help="e.g. a path from `sim can-link`")
    mods.add_argument("--bitrate", type=int, default=125000)
    mods.add_argument("--addresses", default="1", help="module addresses, e.g. 1,2,3")
    mods.add_argument("--load-ohm", type=float, default=4.0, help="resistive load")
    mods.set_defaults(func=cmd_modules)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="josev-hal", description="Josev HAL (station side)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(sub)
    return parser


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`josev hal ...`: the same commands under the josev CLI."""
    hal = subparsers.add_parser("hal", help="the station side (HAL): run, sim")
    add_commands(hal.add_subparsers(dest="hal_command", required=True, metavar="COMMAND"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO - 10 * min(args.verbose, 1) if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        rc: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
