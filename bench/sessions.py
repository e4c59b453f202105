"""Session benchmark: the SECC's turnaround per message over TLS, under broker load.

`./dev bench sessions` brings up the simulated station as on the appliance (mosquitto,
josev-hal, josev-iso15118 as processes; the PLC link a veth pair between namespaces), starts a
load generator that puts 1000 unrelated Josev API messages per second on the topic
josev-iso15118 listens to, and charges our EV simulator over -20 DC / TLS 1.3 and DIN / TCP.
It prints:
- turnaround, request fully received -> response written (measured inside josev-iso15118),
  p50 / p99 / max per message type (target: p99 <= 2.5 ms for CurrentDemand and the -20
  charge loops),
- resident memory (VmRSS, peak VmHWM) of josev-iso15118 during the session,
- start-up to ready of josev-iso15118 (process start -> service_status ready).
The load generator is a process of its own (it competes for the 2 cores like any other
service). Options: --load-topic, --load-rate (0: none), --nice (josev-iso15118's priority).
Needs root (or `josev link run -- ./dev bench sessions`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LOAD_RATE = 1000          # messages per second
TARGET_P99_MS = 2.5


def _rss(pid: int) -> tuple[float, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return rss / 1024, hwm / 1024


LOAD_SCRIPT = r"""
import asyncio, json, signal, sys, time, uuid
import aiomqtt

async def main(host, port, password, topic, rate):
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    n = 0
    async with aiomqtt.Client(host, port, username="demo", password=password) as client:
        t0 = time.perf_counter()
        while not stop.is_set():
            delay = t0 + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            msg = {"id": str(uuid.uuid4()), "name": "notify_event", "type": "update",
                   "data": {"event_id": n % 100000, "timestamp": "2026-01-01T00:00:00Z",
                            "tech_info": "bench load"}}
            await client.publish(topic, json.dumps(msg), qos=0)
            n += 1
        print(n / (time.perf_counter() - t0), flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])))
"""


async def _load_process(host: str, port: int, password: str, topic: str,
                        rate: int) -> asyncio.subprocess.Process:
    """The load generator in its own process, as another service on the station would be:
    LOAD_RATE notify_event updates per second on `topic` (by default one no service
    subscribes to; with --load-topic cs/josev josev-iso15118 receives and validates them)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOAD_SCRIPT, host, str(port), password, topic, str(rate),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)


async def _session(stack: Any, link: Any, pki: Path, protocol: str, tls: bool,
                   pid: int, topic: str) -> dict[str, Any]:
    from josev.evcc.common.ev import EvConfig
    from josev.evcc.driver import EvDriver, SimCable

    cfg = EvConfig(protocols=(protocol,), soc=70.0, target_soc=78.0, time_scale=60.0,
                   loop_interval=0.02)
    password = stack.broker.password_files["demo"].read_text().strip()
    rss: list[tuple[float, float]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            rss.append(_rss(pid))
            await asyncio.sleep(0.5)

    load = await _load_process(stack.broker.host, stack.broker.port, password, topic,
                               LOAD_RATE) if LOAD_RATE > 0 else None
    sampler = asyncio.create_task(sample())
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable:
        driver = EvDriver(cfg, link.ev.plc_interface(), cable=cable, pki=pki, tls=tls)
        result = await driver.run()
    stop.set()
    await sampler
    rate = 0.0
    if load is not None:
        load.terminate()
        out, _ = await load.communicate()
        rate = float(out.decode().strip() or 0.0)
    return {"ok": result.ok, "ends": [e.reason for e in result.ends], "tls": result.tls,
            "rss": max(r for r, _ in rss) if rss else 0.0,
            "hwm": max(h for _, h in rss) if rss else 0.0, "load_rate": rate}


def _turnarounds(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if " turnaround {" in line:
            out.append(json.loads(line.split(" turnaround ", 1)[1]))
    return out


async def _run(workdir: Path, topic: str, nice: int | None = None) -> int:
    from josev import netsim
    from josev.demo import Stack, _station_iso_args
    from josev.pki import create_pki

    reason = netsim.unavailable_reason()
    if reason is not None:
        print(f"sessions benchmark needs network namespaces: {reason}")
        return 1
    pki = create_pki(workdir / "pki")
    link = netsim.Link.create()
    stack = Stack(workdir)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    info: list[str] = []
    rc = 0
    try:
        stack.start(_station_iso_args(link, pki, "ISO20_DC,DIN"))
        t_start = stack.started["iso15118"]
        log = workdir / "iso15118.log"
        while "station josev-sim-01" not in log.read_text(errors="replace"):
            stack.check()
            await asyncio.sleep(0.01)
        ready = time.perf_counter() - t_start
        pid = stack.procs["iso15118"].pid
        if nice is not None:   # as `Nice=` in josev-iso15118.service would
            os.setpriority(os.PRIO_PROCESS, pid, nice)
            info.append(f"josev-iso15118 runs at nice {nice}")
        info.append(f"josev-iso15118 start-up to ready (process start -> boot done, SECC "
                    f"listening; josev-hal already up): {ready * 1000:.0f} ms")
        for protocol, tls in (("ISO20_DC", True), ("DIN", False)):
            res = await _session(stack, link, pki, protocol, tls, pid, topic)
            if not res["ok"]:
                rc = 1
            info.append(f"{protocol} over {res['tls'] or 'TCP'}: {'OK' if res['ok'] else 'FAILED'}"
                        f" ({'; '.join(res['ends'])}); josev-iso15118 RSS {res['rss']:.1f} MB "
                        f"(peak {res['hwm']:.1f} MB); load {res['load_rate']:.0f} msg/s")
            await asyncio.sleep(1.0)
            stats = _turnarounds(log)
            if stats:
                rows.extend((protocol, name, st) for name, st in stats[-1].items())
    finally:
        stack.stop()
        link.close()
    print("Session benchmark: simulated station, veth PLC link, "
          f"{LOAD_RATE} API messages/s on the broker (topic {topic})")
    for line in info:
        print(f"  {line}")
    print()
    print(f"{'protocol':<9} {'message':<34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for protocol, name, st in rows:
        flag = ""
        if name in ("CurrentDemandRes", "DC_ChargeLoopRes"):
            flag = "  ok" if st["p99"] <= TARGET_P99_MS else f"  > {TARGET_P99_MS} ms target"
        print(f"{protocol:<9} {name:<34} {st['n']:>5} {st['p50']:>8.3f} {st['p99']:>8.3f} "
              f"{st['max']:>8.3f}{flag}")
    return rc


def main(argv: list[str]) -> int:
    import argparse

    global LOAD_RATE

    p = argparse.ArgumentParser(prog="bench sessions")
    p.add_argument("--load-topic", default="bench/noise",
                   help="where the load goes (default: a topic no service subscribes to)")
    p.add_argument("--load-rate", type=int, default=LOAD_RATE, help="messages/s (0: none)")
    p.add_argument("--nice", type=int, help="run josev-iso15118 at this nice value (root)")
    args = p.parse_args(argv)
    LOAD_RATE = args.load_rate
    with tempfile.TemporaryDirectory(prefix="josev-bench-sessions-") as tmp:
        return asyncio.run(_run(Path(tmp), args.load_topic, args.nice))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
