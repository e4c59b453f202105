"""Link-layer benchmark: SLAC, SDP and TLS across the simulated PLC link (netns + veth).

`./dev bench link` prints:
- CP state B -> SLAC matched (EVSE and EV cores on raw sockets, simulated modems),
- matched -> first V2G request received by the SECC (SDP + TCP + TLS 1.2 / TLS 1.3),
- start-up time and peak memory of importing the SLAC/SDP/transport part, against a bare
  interpreter and against scapy's HomePlug layers (the alternative frame codec).
Needs root (or `josev link run -- ./dev bench link`).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5


def _startup(code: str, repeat: int = 3) -> tuple[float, float]:
    """Median wall time (ms) and peak RSS (MB) of a fresh interpreter running `code`."""
    times, rss = [], []
    for _ in range(repeat):
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's size across exec.
        probe = (
            "import time;t=time.perf_counter();" + code + ";import re;print(time.perf_counter()-t,"
            "re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
        )
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             check=True).stdout.split()
        times.append((time.perf_counter() - t0) * 1000)
        rss.append(int(out[1]) / 1024)
    return statistics.median(times), max(rss)


async def _slac_once() -> float:
    from josev import netsim
    from josev.slac.driver import SimulatedModem, open_raw, run_ev, run_evse
    from josev.slac.ev import EvMatched, EvSlac
    from josev.slac.evse import EvseSlac, Matched

    with netsim.Link.create() as link:
        es, em = open_raw(link.evse.ifname, link.evse.netns.socket)
        vs, vm = open_raw(link.ev.ifname, link.ev.netns.socket)
        t0 = time.perf_counter()
        a, b = await asyncio.gather(run_evse(es, EvseSlac(em), SimulatedModem()),
                                    run_ev(vs, EvSlac(vm), SimulatedModem()))
        dt = time.perf_counter() - t0
        es.close()
        vs.close()
    assert isinstance(a, Matched) and isinstance(b, EvMatched)
    return dt


async def _tls_once(store: Path, profile_name: str | None) -> float:
    from josev import netsim
    from josev.transport.connection import V2gConnection
    from josev.transport.evcc import EvccConfig, connect_evcc
    from josev.transport.secc import SeccConfig, serve_secc
    from josev.transport.tls import TlsProfile, TlsServerConfig, client_credentials_from_store

    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def handler(conn: V2gConnection) -> None:
        await conn.receive()
        if not first.done():
            first.set_result(time.perf_counter())

    profile = TlsProfile(profile_name) if profile_name else None
    with netsim.Link.create() as link:
        tls = TlsServerConfig.from_store(store) if profile else None
        server = await serve_secc(SeccConfig(link.evse.plc_interface(), tls=tls,
                                             allow_plain=profile is None), handler)
        creds = client_credentials_from_store(store, profile) if profile else None
        cfg = EvccConfig(link.ev.plc_interface(), profile=profile, credentials=creds)
        t0 = time.perf_counter()
        conn = await connect_evcc(cfg)
        await conn.send(0x8001, b"\x80\x00")  # stands for supportedAppProtocolReq
        t1 = await asyncio.wait_for(first, 10)
        await conn.close()
        await server.close()
    return t1 - t0


def _row(name: str, values: list[float], bound: str) -> str:
    ms = [v * 1000 for v in values]
    return (f"| {name:<38} | {statistics.median(ms):>9.1f} | {max(ms):>9.1f} | {bound:<32} |")


async def _run() -> list[str]:
    from josev.pki import create_pki
    from josev.slac.timers import DEFAULT_TIMERS as T

    rows = []
    slac = [await _slac_once() for _ in range(RUNS)]
    fixed = T.TT_match_response + T.TT_EV_atten_results
    rows.append(_row("CP B -> SLAC matched", slac, f"fixed EV waits {fixed:.1f} s inside"))
    with tempfile.TemporaryDirectory() as d:
        store = create_pki(Path(d))
        worst = 0.0
        for name, prof in (("matched -> 1st V2G req, plain TCP", None),
                           ("matched -> 1st V2G req, TLS 1.2 (-2)", "iso2"),
                           ("matched -> 1st V2G req, TLS 1.3 (-20)", "iso20")):
            vals = [await _tls_once(store, prof) for _ in range(RUNS)]
            worst = max(worst, max(vals))
            rows.append(_row(name, vals, "comm. setup 20 s EV / 18 s SECC"))
    total = max(slac) + worst
    rows.append("")
    rows.append(f"plug-in -> first V2G request, worst case: {total * 1000:.0f} ms = "
                f"{100 * total / 18.0:.1f} % of the SECC's 18 s communication-setup time")
    return rows


def main(argv: list[str]) -> int:
    from josev import netsim

    reason = netsim.unavailable_reason()
    print(f"runs per row: {RUNS}; times in ms")
    if reason is not None:
        print(f"link benchmark skipped: {reason}")
    else:
        head = f"| {'step':<38} | {'median':>9} | {'max':>9} | {'standard bound':<32} |"
        print(head)
        print("|" + "-" * 40 + "|" + "-" * 11 + "|" + "-" * 11 + "|" + "-" * 34 + "|")
        for row in asyncio.run(_run()):
            print(row)
    print()
    print(f"| {'start-up (fresh interpreter)':<44} | {'wall ms':>8} | {'peak RSS MB':>11} |")
    print("|" + "-" * 46 + "|" + "-" * 10 + "|" + "-" * 13 + "|")
    for name, code in (
        ("bare python", "pass"),
        ("josev.slac (struct frames) + driver", "import josev.slac.driver"),
        ("josev.sdp.server + josev.transport.secc",
         "import josev.sdp.server, josev.transport.secc, josev.transport.evcc"),
        ("all of the above + josev.slac.service (API)",
         "import josev.slac.service, josev.transport.secc"),
        ("scapy.contrib.homepluggp (alternative)", "import scapy.contrib.homepluggp"),
    ):
        wall, rss = _startup(code)
        print(f"| {name:<44} | {wall:>8.0f} | {rss:>11.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
