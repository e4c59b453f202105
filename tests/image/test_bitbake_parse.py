"""The real proof of meta-josev: bitbake parses it with poky, meta-openembedded and meta-rauc.

Slow (a cold parse takes ~9 minutes per machine on 2 cores) and needs the layers, which a
clean clone does not have: set JOSEV_POKY, JOSEV_META_OE and JOSEV_META_RAUC to scarthgap
checkouts at the commits pinned in kas.yml and run `./dev test-slow tests/image`. The recorded
result is in docs/image.md.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER_VARS = ("JOSEV_POKY", "JOSEV_META_OE", "JOSEV_META_RAUC")


@pytest.mark.slow
@pytest.mark.image
@pytest.mark.parametrize("machine", ["qemuarm64", "qemuarm"])
def test_bitbake_parses_the_layer_and_graphs_josev_image(machine: str) -> None:
    missing = [var for var in LAYER_VARS if not os.environ.get(var)]
    if missing:
        pytest.skip(f"set {', '.join(missing)} to scarthgap layer checkouts (docs/image.md)")
    layers = [os.environ[var] for var in LAYER_VARS]
    proc = subprocess.run(
        [str(REPO / "tests/image/bitbake_parse.sh"), *layers, machine],
        capture_output=True, text=True, timeout=1800, check=False,
    )
    print(proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{machine}: OK" in proc.stderr
