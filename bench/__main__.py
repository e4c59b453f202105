"""Run benchmarks: `./dev bench` runs all, `./dev bench exi` runs bench/exi.py only."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    wanted = [a for a in argv if not a.startswith("-")] or names
    unknown = [w for w in wanted if w not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}")
        return 2
    rc = 0
    for name in wanted:
        print(f"== bench/{name}.py")
        mod = importlib.import_module(f"bench.{name}")
        rc |= int(mod.main([a for a in argv if a.startswith("-")]))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
