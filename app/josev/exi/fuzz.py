"""Mutation fuzzer for the EXI decoders: `python -m josev.exi.fuzz --count 1000000`.

Inputs are golden vectors mutated (bit flips, byte overwrites, truncation, insertion,
duplication, splicing). The only acceptable outcomes are a decoded message or ExiError;
anything else escaping, or a decoded message that does not re-encode and decode to the same
value, is a bug. Reports counts and the slowest input.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import FAMILIES, ExiError, family


def load_corpus(vector_dir: Path) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for fam in FAMILIES:
        for name in (f"{fam}.jsonl", f"{fam}.jsonl.gz"):
            path = vector_dir / name
            if path.exists():
                opener: Any = gzip.open if name.endswith(".gz") else open
                with opener(path, "rt", encoding="utf-8") as fh:
                    out.extend((fam, bytes.fromhex(json.loads(line)["exi"])) for line in fh
                               if line.strip())
                break
    return out


def mutate(rng: random.Random, data: bytes, corpus: list[tuple[str, bytes]]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        op = rng.randrange(8)
        n = len(b)
        if op == 0 and n:  # flip one bit (not the header, most of the time)
            i = rng.randrange(1, n) if n > 1 and rng.random() < 0.95 else rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # overwrite a byte
            b[rng.randrange(n)] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif op == 2 and n > 1:  # truncate
            del b[rng.randrange(1, n):]
        elif op == 3:  # insert random bytes
            i = rng.randrange(n + 1)
            b[i:i] = rng.randbytes(rng.randrange(1, 9))
        elif op == 4 and n > 2:  # duplicate a chunk
            i = rng.randrange(n)
            j = min(n, i + rng.randrange(1, 33))
            b[i:i] = b[i:j]
        elif op == 5:  # trailing garbage
            b += rng.randbytes(rng.randrange(1, 5))
        elif op == 6 and n > 2:  # splice with another vector
            other = rng.choice(corpus)[1]
            i = rng.randrange(1, n)
            b = b[:i] + other[rng.randrange(len(other)):]
        elif op == 7 and n > 1:  # a run of 0xFF (huge lengths, escape codes)
            i = rng.randrange(1, n)
            b[i:i + 4] = b"\xff" * 4
    return bytes(b)


def run(count: int, seed: int, vector_dir: Path, quiet: bool = False) -> dict[str, Any]:
    corpus = load_corpus(vector_dir)
    if not corpus:
        raise SystemExit(f"no vectors in {vector_dir}")
    rng = random.Random(seed)
    stats: dict[str, Any] = {"inputs": 0, "decoded": 0, "rejected": 0, "bugs": 0,
                             "slowest_s": 0.0, "slowest_len": 0, "reasons": {}}
    bugs: list[str] = []
    t_start = time.perf_counter()
    fams = {f: family(f) for f in FAMILIES}
    for k in range(count):
        fam_name, base = rng.choice(corpus)
        fam_name = fam_name if rng.random() < 0.9 else rng.choice(FAMILIES)
        data = mutate(rng, base, corpus) if rng.random() < 0.97 else rng.randbytes(
            rng.randrange(0, 64))
        fam = fams[fam_name]
        t0 = time.process_time()  # CPU time: the machine may be shared, wall time is noisy
        try:
            root, msg = fam.decode(data)
        except ExiError as e:
            stats["rejected"] += 1
            key = e.reason.split(":")[-1].strip()[:40]
            stats["reasons"][key] = stats["reasons"].get(key, 0) + 1
        except Exception:
            stats["bugs"] += 1
            bugs.append(f"{fam_name} {data.hex()}\n{traceback.format_exc()}")
        else:
            stats["decoded"] += 1
            try:
                again = fam.decode(fam.encode(root, msg))
                if again != (root, msg):
                    raise AssertionError("re-encoded message decodes differently")
            except Exception:
                stats["bugs"] += 1
                bugs.append(f"{fam_name} re-encode {data.hex()}\n{traceback.format_exc()}")
        dt = time.process_time() - t0
        if dt > stats["slowest_s"]:
            stats["slowest_s"] = dt
            stats["slowest_len"] = len(data)
            stats["slowest_input"] = f"{fam_name} {data.hex()}"
        stats["inputs"] += 1
        if not quiet and (k + 1) % 100000 == 0:
            print(f"  {k + 1} inputs, {stats['bugs']} bugs, "
                  f"{time.perf_counter() - t_start:.0f} s", flush=True)
    stats["elapsed_s"] = time.perf_counter() - t_start
    stats["bug_samples"] = bugs[:5]
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m josev.exi.fuzz", description=__doc__)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vectors", type=Path,
                    default=Path(__file__).resolve().parents[3] / "tests/unit/exi/vectors")
    args = ap.parse_args(argv)
    s = run(args.count, args.seed, args.vectors)
    print(f"{s['inputs']} inputs in {s['elapsed_s']:.1f} s: {s['decoded']} decoded and "
          f"re-encoded, {s['rejected']} rejected with ExiError, {s['bugs']} bugs; slowest "
          f"input {s['slowest_s'] * 1e3:.2f} ms CPU ({s['slowest_len']} bytes)")
    print(f"slowest input: {s.get('slowest_input', '')[:200]}")
    top = sorted(s["reasons"].items(), key=lambda kv: -kv[1])[:8]
    print("most common rejections: " + "; ".join(f"{k} ({v})" for k, v in top))
    for b in s["bug_samples"]:
        print(b)
    return 1 if s["bugs"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
