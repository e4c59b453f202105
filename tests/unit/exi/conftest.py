"""Fixtures for the EXI tests: the golden vectors and the table-driven reference codec."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from josev.exi import runtime as rt

VECTOR_DIR = Path(__file__).parent / "vectors"
FAMILIES = ("appHand", "din", "iso2", "iso20_CommonMessages", "iso20_AC", "iso20_DC",
            "iso20_WPT", "iso20_ACDP")


@cache
def vectors(family: str) -> list[dict[str, Any]]:
    with gzip.open(VECTOR_DIR / f"{family}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


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
