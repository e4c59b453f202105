"""`josev demo`: the main job. Brings up a whole simulated station and shows the API live.

A private broker (one user per service, passwords made per run), josev-hal on the simulated
station, and josev-iso15118, each a real process as on the station. A scripted EV then plugs in,
moves the control pilot through B and C, and unplugs, while every Josev API message is printed
as it crosses the broker. `--station-only` keeps the station up until Ctrl-C instead.
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

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.broker = Broker(workdir / "broker", users=list(SERVICES))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

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

    def start(self) -> None:
        self.broker.start()
        python = sys.executable
        commands = {
            "hal": [python, "-m", "josev_hal.cli", "run", *self.broker_args("hal")],
            "iso15118": [
                python,
                "-m",
                "josev.cli",
                "iso15118",
                "run",
                *self.broker_args("iso15118"),
            ],
        }
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("NOTIFY_SOCKET", None)
        for name, cmd in commands.items():
            log = (self.workdir / f"{name}.log").open("wb")
            self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

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


async def _sim(stack: Stack, topic: str, command: dict[str, Any]) -> None:
    password = stack.broker.password_files["demo"].read_text().strip()
    async with aiomqtt.Client(
        stack.broker.host, stack.broker.port, username="demo", password=password
    ) as client:
        await client.publish(topic, json.dumps(command), qos=1)


def _station(traffic: Traffic) -> dict[str, Any]:
    return traffic.latest.get("sim/station:1", {})


async def _scenario(stack: Stack, traffic: Traffic, say: Callable[[str], None]) -> None:
    """Plug in, B, C, unplug: every step waits for the station to show its effect."""
    await traffic.wait(
        "josev-iso15118 ready",
        lambda: traffic.latest.get("service_status:update", {}).get("status") == "ready",
        30,
    )
    say("josev-iso15118 booted against josev-hal: device model, limits and parameters read")
    steps: list[tuple[str, str, dict[str, Any], str, Callable[[], bool]]] = [
        (
            "EV plugs in a 32 A cable (PP 220 Ohm)",
            "sim/ev",
            {"action": "plug", "pp_ohm": 220.0},
            "CP state B",
            lambda: _cp(traffic).startswith("B"),
        ),
        (
            "EV closes S2: CP state C",
            "sim/ev",
            {"action": "cp", "state": "C"},
            "CP state C",
            lambda: _cp(traffic).startswith("C"),
        ),
        (
            "EV opens S2: back to B",
            "sim/ev",
            {"action": "cp", "state": "B"},
            "CP state B",
            lambda: _cp(traffic).startswith("B"),
        ),
        (
            "EV unplugs",
            "sim/ev",
            {"action": "unplug"},
            "CP state A",
            lambda: _cp(traffic).startswith("A"),
        ),
    ]
    for text, topic, command, what, done in steps:
        say(text)
        await _sim(stack, topic, command)
        await traffic.wait(what, done, 15)
        stack.check()


def _cp(traffic: Traffic) -> str:
    state: str = traffic.latest.get("cp_status:update", {}).get("state", "")
    return state


async def _run(args: argparse.Namespace, workdir: Path) -> int:
    traffic = Traffic()

    def out(line: str) -> None:
        print(line, flush=True)

    def say(text: str) -> None:
        print(f"\n>>> {text}", flush=True)

    stack = Stack(workdir)
    say(
        f"starting mosquitto, josev-hal (simulated DC station) and josev-iso15118; logs in "
        f"{workdir}"
    )
    try:
        stack.start()
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    watcher = asyncio.create_task(_watch(stack, traffic, out))
    rc = 0
    try:
        if args.station_only:
            say(f"station up: broker 127.0.0.1:{stack.broker.port}; Ctrl-C to stop")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            while not stop.is_set():
                stack.check()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        else:
            await _scenario(stack, traffic, say)
            await asyncio.sleep(0.5)  # let the last updates arrive before the summary
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
    say("summary")
    for key, count in sorted(traffic.counts.items()):
        print(f"  {count:4d}  {key}")
    print(f"  invalid messages: {len(traffic.invalid)}")
    print(f"  service exit codes: {codes}")
    if traffic.invalid or any(code != 0 for code in codes.values()):
        rc = rc or 1
    return rc


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="the main job: a simulated station with live API traffic")
    demo.add_argument(
        "--station-only",
        action="store_true",
        help="start the station and keep it running until interrupted",
    )
    demo.add_argument("--workdir", help="where logs and the broker's files go (default out/...)")
    demo.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir or f"out/demo-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(args, workdir))


__all__ = ["register"]
