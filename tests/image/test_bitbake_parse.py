"""The real proof of meta-josev: bitbake parses it with poky, meta-openembedded and meta-rauc.

Slow (a cold parse takes ~9 minutes per machine on 2 cores) and needs the layers, which a
clean clone does not have (CI cannot fetch them): set JOSEV_POKY, JOSEV_META_OE,
JOSEV_META_RAUC and JOSEV_META_SECURITY to checkouts at the commits pinned in kas.yml and
kas/tpm.yml and run `./dev test-slow -m layers tests/image/test_bitbake_parse.py`. The second
test parses again with meta-tpm and requires the TPM 2.0 stack in the image's build list.
Marked `layers`, so the slow suite leaves them out; selected without the layers they fail.
The recorded result is in docs/image.md.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER_VARS = ("JOSEV_POKY", "JOSEV_META_OE", "JOSEV_META_RAUC")
TPM_STACK = ("tpm2-tss", "tpm2-abrmd", "tpm2-tools", "python3-tpm2-pytss")


def layer(var: str) -> str:
    """A layer checkout named by an environment variable; without it the test fails."""
    path = os.environ.get(var)
    if not path:
        pytest.fail(f"set {var} to a layer checkout at the pinned commit (docs/image.md)",
                    pytrace=False)
    return path


def run_parse(machine: str, env: dict[str, str]) -> str:
    """Run bitbake_parse.sh for one machine; return its log (stderr) after asserting success."""
    layers = [layer(var) for var in LAYER_VARS]
    proc = subprocess.run(
        [str(REPO / "tests/image/bitbake_parse.sh"), *layers, machine],
        capture_output=True, text=True, timeout=1800, check=False, env={**os.environ, **env},
    )
    print(proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{machine}: OK" in proc.stderr
    return proc.stderr


@pytest.mark.slow
@pytest.mark.image
@pytest.mark.layers
@pytest.mark.parametrize("machine", ["qemuarm64", "qemuarm"])
def test_bitbake_parses_the_layer_and_graphs_josev_image(machine: str) -> None:
    run_parse(machine, {})


@pytest.mark.slow
@pytest.mark.image
@pytest.mark.layers
@pytest.mark.parametrize("machine", ["qemuarm64", "qemuarm"])
def test_bitbake_with_meta_tpm_puts_the_tpm_stack_in_josev_image(machine: str) -> None:
    security = layer("JOSEV_META_SECURITY")
    # A separate build folder: another layer set has its own parse cache.
    build = os.environ.get("JOSEV_BITBAKE_BUILD", "/var/cache/josev-image/bitbake-build")
    log = run_parse(machine, {
        "JOSEV_EXTRA_LAYERS": str(Path(security) / "meta-tpm"),
        "JOSEV_REQUIRE_RECIPES": " ".join(TPM_STACK),
        "JOSEV_BITBAKE_BUILD": f"{build}-tpm",
    })
    for recipe in TPM_STACK:
        assert f"{machine}: {recipe} is in the build list" in log
