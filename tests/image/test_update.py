"""A/B update in the booted QEMU image: RAUC installs a signed bundle and GRUB switches slots.

Slow (two TCG boots and an install, about 10 minutes): `./dev test-slow tests/image`.
Boot 1 (slot A) installs the bundle from the results share into slot B; boot 2 must come up in
B, pass the same health checks and be marked good, with the broker passwords still on the
data partition.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.image.conftest import BOOT_TIMEOUT_S, BUILD_TIMEOUT_S, CACHE, REPO, _run

pytestmark = [pytest.mark.image, pytest.mark.slow]


def _boot(disk: Path, results: Path, log: Path, bundle: Path | None = None) -> dict[str, Any]:
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    # The charging session is the boot test's job; here it would only add minutes per boot.
    (results / "no-session").touch()
    if bundle is not None:
        os.link(bundle, results / "update.raucb")
    _run([str(REPO / "recipes/boot.sh"), str(disk), str(results), str(BOOT_TIMEOUT_S)],
         BOOT_TIMEOUT_S + 60, log)
    data: dict[str, Any] = json.loads((results / "result.json").read_text())
    return data


def test_rauc_update_switches_to_slot_b_and_keeps_the_data() -> None:
    if os.geteuid() != 0:
        pytest.fail("the image build needs root (mmdebstrap in root mode, binfmt_misc)")
    out = CACHE / "update-arm64"
    out.mkdir(parents=True, exist_ok=True)
    _run(["nice", "-n", "19", str(REPO / "recipes/build-image.sh"), str(out)], BUILD_TIMEOUT_S,
         out / "build.log")
    _run(["nice", "-n", "19", str(REPO / "recipes/make-bundle.sh"), str(out), "update-test"],
         600, out / "bundle.log")
    disk = out / "run.img"
    disk.unlink(missing_ok=True)
    subprocess.run(["cp", "--sparse=always", str(out / "disk.img"), str(disk)], check=True,
                   timeout=300)

    first = _boot(disk, out / "results-1", out / "boot-1.log", bundle=out / "update.raucb")
    assert first["rauc"]["booted"] == "A"
    assert first["install"]["rc"] == 0, first["install"]
    print(f"\nrauc install into slot B: {first['install']['seconds']} s in the guest")

    second = _boot(disk, out / "results-2", out / "boot-2.log")
    assert second["rauc"]["booted"] == "B", second["rauc"]
    assert "rauc.slot=B" in second["cmdline"]
    assert second["failed_units"] == [], second["failed_units"]
    for unit in ("josev-iso15118", "josev-hal", "josev-ota"):
        assert second["units"][unit]["ActiveState"] == "active", second["units"][unit]
    slots = {name: info for entry in second["rauc"]["slots"] for name, info in entry.items()}
    assert slots["rootfs.1"]["state"] == "booted"
    assert slots["rootfs.1"]["boot_status"] == "good"
    # Slot B has no passwords of its own: they come from the data partition, which the
    # update left alone.
    assert second["broker"]["iso15118"]["rc"] == 0
    assert second["broker"]["anonymous"]["rc"] != 0
    disk.unlink(missing_ok=True)
