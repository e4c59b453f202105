"""Read RAUC's view of the A/B slots (`rauc status --output-format=json`) into typed values."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass


class RaucError(Exception):
    """RAUC is missing, failed, or printed something we cannot read; the message says which."""


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    slot_class: str
    device: str
    state: str  # booted | active | inactive
    boot_status: str | None  # good | bad | None when the slot is not bootable


@dataclass(frozen=True, slots=True)
class RaucStatus:
    compatible: str
    booted: str | None
    boot_primary: str | None
    slots: tuple[Slot, ...]


def parse_status(text: str) -> RaucStatus:
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise RaucError(f"rauc status is not JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("slots"), list):
        raise RaucError("rauc status JSON has no slots list")
    slots = []
    for entry in raw["slots"]:
        # RAUC prints [{"rootfs.0": {...}}, ...]
        if not isinstance(entry, dict) or len(entry) != 1:
            raise RaucError(f"unexpected slot entry: {entry!r}")
        ((name, info),) = entry.items()
        if not isinstance(info, dict):
            raise RaucError(f"slot {name}: not an object")
        boot = info.get("boot_status")
        slots.append(
            Slot(
                name=str(name),
                slot_class=str(info.get("class", "")),
                device=str(info.get("device", "")),
                state=str(info.get("state", "")),
                boot_status=str(boot) if boot is not None else None,
            )
        )
    return RaucStatus(
        compatible=str(raw.get("compatible", "")),
        booted=raw.get("booted"),
        boot_primary=raw.get("boot_primary"),
        slots=tuple(slots),
    )


def read_status(rauc: str = "rauc", timeout: float = 30.0) -> RaucStatus:
    if shutil.which(rauc) is None:
        raise RaucError(f"{rauc} is not installed")
    try:
        proc = subprocess.run(
            [rauc, "status", "--output-format=json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RaucError(f"rauc status did not answer within {timeout} s") from None
    if proc.returncode != 0:
        raise RaucError(f"rauc status failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    return parse_status(proc.stdout)
