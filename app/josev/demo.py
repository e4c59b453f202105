"""`josev demo`: the main job. A whole simulated station charging our EV simulator.

A private broker (one user per service, passwords made per run), josev-hal on the simulated
station and josev-iso15118, each a real process as on the station; the PLC link is a veth pair
between two network namespaces (josev.netsim): josev-iso15118's SECC sockets live in the EVSE
namespace, the EV simulator's in the EV namespace. The EV plugs in through the simulator's
`sim/ev` channel, finds the SECC with SDP, opens TLS (1.3 for -20, 1.2 for -2) or TCP (DIN) and
charges; live progress (state, voltage, current, power, SoC) is printed, and at the end a
summary and an SVG plot.

`--station-only` keeps the station up for an EV that is not ours and prints one line

    EV-ATTACH netns=<namespace> iface=<interface> ll=<EVSE link-local> evse_ll=...

naming the network namespace and interface the external EV must use; it runs until Ctrl-C.
The link carries SLAC too (simulated modems: no CM_SET_KEY hardware); `--no-slac` turns it off
on both sides, for an external EV that starts with SDP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from josev.api.cli import format_line
from josev.api.envelope import decode
from josev.api.errors import InvalidMessage
from josev.api.registry import TOPICS
from josev.localbroker import Broker, BrokerError

SERVICES = ("hal", "iso15118", "demo")


@dataclass
class Traffic:
    """What the watcher saw: counts per message, invalid lines, and the latest values."""

    counts: Counter[str] = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, topic: str, payload: bytes) -> str | None:
        """Return the line to print, or None for repeats of the periodic sim/station state."""
        if topic.startswith("sim/"):
            try:
                state = json.loads(payload)
            except ValueError:
                return f"{topic:<22} INVALID  {payload[:120]!r}"
            if not isinstance(state, dict):
                return None
            key = f"{topic}:{state.get('evse_id', '')}"
            stable = {k: v for k, v in state.items() if k not in ("time", "energy_wh")}
            before = self.latest.get(key)
            self.latest[key] = state
            self.changed.set()
            if (
                before is not None
                and {k: v for k, v in before.items() if k not in ("time", "energy_wh")} == stable
            ):
                return None
            return f"{topic:<22} {json.dumps(stable, separators=(',', ':'))}"
        line = format_line(topic, payload)
        if " INVALID " in line:
            self.invalid.append(line)
        else:
            try:
                obj = json.loads(payload)
                self.counts[f"{obj['name']} {obj['type']}"] += 1
                self.latest[f"{obj['name']}:{obj['type']}"] = obj["data"]
            except (ValueError, KeyError, TypeError):
                pass
        self.changed.set()
        return line

    async def wait(self, what: str, predicate: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


class Stack:
    """The station's processes on one machine, each with its own broker user and log file."""

    def __init__(self, workdir: Path, ready_timeout: float = 30.0) -> None:
        self.workdir = workdir
        self.ready_timeout = ready_timeout
        self.broker = Broker(workdir / "broker", users=list(SERVICES))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}

    def broker_args(self, user: str) -> list[str]:
        return [
            "--host",
            self.broker.host,
            "--port",
            str(self.broker.port),
            "--username",
            user,
            "--password-file",
            str(self.broker.password_files[user]),
        ]

    def start(self, iso_args: list[str] | None = None,
              hal_args: list[str] | None = None) -> None:
        self.broker.start()
        python = sys.executable
        commands = {
            "hal": [python, "-m", "josev_hal.cli", "run", *self.broker_args("hal"),
                    *(hal_args or [])],
            # the service's own lean entry point, as its unit on the appliance runs it
            "iso15118": [
                python,
                "-m",
                "josev.services",
                *self.broker_args("iso15118"),
                *(iso_args or []),
            ],
        }
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("NOTIFY_SOCKET", None)
        for name, cmd in commands.items():
            log = (self.workdir / f"{name}.log").open("wb")
            self.started[name] = time.perf_counter()
            self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            if name == "hal":
                self._wait_log("hal", "josev-hal ready", self.ready_timeout)

    def _wait_log(self, name: str, needle: str, timeout: float) -> None:
        """josev-hal first: josev-iso15118 then boots at once instead of retrying its
        requests (each waits for a response up to its timeout)."""
        deadline = time.monotonic() + timeout
        path = self.workdir / f"{name}.log"
        while needle not in path.read_text(errors="replace"):
            self.check()
            if time.monotonic() > deadline:
                return   # josev-iso15118 copes with a late station: it asks again
            time.sleep(0.02)

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> dict[str, int]:
        codes = {}
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        self.broker.stop()
        return codes


async def _watch(stack: Stack, traffic: Traffic, out: Callable[[str], None]) -> None:
    password = stack.broker.password_files["demo"].read_text().strip()
    async with aiomqtt.Client(
        stack.broker.host, stack.broker.port, username="demo", password=password
    ) as client:
        for topic in (*TOPICS, "sim/#"):
            await client.subscribe(topic, qos=1)
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            line = traffic.record(str(message.topic), payload)
            if line is not None:
                out(line)


QUIET = ("power_electronics_setpoint", "meter_values", "cs_status_and_limits update",
         "iso15118_state_info", "sim/station")

PROTOCOL_FLAGS = {
    "iso20-dc": ("ISO20_DC",),
    "din": ("DIN",),
    "iso2-dc": ("ISO2",),
    "iso2-ac": ("ISO2",),
    "iso20-ac": ("ISO20_AC",),
    "iso20-dc-bpt": ("ISO20_DC",),
    "iso20-ac-bpt": ("ISO20_AC",),
}
NOT_YET: tuple[str, ...] = ()
# A bidirectional DC station: its modules may take up to 100 A / 40 kW back from the EV.
DC_BPT_STATION = """
[hal]
meter_update_s = 1.0
[[hal.evses]]
[hal.evses.power]
max_discharge_current = 100.0
max_discharge_power = 40000.0
"""
# Without --soc/--target-soc: charge 30 -> 80 %, or for BPT give energy back, 80 -> 50 %.
SOC_DEFAULTS = {"charge": (30.0, 80.0), "bpt": (80.0, 50.0)}
AC_STATION = """
[hal]
[[hal.evses]]
kind = "ac"
[[hal.evses.connectors]]
id = 1
connector_type = "cType2"
cable_max_current = 32.0
"""
# A bidirectional AC station: the EV's inverter may feed back up to 16 A per phase.
AC_BPT_STATION = AC_STATION.replace("[hal]\n", "[hal]\nmeter_update_s = 1.0\n") + """
[hal.evses.ac]
max_discharge_current = 16.0
"""


def _station_iso_args(link: Any, pki: Path | None, protocols: str,
                      slac: bool = True) -> list[str]:
    args = ["--netns", link.evse.netns.name, "--iface", link.evse.ifname,
            "--protocols", protocols]
    if not slac:
        args.append("--no-slac")
    if pki is not None:
        args += ["--pki", str(pki)]
    return args


async def _wait_ready(traffic: Traffic, stack: Stack, timeout: float) -> None:
    await traffic.wait(
        "josev-iso15118 ready",
        lambda: traffic.latest.get("service_status:update", {}).get("status") == "ready",
        timeout,
    )
    stack.check()


class Progress:
    """Prints one progress line per state change and at most every `every` seconds."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.last_state = ""
        self.last_at = -1e9
        self.t0: float | None = None

    def __call__(self, p: Any) -> None:
        if self.t0 is None:
            self.t0 = p.now
        if p.state == self.last_state and p.now - self.last_at < self.every:
            return
        self.last_state, self.last_at = p.state, p.now
        v = p.values
        print(f"  [{p.now - self.t0:6.1f} s] {p.state:<24} {v['voltage']:6.1f} V "
              f"{v['current']:6.1f} A {v['power'] / 1000:6.1f} kW  SoC {v['soc']:5.1f} %",
              flush=True)


async def _ev_session(args: argparse.Namespace, stack: Stack, link: Any, pki: Path | None,
                      workdir: Path, say: Callable[[str], None]) -> tuple[int, list[str]]:
    from josev.evcc.common.ev import EvConfig
    from josev.evcc.driver import EvDriver, SimCable
    from josev.evcc.plot import session_svg

    soc, target = SOC_DEFAULTS["bpt" if args.protocol.endswith("bpt") else "charge"]
    cfg = EvConfig(protocols=PROTOCOL_FLAGS[args.protocol],
                   soc=soc if args.soc is None else args.soc,
                   target_soc=target if args.target_soc is None else args.target_soc,
                   time_scale=args.time_scale,
                   control_mode=args.control_mode, bpt=args.protocol.endswith("bpt"),
                   ac="-ac" in args.protocol)
    password = stack.broker.password_files["demo"].read_text().strip()
    say(f"EV simulator in netns {link.ev.netns.name} ({link.ev.ifname}): plugs in, "
        f"{cfg.protocols[0]} {cfg.control_mode}, SoC {cfg.soc:.0f} -> {cfg.target_soc:.0f} %, "
        f"battery clock x{cfg.time_scale:g}")
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable:
        driver = EvDriver(cfg, link.ev.plc_interface(), cable=cable, pki=pki,
                          tls=not args.no_tls, on_progress=Progress(), slac=not args.no_slac)
        started = time.monotonic()
        result = await driver.run()
        took = time.monotonic() - started
    slac = f"SLAC matched in {result.slac_s:.2f} s" if result.slac_s is not None else "no SLAC"
    lines = [
        f"{slac}   protocol: {result.protocol}   transport: {result.tls or 'TCP'}",
        f"result: {'OK' if result.ok else 'FAILED'} ({'; '.join(e.reason for e in result.ends)})",
        f"energy: {driver.ev.energy_wh / 1000:.2f} kWh   SoC {cfg.soc:.1f} -> "
        f"{driver.ev.soc:.1f} %   wall time {took:.1f} s",
    ]
    if cfg.bpt:
        lines.append(f"discharged (V2G): {driver.ev.discharged_wh / 1000:.2f} kWh from the EV's "
                     "battery")
    peak = max((s.values["power"] for s in result.samples), default=0.0, key=abs)
    lines.append(f"peak power: {peak / 1000:.1f} kW   charge-loop samples: "
                 f"{sum(1 for s in result.samples if s.state == 'ChargingLoop')}")
    loops = sorted(t for n, t in result.round_trips if n in ("DC_ChargeLoop", "CurrentDemand"))
    if loops:
        lines.append(f"charge loop round trip (EV side, {result.tls or 'TCP'}): p50 "
                     f"{loops[len(loops) // 2] * 1000:.2f} ms, max {loops[-1] * 1000:.2f} ms")
    svg = workdir / "session.svg"
    svg.write_text(session_svg(result.samples, f"{result.protocol} session, josev demo"))
    lines.append(f"plot: {svg}")
    return (0 if result.ok else 1), lines


async def _run(args: argparse.Namespace, workdir: Path) -> int:
    from josev import netsim
    from josev.pki import create_pki

    traffic = Traffic()

    def out(line: str) -> None:
        if args.verbose or not any(q in line for q in QUIET):
            print(line, flush=True)

    def say(text: str) -> None:
        print(f"\n>>> {text}", flush=True)

    reason = netsim.unavailable_reason()
    if reason is not None:
        print(f"error: the simulated PLC link needs network namespaces: {reason}",
              file=sys.stderr)
        return 1
    pki = None if args.no_tls else create_pki(workdir / "pki")
    link = netsim.Link.create()
    stack = Stack(workdir, args.ready_timeout)
    say(f"PLC link {link.tag}: EVSE {link.evse.netns.name}/{link.evse.ifname}, "
        f"EV {link.ev.netns.name}/{link.ev.ifname} (veth with simulated modems: SLAC, SDP, "
        f"TLS and V2G cross it)")
    kind = "AC" if "-ac" in args.protocol or args.station_kind == "ac" else "DC"
    say(f"starting mosquitto, josev-hal (simulated {kind} station) and josev-iso15118; logs in "
        f"{workdir}")
    protocols = "ISO20_DC,ISO20_AC,ISO2,DIN"
    hal_args: list[str] = []
    if args.protocol == "iso20-ac-bpt":
        (workdir / "hal.toml").write_text(AC_BPT_STATION)
        hal_args = ["--config", str(workdir / "hal.toml")]
    elif "-ac" in args.protocol or args.station_kind == "ac":
        (workdir / "hal.toml").write_text(AC_STATION)
        hal_args = ["--config", str(workdir / "hal.toml")]
    elif args.protocol == "iso20-dc-bpt":
        (workdir / "hal.toml").write_text(DC_BPT_STATION)
        hal_args = ["--config", str(workdir / "hal.toml")]
    try:
        stack.start(_station_iso_args(link, pki, protocols, not args.no_slac), hal_args)
    except BrokerError as exc:
        link.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    watcher = asyncio.create_task(_watch(stack, traffic, out))
    rc = 0
    summary: list[str] = []
    try:
        await _wait_ready(traffic, stack, args.ready_timeout)
        say("josev-iso15118 booted against josev-hal and listens on the EVSE side of the link")
        if args.station_only:
            ev = link.ev
            print(f"EV-ATTACH netns={ev.netns.name} iface={ev.ifname} ll={ev.link_local} "
                  f"evse_ll={link.evse.link_local} pki={pki or '-'}", flush=True)
            say(f"station up (broker 127.0.0.1:{stack.broker.port}); a simulated cable is "
                "plugged in with the EV in CP state C (B after the EV's PowerDelivery stop, as "
                "its S2 switch would); Ctrl-C to stop")
            await _external_cable(stack, args.ev_battery)
            pilot = asyncio.create_task(_external_pilot(stack))
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            while not stop.is_set():
                stack.check()
                if pilot.done():
                    pilot.result()   # its failure is the demo's
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            pilot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pilot
        else:
            rc, summary = await _ev_session(args, stack, link, pki, workdir, say)
            await asyncio.sleep(0.5)  # let the last updates arrive before the summary
            summary.extend(await _station_turnaround(workdir / "iso15118.log"))
    except (TimeoutError, RuntimeError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        for name in stack.procs:
            print(f"--- {name}.log (tail)", file=sys.stderr)
            text = (workdir / f"{name}.log").read_text(errors="replace")
            print(text[-1500:], file=sys.stderr)
        rc = 1
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await watcher
        codes = stack.stop()
        link.close()
    say("summary")
    for line in summary:
        print(f"  {line}")
    meter = traffic.latest.get("meter_values:update")
    if meter is not None:
        print(f"  station meter: {meter.get('total_active_energy_imported', 0.0) / 1000:.3f} "
              f"kWh imported, {(meter.get('total_active_energy_exported') or 0.0) / 1000:.3f} "
              "kWh exported (real time; the EV's battery clock runs faster)")
    for key, count in sorted(traffic.counts.items()):
        print(f"  {count:5d}  {key}")
    print(f"  invalid messages: {len(traffic.invalid)}")
    print(f"  service exit codes: {codes}")
    if traffic.invalid or any(code != 0 for code in codes.values()):
        rc = rc or 1
    return rc


async def _station_turnaround(log: Path, wait: float = 5.0) -> list[str]:
    """The station's own figure: josev-iso15118 logs, per session, request received -> response
    written per message type. It writes that line once the V2G connection has closed, so wait
    for it (bounded) instead of racing the shutdown."""
    for _ in range(int(wait / 0.1)):
        text = await asyncio.to_thread(log.read_text, errors="replace")
        lines = [ln for ln in text.splitlines()
                 if "turnaround {" in ln]
        if lines:
            break
        await asyncio.sleep(0.1)
    else:
        return ["station turnaround: not logged (the session did not reach its end)"]
    stats = json.loads(lines[-1][lines[-1].index("turnaround ") + len("turnaround "):])
    loop = {k: v for k, v in stats.items()
            if k in ("DC_ChargeLoopRes", "AC_ChargeLoopRes", "CurrentDemandRes",
                     "ChargingStatusRes")}
    return [f"station turnaround {name} (request in -> response out): p50 {v['p50']:.2f} ms, "
            f"p99 {v['p99']:.2f} ms, max {v['max']:.2f} ms, n {v['n']}"
            for name, v in sorted(loop.items())]


async def _external_cable(stack: Stack, battery: float) -> None:
    """An EV we did not write knows nothing of sim/ev: plug a cable for it, CP C, a battery."""
    from josev.evcc.driver import SimCable

    password = stack.broker.password_files["demo"].read_text().strip()
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable:
        await cable.command("battery", voltage=battery)
        await cable.command("ev_contactor", mode="auto")
        await cable.command("plug", pp_ohm=220.0)
        await cable.command("cp", state="C")


def pilot_for(previous: str, status: str, cp: str) -> str:
    """The CP state an EV's S2 switch gives, from the session state the station publishes.

    An EV we did not write has no simulated cable; its S2 is emulated: closed (C) for the
    energy transfer, from CableCheck (DC) or a PowerDelivery start; open (B) once the EV has
    asked to stop, i.e. the PowerDelivery that follows the charge loop (DIN [V2G-DC-556] and
    -2 expect B before WeldingDetection/SessionStop). Anything else keeps the present state."""
    if status == "PowerDelivery" and previous == "ChargingLoop":
        return "B"
    if status == "CableCheck" or (status == "PowerDelivery" and cp == "B"):
        return "C"
    return cp


async def _external_pilot(stack: Stack) -> None:
    """Follow iso15118_state_info and move the simulated cable's CP as the EV's S2 would."""
    from josev.evcc.driver import SimCable

    password = stack.broker.password_files["demo"].read_text().strip()
    previous, cp = "Idle", "C"
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable, aiomqtt.Client(
            stack.broker.host, stack.broker.port, username="demo", password=password) as client:
        await client.subscribe("josev/cs", qos=1)
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            try:
                msg = decode(str(message.topic), payload)
            except InvalidMessage:
                continue   # not ours to judge: the services log invalid messages
            if msg.name != "iso15118_state_info" or msg.type != "update":
                continue
            status = msg.data.session_status
            wanted = pilot_for(previous, status, cp)
            if wanted != cp:
                await cable.command("cp", state=wanted)
                cp = wanted
            previous = status


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="the main job: a simulated station charging our EV")
    demo.add_argument(
        "--station-only",
        action="store_true",
        help="start the station and keep it running until interrupted (prints EV-ATTACH)",
    )
    demo.add_argument("--protocol", default="iso20-dc",
                      choices=[*PROTOCOL_FLAGS, *NOT_YET],
                      help="what the EV speaks (default iso20-dc)")
    demo.add_argument("--control-mode", default="dynamic", choices=["dynamic", "scheduled"],
                      help="-20 control mode (default dynamic)")
    demo.add_argument("--soc", type=float, default=None,
                      help="start SoC %% (default 30; BPT: 80)")
    demo.add_argument("--target-soc", type=float, default=None,
                      help="target SoC %% (default 80; BPT: 50, below the start: the EV gives "
                           "energy back)")
    demo.add_argument("--time-scale", type=float, default=60.0,
                      help="battery clock speed-up (default 60: minutes become seconds)")
    demo.add_argument("--no-tls", action="store_true", help="plain TCP instead of TLS")
    demo.add_argument("--no-slac", action="store_true",
                      help="no SLAC on either side (an EV that goes straight to SDP)")
    demo.add_argument("--station-kind", choices=["dc", "ac"], default="dc",
                      help="--station-only: the simulated station's power path (default dc)")
    demo.add_argument("--ev-battery", type=float, default=400.0,
                      help="--station-only: the simulated cable's battery voltage (default 400)")
    demo.add_argument("--verbose", action="store_true", help="print every API message")
    demo.add_argument("--ready-timeout", type=float, default=30.0,
                      help="seconds to wait for each service to be ready (raise it under "
                           "emulation, e.g. 180 in the QEMU image)")
    demo.add_argument("--workdir", help="where logs and the broker's files go (default out/...)")
    demo.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.protocol in NOT_YET:
        print(f"error: --protocol {args.protocol} is not implemented yet "
              f"(available: {', '.join(PROTOCOL_FLAGS)})", file=sys.stderr)
        return 2
    workdir = Path(args.workdir or f"out/demo-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(args, workdir))


__all__ = ["register"]
