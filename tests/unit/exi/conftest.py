"""Fixtures for the EXI tests: the golden vectors and the table-driven reference codec."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from josev.exi import runtime as rt

VECTOR_DIR = Path(__file__).parent / "vectors"
# The project's golden vectors sit beside the clone in CI (shared/exi-vectors); when present
# they are the reference, so an updated set is tested at once. The bundled gzip copy keeps the
# suite self-contained for a clone without them.
SHARED_DIR = Path(__file__).resolve().parents[4] / "shared" / "exi-vectors"
FAMILIES = ("appHand", "din", "iso2", "iso20_CommonMessages", "iso20_AC", "iso20_DC",
            "iso20_WPT", "iso20_ACDP")


@cache
def vectors(family: str) -> list[dict[str, Any]]:
    shared = SHARED_DIR / f"{family}.jsonl"
    if shared.exists():
        text = shared.read_text(encoding="utf-8")
    else:
        with gzip.open(VECTOR_DIR / f"{family}.jsonl.gz", "rt", encoding="utf-8") as fh:
            text = fh.read()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@cache
def schema_dir() -> Path:
    from josev.exi.generator import default_schema_dir

    return default_schema_dir()


@cache
def reference_family(family: str) -> rt.Family:
    """The same grammars, built in-process and run by the table interpreter only (no
    generated straight-line code): an independent path to compare the generated code with."""
    from josev.exi.generator.family import build_model, instantiate

    return instantiate(build_model(family, str(schema_dir())))
