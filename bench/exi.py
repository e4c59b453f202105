"""EXI codec benchmark: `./dev bench exi` (or `python -m bench exi`).

Prints median and p99 encode/decode times for the charge-loop and session messages and for
large messages, taken from the golden vectors (the "minimal" variant is the realistic size of
a charge-loop message; "typical" is the same with moderate physical values; "maximal" has every
optional element and a Signature in the header),
then the import + grammar-load time of all families and the memory they add.
Targets (issue 3, 2-core x86, CPython 3.11): charge loop <= 25 us median each way,
import + load of all families <= 300 ms, memory <= 15 MB.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "unit" / "exi" / "vectors"

CASES: list[tuple[str, str, str]] = [
    ("din", "CurrentDemandReq", "minimal"),
    ("din", "CurrentDemandRes", "minimal"),
    ("din", "CurrentDemandReq", "typical"),
    ("iso2", "CurrentDemandReq", "minimal"),
    ("iso2", "CurrentDemandRes", "minimal"),
    ("iso2", "CurrentDemandRes", "typical"),
    ("iso2", "CurrentDemandReq", "maximal"),
    ("iso20_DC", "DC_ChargeLoopReq", "minimal"),
    ("iso20_DC", "DC_ChargeLoopRes", "minimal"),
    ("iso20_DC", "DC_ChargeLoopReq", "typical"),
    ("iso20_DC", "DC_ChargeLoopRes", "typical"),
    ("iso20_DC", "DC_ChargeLoopReq", "maximal"),
    ("iso20_AC", "AC_ChargeLoopReq", "minimal"),
    ("iso20_AC", "AC_ChargeLoopRes", "minimal"),
    ("iso20_AC", "AC_ChargeLoopReq", "typical"),
    ("din", "SessionSetupReq", "minimal"),
    ("iso2", "SessionSetupRes", "minimal"),
    ("iso20_CommonMessages", "SessionSetupReq", "minimal"),
    ("iso20_CommonMessages", "SessionSetupRes", "minimal"),
    ("iso2", "ChargeParameterDiscoveryRes", "largest"),
    ("iso2", "CertificateInstallationRes", "largest"),
    ("iso20_CommonMessages", "CertificateInstallationRes", "largest"),
]


def _typical(j: Any) -> Any:
    """Moderate physical values (Value 400, exponent/multiplier 0) instead of the extremes."""
    if isinstance(j, list):
        return [_typical(x) for x in j]
    if not isinstance(j, dict):
        return j
    out = {k: _typical(v) for k, v in j.items()}
    if "Value" in out and ("Exponent" in out or "Multiplier" in out):
        out["Value"] = 400
        out["Exponent" if "Exponent" in out else "Multiplier"] = 0
    return out


def _vector(family: str, message: str, variant: str) -> dict[str, Any]:
    with gzip.open(VECTORS / f"{family}.jsonl.gz", "rt", encoding="utf-8") as fh:
        vecs = [v for v in map(json.loads, fh) if v["message"] == message]
    if variant == "largest":
        return max(vecs, key=lambda v: len(v["exi"]))
    if variant == "typical":
        import josev.exi as exi

        vec = dict(next(v for v in vecs if v["variant"] == "minimal"))
        vec["value"] = _typical(vec["value"])
        fam = exi.family(family)
        root, msg = fam.from_json(vec["value"])
        vec["exi"] = fam.encode(root, msg).hex()
        return vec
    return next(v for v in vecs if v["variant"] == variant)


def _time(fn: Any, arg: Any, n: int) -> tuple[float, float]:
    for _ in range(min(200, n)):
        fn(arg)
    samples = []
    pc = time.perf_counter_ns
    for _ in range(n):
        t0 = pc()
        fn(arg)
        samples.append(pc() - t0)
    samples.sort()
    return statistics.median(samples) / 1e3, samples[int(len(samples) * 0.99)] / 1e3


_LOAD = """
import sys, time
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
trace = sys.argv[1] == "trace"
if trace:
    import tracemalloc
    tracemalloc.start()
r0 = rss()
t0 = time.perf_counter()
import josev.exi as exi
for f in exi.FAMILIES:
    exi.family(f)
t1 = time.perf_counter()
r1 = rss()
print(t1 - t0, tracemalloc.get_traced_memory()[0] if trace else 0, r1 - r0)
"""


def _load(cold: bool) -> tuple[float, float, float]:
    """(seconds to import and load all families, bytes traced by tracemalloc, RSS growth)."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["PYTHONPYCACHEPREFIX"] = tmp  # nothing cached there: compile everything
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            subprocess.run([sys.executable, "-m", "compileall", "-q",
                            str(ROOT / "app" / "josev" / "exi")], check=True, env=env)
            env.pop("PYTHONDONTWRITEBYTECODE", None)

        def once(mode: str) -> list[float]:
            out = subprocess.run([sys.executable, "-c", _LOAD, mode], capture_output=True,
                                 text=True, check=True, env=env).stdout.split()
            return [float(x) for x in out]

        times = [once("time") for _ in range(1 if cold else 5)]
        t = statistics.median(x[0] for x in times)
        rss = statistics.median(x[2] for x in times)
        traced = once("trace")[1]
    return t, traced, rss


def main(argv: list[str]) -> int:
    import josev.exi as exi

    n = 3000 if "--quick" not in argv else 300
    print(f"CPython {sys.version.split()[0]}, {os.cpu_count()} CPUs, n={n} calls per cell, "
          "times in microseconds")
    print(f"{'family':<21}{'message':<29}{'variant':<9}{'bytes':>6}"
          f"{'enc med':>9}{'enc p99':>9}{'dec med':>9}{'dec p99':>9}")
    worst_loop = 0.0
    for fam_name, message, variant in CASES:
        vec = _vector(fam_name, message, variant)
        data = bytes.fromhex(vec["exi"])
        fam = exi.family(fam_name)
        root, msg = fam.decode(data)
        assert fam.encode(root, msg) == data
        reps = n if len(data) < 2000 else max(100, n // 10)
        em, ep = _time(lambda m, f=fam, r=root: f.encode(r, m), msg, reps)
        dm, dp = _time(fam.decode, data, reps)
        if "Loop" in message or "CurrentDemand" in message:
            if variant in ("minimal", "typical"):
                worst_loop = max(worst_loop, em, dm)
        print(f"{fam_name:<21}{message:<29}{variant:<9}{len(data):>6}"
              f"{em:>9.1f}{ep:>9.1f}{dm:>9.1f}{dp:>9.1f}")
    print(f"slowest charge-loop median (minimal and typical): {worst_loop:.1f} us (target 25)")
    t, traced, rss = _load(cold=False)
    print(f"import + load of all 8 families, bytecode cached: {t * 1e3:.0f} ms (target 300); "
          f"memory {traced / 2**20:.1f} MB traced, {rss / 2**20:.1f} MB RSS (target 15)")
    t, traced, rss = _load(cold=True)
    print(f"same without bytecode cache (first run after install without compileall): "
          f"{t * 1e3:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
