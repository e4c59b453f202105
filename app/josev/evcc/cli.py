"""`josev ev run`: our EV simulator against any station on a PLC interface (or veth end).

Everything comes from flags or an EV file (`--config ev.toml`, the field names of
josev.evcc.common.ev.EvConfig; flags win). With `--sim-port` it also drives the simulated
station's cable (josev-hal's sim/ channel): plug, CP B/C, battery voltage, unplug.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from josev.evcc.common.ev import EvConfig

log = logging.getLogger("josev.evcc")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ev = sub.add_parser("ev", help="the EV simulator")
    ev_sub = ev.add_subparsers(dest="ev_command", required=True, metavar="ACTION")
    run = ev_sub.add_parser("run", help="charge once at the station on --iface")
    run.add_argument("--iface", required=True, help="the EV's PLC interface (or veth end)")
    run.add_argument("--netns", help="the interface is in this named network namespace")
    run.add_argument("--config", type=Path, help="EV settings file (TOML, EvConfig names)")
    run.add_argument("--protocols", help="offered, best first, e.g. ISO20_DC,DIN")
    run.add_argument("--soc", type=float)
    run.add_argument("--target-soc", type=float)
    run.add_argument("--capacity-wh", type=float)
    run.add_argument("--max-current", type=float)
    run.add_argument("--max-voltage", type=float)
    run.add_argument("--max-power", type=float)
    run.add_argument("--control-mode", choices=["dynamic", "scheduled"])
    run.add_argument("--ac", action="store_true", default=None, help="charge AC")
    run.add_argument("--bpt", action="store_true", default=None, help="-20 BPT service")
    run.add_argument("--time-scale", type=float, help="battery clock speed-up")
    run.add_argument("--pause-at-soc", type=float)
    run.add_argument("--resume-after", type=float,
                     help="s asleep before the EV wakes the station itself (B-C-B toggles)")
    run.add_argument("--bcb-toggles", type=int, help="B-C-B toggles to wake the station (1..3)")
    run.add_argument("--unplug-at-soc", type=float)
    run.add_argument("--pki", type=Path, help="PKI store (josev pki create) for TLS")
    run.add_argument("--no-tls", action="store_true", help="ask for plain TCP")
    run.add_argument("--no-slac", action="store_true", help="go straight to SDP")
    run.add_argument("--sim-host", default="127.0.0.1")
    run.add_argument("--sim-port", type=int, help="broker of a simulated station (sim/ cable)")
    run.add_argument("--sim-user")
    run.add_argument("--sim-password-file", type=Path)
    run.add_argument("--plot", type=Path, help="write the session plot (SVG) here")
    run.set_defaults(func=_run)


def config_from(args: argparse.Namespace) -> EvConfig:
    over: dict[str, Any] = {k: getattr(args, k) for k in (
        "soc", "target_soc", "capacity_wh", "max_current", "max_voltage", "max_power",
        "control_mode", "ac", "bpt", "time_scale", "pause_at_soc", "resume_after", "bcb_toggles",
        "unplug_at_soc")}
    if args.protocols:
        over["protocols"] = tuple(p.strip() for p in args.protocols.split(",") if p.strip())
    if args.config is not None:
        return EvConfig.from_toml(args.config, **over)
    return EvConfig(**{k: v for k, v in over.items() if v is not None})


async def _charge(args: argparse.Namespace, cfg: EvConfig) -> int:
    from josev.evcc.driver import Cable, EvDriver, NoCable, SimCable
    from josev.services.hlc import iface_in_netns
    from josev.transport.iface import PlcInterface

    iface = iface_in_netns(args.netns, args.iface) if args.netns else \
        PlcInterface.lookup(args.iface)

    def show(p: Any) -> None:
        v = p.values
        print(f"{p.state:<24} {v['voltage']:6.1f} V {v['current']:6.1f} A "
              f"{v['power'] / 1000:6.1f} kW  SoC {v['soc']:5.1f} %", flush=True)

    async def go(cable: Cable) -> int:
        driver = EvDriver(cfg, iface, cable=cable, pki=args.pki, tls=not args.no_tls,
                          on_progress=show, slac=not args.no_slac)
        result = await driver.run()
        for end in result.ends:
            print(f"session: {'OK' if end.ok else 'FAILED'}: {end.reason}")
        print(f"protocol {result.protocol}, transport {result.tls or 'TCP'}, "
              f"SoC {cfg.soc:.1f} -> {driver.ev.soc:.1f} %, {driver.ev.energy_wh / 1000:.2f} kWh")
        if args.plot is not None:
            from josev.evcc.plot import session_svg

            args.plot.write_text(session_svg(result.samples, f"{result.protocol} session"))
        return 0 if result.ok else 1

    if args.sim_port is None:
        return await go(NoCable())
    password = args.sim_password_file.read_text().strip() if args.sim_password_file else None
    async with SimCable(args.sim_host, args.sim_port, username=args.sim_user,
                        password=password) as cable:
        return await go(cable)


def _run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    try:
        return asyncio.run(_charge(args, cfg))
    except Exception as exc:   # an interface or namespace that is not there: say so
        print(f"error: {exc}", file=sys.stderr)
        return 1
