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
    r = subprocess.run([sys.executable, "-c", "import sys; from josev.exi import cli; "
                        "import argparse; p = argparse.ArgumentParser(); "
                        "cli.register(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); "
                        "sys.exit(a.func(a))", "exi", "check", str(bad)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1
    out = r.stdout.strip().splitlines()
    assert out[-1] == "3 passed, 1 failed"
    assert len(out) == 2 and "bad.jsonl:4:" in out[0]


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The exi sub-commands in-process (the `josev` wiring is covered by the check test)."""
    import argparse

    from josev.exi import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    rc = int(args.func(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_decode_and_encode(capsys: pytest.CaptureFixture[str]) -> None:
    vec = vectors("din")[5]
    rc, out, _ = _cli(["exi", "decode", "--family", "din", vec["exi"]], capsys)
    assert rc == 0 and json.loads(out) == vec["value"]
    rc, out, _ = _cli(["exi", "encode", "--family", "din", json.dumps(vec["value"])], capsys)
    assert rc == 0 and out.strip() == vec["exi"]
    rc, _, err = _cli(["exi", "decode", "--family", "din", "80"], capsys)
    assert rc == 1 and "truncated" in err
    rc, _, err = _cli(["exi", "decode", "--family", "din", "zz"], capsys)
    assert rc == 2 and "not hex" in err
    rc, _, err = _cli(["exi", "encode", "--family", "din", '{"V2G_Message": 5}'], capsys)
    assert rc == 1 and "expected an object" in err
