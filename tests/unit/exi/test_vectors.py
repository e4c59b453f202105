"""Every golden vector decodes to its value and its value encodes to exactly its bytes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from josev import exi
from josev.exi.cli import check_line

from .conftest import FAMILIES, VECTOR_DIR, reference_family, vectors


@pytest.mark.parametrize("family", FAMILIES)
def test_vectors_generated_codec(family: str) -> None:
    failures = []
    for vec in vectors(family):
        problem = check_line(json.dumps(vec))
        if problem is not None:
            failures.append(f"{vec['message']} {vec['variant']}: {problem}")
    assert not failures, "\n".join(failures[:20])
    assert len(vectors(family)) > 10


@pytest.mark.parametrize("family", FAMILIES)
def test_vectors_reference_interpreter(family: str) -> None:
    fam = reference_family(family)
    for vec in vectors(family):
        data = bytes.fromhex(vec["exi"])
        root, msg = fam.decode(data)
        assert fam.to_json(root, msg) == vec["value"], (vec["message"], vec["variant"])
        root2, msg2 = fam.from_json(vec["value"])
        assert fam.encode(root2, msg2) == data, (vec["message"], vec["variant"])


def test_public_api_round_trip() -> None:
    vec = next(v for v in vectors("iso20_DC") if v["message"] == "DC_ChargeLoopReq")
    data = bytes.fromhex(vec["exi"])
    msg = exi.decode(data, "iso20_DC")
    assert type(msg).__name__ == "DC_ChargeLoopReqType"
    assert exi.encode(msg) == data
    assert exi.to_json(msg) == vec["value"]
    assert exi.encode(exi.from_json(vec["value"], "iso20_DC")) == data


def test_cli_check_counts_and_exit_code(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    good = VECTOR_DIR / "appHand.jsonl.gz"
    r = subprocess.run([sys.executable, "-m", "josev.cli", "exi", "check", str(good)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "12 passed, 0 failed"
    lines = [json.dumps(v) for v in vectors("appHand")[:3]]
    broken = dict(vectors("appHand")[1])
    broken["exi"] = broken["exi"][:-2] + ("00" if broken["exi"][-2:] != "00" else "01")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines, json.dumps(broken)]) + "\n")
    r = subprocess.run([sys.executable, "-m", "josev.cli", "exi", "check", str(bad)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1
    out = r.stdout.strip().splitlines()
    assert out[-1] == "3 passed, 1 failed"
    assert len(out) == 2 and "bad.jsonl:4:" in out[0]


def test_cli_decode_and_encode() -> None:
    vec = vectors("din")[5]
    r = subprocess.run([sys.executable, "-m", "josev.cli", "exi", "decode", "--family", "din",
                        vec["exi"]], capture_output=True, text=True, check=True)
    assert json.loads(r.stdout) == vec["value"]
    r = subprocess.run([sys.executable, "-m", "josev.cli", "exi", "encode", "--family", "din",
                        json.dumps(vec["value"])], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == vec["exi"]
    r = subprocess.run([sys.executable, "-m", "josev.cli", "exi", "decode", "--family", "din",
                        "80"], capture_output=True, text=True, check=False)
    assert r.returncode == 1 and "truncated" in r.stderr
