"""RAUC status parsing: RAUC 1.8's JSON as printed on the QEMU image, and broken output."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from josev_ota.rauc import RaucError, parse_status, read_status

SAMPLE = """{"compatible":"josev-qemu-arm64","variant":"","booted":"A","boot_primary":"rootfs.0",
"slots":[{"rootfs.0":{"class":"rootfs","device":"/dev/vda2","type":"ext4","bootname":"A",
"state":"booted","parent":null,"mountpoint":"/","boot_status":"good","slot_status":{}}},
{"rootfs.1":{"class":"rootfs","device":"/dev/vda3","type":"ext4","bootname":"B",
"state":"inactive","parent":null,"mountpoint":null,"boot_status":"bad","slot_status":{}}}]}"""


def test_parse_rauc_status() -> None:
    status = parse_status(SAMPLE)
    assert status.booted == "A" and status.boot_primary == "rootfs.0"
    assert [(s.name, s.state, s.boot_status) for s in status.slots] == [
        ("rootfs.0", "booted", "good"),
        ("rootfs.1", "inactive", "bad"),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("not json", "not JSON"), ("[]", "no slots"), ('{"slots": [1]}', "unexpected slot")],
)
def test_broken_output_is_a_clear_error(text: str, fragment: str) -> None:
    with pytest.raises(RaucError, match=fragment):
        parse_status(text)


def _fake_rauc(tmp_path: Path, body: str) -> str:
    # A stand-in executable: RAUC itself needs a system.conf and slots (tested in the image).
    path = tmp_path / "rauc"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_read_status_runs_rauc(tmp_path: Path) -> None:
    (tmp_path / "out.json").write_text(SAMPLE)
    rauc = _fake_rauc(tmp_path, f"cat {tmp_path / 'out.json'}")
    assert read_status(rauc).booted == "A"


def test_read_status_reports_failures(tmp_path: Path) -> None:
    rauc = _fake_rauc(tmp_path, "echo 'Failed to get status: no system.conf' >&2; exit 1")
    with pytest.raises(RaucError, match=r"no system\.conf"):
        read_status(rauc)
    with pytest.raises(RaucError, match="not installed"):
        read_status(os.fspath(tmp_path / "missing-rauc"))
