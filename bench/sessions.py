"""Session benchmark: the SECC's turnaround per message over TLS, under broker load.

`./dev bench sessions` brings up the simulated station as on the appliance (mosquitto,
josev-hal, josev-iso15118 as processes, josev-iso15118 started the way its systemd unit starts
it; the PLC link a veth pair between namespaces), starts a load generator process that puts
1000 unrelated Josev API messages per second on the broker, and charges our EV simulator over
-20 DC / TLS 1.3 and DIN / TCP. It does that `--runs` times (default 3, each with freshly
started processes) and prints, per run and as the median of the runs:
- turnaround, request fully received -> response written (measured inside josev-iso15118),
  p50 / p99 / max per message type (target: p99 <= 2.5 ms for CurrentDemand and the -20
  charge loops),
- the same exchanges on the link: kernel timestamps on the EVSE's end of the veth pair
  (WireCapture), which add waking josev-iso15118 and reading the request,
- resident memory (VmRSS, peak VmHWM, PSS) of josev-iso15118 during the session,
- start-up to ready of josev-iso15118 (process start -> boot done, SECC listening),
- josev-iso15118's CPU time, run-queue wait and involuntary context switches per session, and
  the time the hypervisor kept the machine's CPUs from running (steal)
  (where a slow tail comes from: a runnable process waiting for a core is not slow code),
- the load average before and after each run (the machine is shared).

Options (write them as --name=value: `./dev bench` passes only arguments starting with "-"):
--runs, --load-topic, --load-rate (0: none), --entry (service: `python -m
josev.services` = josev-iso15118, as its unit starts it; cli: `josev iso15118 run`),
--priority (default none,unit: every run twice, interleaved, once at the default priority and
once at the Nice=/CPUSchedulingPolicy= of josev-iso15118.service; also nice:N, rr:N, fifo:N).
Needs root (or `josev link run -- ./dev bench sessions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOAD_RATE = 1000          # messages per second
TARGET_P99_MS = 2.5
LOOPS = ("CurrentDemandRes", "DC_ChargeLoopRes")
SESSIONS = (("ISO20_DC", True), ("DIN", False))
UNIT = (Path(__file__).resolve().parent.parent / "meta-josev/recipes-josev/josev-services/files"
        / "josev-iso15118.service")
Priority = tuple[int | None, tuple[str, int] | None]   # (nice, (policy, rt priority))


def _status(pid: int, key: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{key}:\s+(\d+)", text).group(1))  # type: ignore[union-attr]


def _rss(pid: int) -> tuple[float, float, float]:
    """VmRSS, VmHWM (peak) and Pss (shared pages split among their users) in MB."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))  # type: ignore[union-attr]
    return _status(pid, "VmRSS") / 1024, _status(pid, "VmHWM") / 1024, pss / 1024


def _steal() -> float:
    """Seconds the hypervisor kept this VM's CPUs from running (all CPUs, /proc/stat): a
    stall no priority inside the VM can prevent, so the tables' tails are read beside it."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def _sched(pid: int) -> tuple[float, float, int]:
    """(CPU seconds, run-queue wait seconds, involuntary switches) of the process's threads."""
    cpu = wait = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run, delay, _ = (task / "schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        cpu += int(run)
        wait += int(delay)
    return cpu / 1e9, wait / 1e9, _status(pid, "nonvoluntary_ctxt_switches")


def _loadavg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


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
    subscribes to; with --load-topic=cs/josev josev-iso15118 receives them)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOAD_SCRIPT, host, str(port), password, topic, str(rate),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)


def _stack_class() -> Any:
    """demo.Stack, with josev-iso15118 started as by its systemd unit: the lean entry point
    (`python -m josev.services`, or the full `josev` CLI with `--entry=cli`), at the unit's priority
    from exec on (so start-up is measured at that priority too)."""
    from josev.demo import Stack

    class BenchStack(Stack):
        entry = "service"
        prio: Priority = (None, None)

        def start(self, iso_args: list[str] | None = None,
                  hal_args: list[str] | None = None) -> None:
            self.broker.start()
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            env.pop("NOTIFY_SOCKET", None)
            iso = (["-m", "josev.services"] if self.entry == "service"
                   else ["-m", "josev.cli", "iso15118", "run"])
            commands = {
                "hal": [sys.executable, "-m", "josev_hal.cli", "run", *self.broker_args("hal"),
                        *(hal_args or [])],
                "iso15118": [sys.executable, *iso, *self.broker_args("iso15118"),
                             *(iso_args or [])],
            }
            prio = self.prio
            for name, cmd in commands.items():
                log = (self.workdir / f"{name}.log").open("wb")
                self.started[name] = time.perf_counter()
                self.procs[name] = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                    preexec_fn=(lambda: _set_priority(0, prio)) if name == "iso15118" else None)
                if name == "hal":
                    self._wait_log("hal", "josev-hal ready", self.ready_timeout)

    return BenchStack


class WireCapture:
    """Request in -> response out as the link sees it: an AF_PACKET socket on the EVSE's end of
    the veth pair with kernel timestamps (SO_TIMESTAMPNS), so that neither josev-iso15118's
    scheduling nor this process's moves them. A pair is the last TCP data segment from the EV
    and the first one from josev-iso15118 after it. The pair is named after the request our EV
    simulator (in this process) sent last before that segment: its V2GTP send is recorded in
    clear, before TLS (`sent`); pairs without a V2G request of their own (TLS handshake,
    close_notify) are counted apart."""

    ETH_P_ALL = 0x0003    # a tap on every frame: a socket bound to one protocol sees no output
    PACKET_OUTGOING = 4
    SO_TIMESTAMPNS = 35   # Linux, asm-generic/socket.h (the socket module does not name it)

    def __init__(self, endpoint: Any) -> None:
        import socket

        self.sock = endpoint.netns.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                          socket.htons(self.ETH_P_ALL))
        self.sock.bind((endpoint.ifname, self.ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, self.SO_TIMESTAMPNS, 1)
        self.sock.setblocking(False)
        self.packets: list[tuple[float, bool, bytes]] = []   # (time, outgoing, TCP payload)
        self.sent: list[tuple[float, str]] = []    # (time, response name) of the EV's requests

    def _read(self) -> None:
        import socket
        import struct

        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65536, 64)
            except BlockingIOError:
                return
            stamp = 0.0
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == self.SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    stamp = sec + nsec / 1e9
            if len(data) < 74 or data[12:14] != b"\x86\xdd" or data[20] != 6:  # IPv6 + TCP
                continue
            tcp_len = (data[54 + 12] >> 4) * 4
            ip_payload = struct.unpack("!H", data[18:20])[0]
            payload = data[54 + tcp_len:54 + ip_payload]
            if payload:
                self.packets.append((stamp, addr[2] == self.PACKET_OUTGOING, payload))

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    def stop(self) -> None:
        self._read()
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()

    @contextlib.contextmanager
    def naming(self) -> Iterator[None]:
        """Record every V2G request our EV simulator sends (time, name of its response)."""
        from josev.transport.connection import V2gConnection

        original = V2gConnection.send

        async def send(conn: V2gConnection, payload_type: int, payload: bytes) -> None:
            self.sent.append((time.time(), _response_name(payload_type, payload)))
            await original(conn, payload_type, payload)

        V2gConnection.send = send  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            V2gConnection.send = original  # type: ignore[method-assign]

    def pairs(self) -> dict[str, list[float]]:
        """{response name: [request in -> response out, ms]}."""
        out: dict[str, list[float]] = {}
        last_in: float | None = None
        answered = 0    # requests already paired: each names one exchange
        for stamp, outgoing, _payload in self.packets:
            if not outgoing:
                last_in = stamp
            elif last_in is not None:
                sent = sum(1 for t, _ in self.sent if t <= last_in)
                if sent > answered:
                    name = self.sent[sent - 1][1]
                    answered = sent
                else:   # TLS handshake, session ticket, close_notify: no V2G request
                    name = "(TLS records, no V2G request)"
                out.setdefault(name, []).append((stamp - last_in) * 1000)
                last_in = None
        return out


def _response_name(payload_type: int, exi: bytes) -> str:
    """The name of the response to a request (e.g. DC_ChargeLoopRes), from its EXI."""
    from josev.exi import decode_document

    families = {0x8001: ("appHand", "din", "iso2"), 0x8002: ("iso20_CommonMessages",),
                0x8003: ("iso20_AC",), 0x8004: ("iso20_DC",)}.get(payload_type, ())
    for family in families:
        try:
            root, msg = decode_document(exi, family)
        except Exception:
            continue
        if root == "V2G_Message":
            root = type(msg.Body.BodyElement).__name__.removesuffix("Type")
        return str(root).removesuffix("Req") + "Res"
    return "?"

async def _session(stack: Any, link: Any, pki: Path, protocol: str, tls: bool,
                   pid: int, topic: str) -> dict[str, Any]:
    from josev.evcc.common.ev import EvConfig
    from josev.evcc.driver import EvDriver, SimCable

    cfg = EvConfig(protocols=(protocol,), soc=70.0, target_soc=78.0, time_scale=60.0,
                   loop_interval=0.02)
    password = stack.broker.password_files["demo"].read_text().strip()
    rss: list[tuple[float, float, float]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            rss.append(_rss(pid))
            await asyncio.sleep(0.5)

    load = await _load_process(stack.broker.host, stack.broker.port, password, topic,
                               LOAD_RATE) if LOAD_RATE > 0 else None
    sampler = asyncio.create_task(sample())
    try:
        wire: WireCapture | None = WireCapture(link.evse)
    except OSError as exc:   # no AF_PACKET here: the in-process figures still stand
        print(f"  (no link figures: AF_PACKET capture unavailable: {exc})")
        wire = None
    if wire is not None:
        wire.start()
    before, steal0 = _sched(pid), _steal()
    t0 = time.perf_counter()
    async with SimCable(stack.broker.host, stack.broker.port, username="demo",
                        password=password) as cable:
        driver = EvDriver(cfg, link.ev.plc_interface(), cable=cable, pki=pki, tls=tls)
        with wire.naming() if wire is not None else contextlib.nullcontext():
            result = await driver.run()
    after, steal = _sched(pid), _steal() - steal0
    duration = time.perf_counter() - t0
    if wire is not None:
        wire.stop()
    stop.set()
    await sampler
    rate = 0.0
    if load is not None:
        load.terminate()
        out, _ = await load.communicate()
        rate = float(out.decode().strip() or 0.0)
    return {"ok": result.ok, "ends": [e.reason for e in result.ends], "tls": result.tls,
            "rss": max(r[0] for r in rss) if rss else 0.0,
            "hwm": max(r[1] for r in rss) if rss else 0.0,
            "pss": max(r[2] for r in rss) if rss else 0.0, "load_rate": rate,
            "cpu": after[0] - before[0], "wait": after[1] - before[1],
            "preempted": after[2] - before[2], "duration": duration, "steal": steal,
            "wire": wire.pairs() if wire is not None else {}}


def _stats(values: list[float]) -> dict[str, Any]:
    """n, p50, p99, max: the same percentile rule as josev-iso15118's own log line."""
    v = sorted(values)
    return {"n": len(v), "p50": v[len(v) // 2], "p99": v[min(len(v) - 1, int(len(v) * 0.99))],
            "max": v[-1]}


def _turnarounds(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if " turnaround {" in line:
            out.append(json.loads(line.split(" turnaround ", 1)[1]))
    return out


def _parse_priority(text: str) -> Priority:
    """none | unit (what josev-iso15118.service sets) | nice:N | rr:N | fifo:N."""
    if text == "none":
        return None, None
    if text == "unit":
        settings = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                        if "=" in line and not line.startswith("#"))
        nice = int(settings["Nice"]) if "Nice" in settings else None
        policy = settings.get("CPUSchedulingPolicy")
        sched = None
        if policy in ("rr", "fifo"):
            sched = (policy, int(settings.get("CPUSchedulingPriority", "1")))
        return nice, sched
    kind, _, value = text.partition(":")
    if kind == "nice":
        return int(value), None
    if kind in ("rr", "fifo") and value.isdigit():
        return None, (kind, int(value))
    raise ValueError(f"priority {text!r}: none, unit, nice:N, rr:N or fifo:N")


def _describe(prio: Priority) -> str:
    nice, sched = prio
    parts = []
    if nice is not None:
        parts.append(f"nice {nice}")
    if sched is not None:
        parts.append(f"SCHED_{sched[0].upper()} priority {sched[1]}")
    return ", ".join(parts) or "default priority (nice 0, SCHED_OTHER)"


def _set_priority(pid: int, prio: Priority) -> None:
    """What the unit's Nice= / CPUSchedulingPolicy= do (systemd sets them before exec; so does
    the benchmark, in the child before exec: pid 0)."""
    nice, sched = prio
    if nice is not None:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    if sched is not None:
        policy = {"rr": os.SCHED_RR, "fifo": os.SCHED_FIFO}[sched[0]]
        os.sched_setscheduler(pid, policy, os.sched_param(sched[1]))


def _why_failed(log: Path, lines: int = 12) -> list[str]:
    """The station's last warnings and errors: a failed run says why without its files (the
    work directory is temporary)."""
    text = log.read_text(errors="replace").splitlines()
    picked = [t for t in text if " WARNING " in t or " ERROR " in t][-lines:]
    return ["  station log: " + t[:300] for t in picked] or ["  station log: no warning"]


async def _run_once(workdir: Path, pki: Path, topic: str, entry: str,
                    prio: Priority) -> dict[str, Any]:
    from josev import netsim
    from josev.demo import _station_iso_args

    link = netsim.Link.create()
    stack = _stack_class()(workdir)
    stack.entry = entry
    stack.prio = prio
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    wire_rows: dict[tuple[str, str], dict[str, Any]] = {}
    info: list[str] = [f"before: {_loadavg()}"]
    sessions: list[dict[str, Any]] = []
    ok = True
    try:
        stack.start(_station_iso_args(link, pki, "ISO20_DC,DIN"))
        t_start = stack.started["iso15118"]
        log = workdir / "iso15118.log"
        while "station josev-sim-01" not in log.read_text(errors="replace"):
            stack.check()
            await asyncio.sleep(0.005)
        ready = time.perf_counter() - t_start
        pid = stack.procs["iso15118"].pid
        info.append(f"josev-iso15118 start-up to ready (process start -> boot done, SECC "
                    f"listening; josev-hal already up): {ready * 1000:.0f} ms")
        for protocol, tls in SESSIONS:
            res = await _session(stack, link, pki, protocol, tls, pid, topic)
            sessions.append(res)
            ok = ok and bool(res["ok"])
            info.append(
                f"{protocol} over {res['tls'] or 'TCP'}: {'OK' if res['ok'] else 'FAILED'}"
                f" ({'; '.join(res['ends'])}) in {res['duration']:.1f} s; RSS {res['rss']:.1f} MB"
                f" (peak {res['hwm']:.1f} MB, PSS {res['pss']:.1f} MB);"
                f" load {res['load_rate']:.0f} msg/s; CPU {res['cpu'] * 1000:.0f} ms,"
                f" run-queue wait {res['wait'] * 1000:.0f} ms,"
                f" preempted {res['preempted']}x; machine steal {res['steal'] * 1000:.0f} ms")
            if not res["ok"]:
                info.extend(_why_failed(log))
            for name, values in sorted(res["wire"].items()):
                wire_rows[(protocol, name)] = _stats(values)
            await asyncio.sleep(1.0)
            stats = _turnarounds(log)
            if stats:
                for name, st in stats[-1].items():
                    rows[(protocol, name)] = st
    finally:
        stack.stop()
        link.close()
    info.append(f"after: {_loadavg()}")
    return {"ok": ok, "ready": ready, "rows": rows, "wire": wire_rows, "info": info,
            "rss": max(s["rss"] for s in sessions), "hwm": max(s["hwm"] for s in sessions),
            "pss": max(s["pss"] for s in sessions)}


def _table(rows: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    lines = [f"{'protocol':<9} {'message':<34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'max ms':>8}"]
    for (protocol, name), st in rows.items():
        flag = ""
        if name in LOOPS:
            flag = "  ok" if st["p99"] <= TARGET_P99_MS else f"  > {TARGET_P99_MS} ms target"
        lines.append(f"{protocol:<9} {name:<34} {st['n']:>5} {st['p50']:>8.3f} "
                     f"{st['p99']:>8.3f} {st['max']:>8.3f}{flag}")
    return lines


def _median_rows(runs: list[dict[str, Any]],
                 kind: str = "rows") -> dict[tuple[str, str], dict[str, Any]]:
    keys: list[tuple[str, str]] = []
    for run in runs:
        keys += [k for k in run[kind] if k not in keys]
    out = {}
    for key in keys:
        have = [run[kind][key] for run in runs if key in run[kind]]
        out[key] = {f: statistics.median(st[f] for st in have) for f in ("p50", "p99", "max")}
        out[key]["n"] = int(statistics.median(st["n"] for st in have))
    return out


async def _run(workdir: Path, topic: str, runs: int, entry: str,
               priorities: list[tuple[str, Priority]]) -> int:
    from josev import netsim
    from josev.pki import create_pki

    reason = netsim.unavailable_reason()
    if reason is not None:
        print(f"sessions benchmark needs network namespaces: {reason}")
        return 1
    pki = create_pki(workdir / "pki")
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in priorities}
    failed = 0
    how = {"service": "python -m josev.services (= josev-iso15118, as in its unit)",
           "cli": "josev iso15118 run (the full CLI)"}[entry]
    print(f"Session benchmark: simulated station, veth PLC link, {LOAD_RATE} API messages/s "
          f"on the broker (topic {topic}); josev-iso15118 started as {how}")
    # Interleaved (A, B, A, B, ...): the other users of the machine weigh on both alike.
    for i in range(runs):
        for label, prio in priorities:
            run_dir = workdir / f"run{i + 1}-{len(results[label])}-{label.replace(':', '')}"
            run_dir.mkdir()
            print(f"\n-- run {i + 1} of {runs}, josev-iso15118 at {_describe(prio)} ({label})")
            try:
                res = await _run_once(run_dir, pki, topic, entry, prio)
            except (RuntimeError, OSError) as exc:   # a process of the stack died: say so
                failed += 1
                print(f"  RUN FAILED: {str(exc)[-1500:]}")
                continue
            results[label].append(res)
            for line in res["info"]:
                print(f"  {line}")
            for line in _table(res["rows"]):
                print(line)
            print("on the link (kernel timestamps on the EVSE's veth: request in -> response out)")
            for line in _table(res["wire"]):
                print(line)
    for label, prio in priorities:
        done = results[label]
        if not done:
            print(f"\n== {label}: no run completed")
            continue
        print(f"\n== {label}: josev-iso15118 at {_describe(prio)}; median of {runs} run(s); "
              f"{_loadavg()}")
        ready = [r["ready"] * 1000 for r in done]
        print(f"  start-up to ready: median {statistics.median(ready):.0f} ms (runs: "
              f"{', '.join(f'{v:.0f}' for v in ready)} ms; target 1000 ms)")
        print(f"  RSS during the sessions: median {statistics.median(r['rss'] for r in done):.1f}"
              f" MB, peak {max(r['hwm'] for r in done):.1f} MB (target 40 MB); PSS median "
              f"{statistics.median(r['pss'] for r in done):.1f} MB")
        for key in [k for k in done[0]["rows"] if k[1] in LOOPS]:
            values = [r["rows"][key]["p99"] for r in done if key in r["rows"]]
            print(f"  {key[0]} {key[1]} p99 per run: {', '.join(f'{v:.3f}' for v in values)} ms")
        for line in _table(_median_rows(done)):
            print(line)
        print("on the link (kernel timestamps on the EVSE's veth: request in -> response out)")
        for line in _table(_median_rows(done, "wire")):
            print(line)
    ok = all(r["ok"] for done in results.values() for r in done)
    return 0 if ok and not failed else 1


def main(argv: list[str]) -> int:
    import argparse

    global LOAD_RATE

    p = argparse.ArgumentParser(prog="bench sessions")
    p.add_argument("--runs", type=int, default=3,
                   help="runs per priority setting, each with fresh processes")
    p.add_argument("--load-topic", default="bench/noise",
                   help="where the load goes (default: a topic no service subscribes to)")
    p.add_argument("--load-rate", type=int, default=LOAD_RATE, help="messages/s (0: none)")
    p.add_argument("--entry", choices=["service", "cli"], default="service",
                   help="how josev-iso15118 is started (service: as its systemd unit)")
    p.add_argument("--priority", default="none,unit",
                   help="comma-separated settings for josev-iso15118, run interleaved: none, "
                        "unit (Nice=/CPUSchedulingPolicy= of josev-iso15118.service), nice:N, "
                        "rr:N, fifo:N (root)")
    args = p.parse_args(argv)
    try:
        priorities = [(t, _parse_priority(t)) for t in args.priority.split(",") if t]
    except (ValueError, KeyError) as exc:
        p.error(str(exc))
    LOAD_RATE = args.load_rate
    with tempfile.TemporaryDirectory(prefix="josev-bench-sessions-") as tmp:
        return asyncio.run(_run(Path(tmp), args.load_topic, max(1, args.runs), args.entry,
                                priorities))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
