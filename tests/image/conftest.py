"""Fixtures of the image suite: build the Debian-based QEMU image and boot it once per arch.

The build and the boot are real (mmdebstrap under qemu-user, qemu-system-aarch64 / -arm under
TCG); both are bounded by timeouts. The base rootfs and the dependency wheels are cached outside
the clone (JOSEV_IMAGE_CACHE, default /var/cache/josev-image), so only a cold cache pays for the
Debian packages (~9 minutes on a 2-core machine; see docs/image.md). arm64 is the default run;
armhf (armv7) is the same checks in the slow suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("JOSEV_IMAGE_CACHE", "/var/cache/josev-image"))
BUILD_TIMEOUT_S = 1500
# Boot, checks and the in-image charging session (josev demo) up to power-off.
BOOT_TIMEOUT_S = 1500


@dataclass
class BootedImage:
    """What one build and boot of the image produced (figures and the guest's report)."""

    arch: str
    image: dict[str, Any]
    boot: dict[str, Any]
    result: dict[str, Any]
    results_dir: Path
    build_wall_s: float


def _run(cmd: list[str], timeout: int, log: Path) -> None:
    with log.open("w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                              check=False, cwd=REPO)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}); log {log}:\n{tail}")


@pytest.fixture(
    scope="session",
    params=[pytest.param("arm64"), pytest.param("armhf", marks=pytest.mark.slow)],
)
def booted_image(request: pytest.FixtureRequest) -> Iterator[BootedImage]:
    """arm64 in the default run; armhf (armv7: qemu-system-arm is slower still) in the slow
    suite, with the same tests."""
    arch: str = request.param
    if os.geteuid() != 0:
        pytest.fail("the image build needs root (mmdebstrap in root mode, binfmt_misc)")
    out = CACHE / f"test-{arch}"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # nice: the builder is shared with benchmarks; the boot below is not niced (the guest's
    # charge loop has real-time limits).
    _run(["nice", "-n", "19", str(REPO / "recipes/build-image.sh"), str(out), arch],
         BUILD_TIMEOUT_S, out / "build.log")
    build_wall_s = time.monotonic() - started
    image = json.loads((out / "image.json").read_text())
    # Boot a copy: the first boot writes the data partition and the GRUB environment.
    run_disk = out / "run.img"
    run_disk.unlink(missing_ok=True)
    subprocess.run(["cp", "--sparse=always", image["disk"], str(run_disk)], check=True,
                   timeout=300)
    results = out / "results"
    shutil.rmtree(results, ignore_errors=True)
    _run([str(REPO / "recipes/boot.sh"), str(run_disk), str(results), str(BOOT_TIMEOUT_S),
          arch], BOOT_TIMEOUT_S + 60, out / "boot.log")
    booted = BootedImage(
        arch=arch,
        image=image,
        boot=json.loads((results / "boot.json").read_text()),
        result=json.loads((results / "result.json").read_text()),
        results_dir=results,
        build_wall_s=build_wall_s,
    )
    yield booted
    run_disk.unlink(missing_ok=True)
