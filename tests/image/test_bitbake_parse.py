"""The real proof of meta-josev: bitbake parses it with poky, meta-openembedded and meta-rauc.

Slow (a cold parse takes ~9 minutes per machine on 2 cores) and needs the layers, which a
clean clone does not have: set JOSEV_POKY, JOSEV_META_OE and JOSEV_META_RAUC to scarthgap
checkouts at the commits pinned in kas.yml and run `./dev test-slow tests/image`. With
JOSEV_META_SECURITY (a meta-security checkout at the commit pinned in kas/tpm.yml) it parses
again with meta-tpm and requires the TPM 2.0 stack in the image's build list. The recorded
result is in docs/image.md.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER_VARS = ("JOSEV_POKY", "JOSEV_META_OE", "JOSEV_META_RAUC")
TPM_STACK = ("tpm2-tss", "tpm2-abrmd", "tpm2-tools", "python3-tpm2-pytss")


@pytest.mark.slow
@pytest.mark.image
def run_parse(machine: str, env: dict[str, str]) -> str:
    """Run bitbake_parse.sh for one machine; return its log (stderr) after asserting success."""
    missing = [var for var in LAYER_VARS if not os.environ.get(var)]
    if missing:
        pytest.skip(f"set {', '.join(missing)} to scarthgap layer checkouts (docs/image.md)")
    layers = [os.environ[var] for var in LAYER_VARS]
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
@pytest.mark.parametrize("machine", ["qemuarm64", "qemuarm"])
def test_bitbake_parses_the_layer_and_graphs_josev_image(machine: str) -> None:
    run_parse(machine, {})


@pytest.mark.slow
@pytest.mark.image
@pytest.mark.parametrize("machine", ["qemuarm64", "qemuarm"])
def test_bitbake_with_meta_tpm_puts_the_tpm_stack_in_josev_image(machine: str) -> None:
    security = os.environ.get("JOSEV_META_SECURITY")
    if not security:
        pytest.skip("set JOSEV_META_SECURITY to meta-security at kas/tpm.yml's commit")
    # A separate build folder: another layer set has its own parse cache.
    build = os.environ.get("JOSEV_BITBAKE_BUILD", "/var/cache/josev-image/bitbake-build")
    log = run_parse(machine, {
        "JOSEV_EXTRA_LAYERS": str(Path(security) / "meta-tpm"),
        "JOSEV_REQUIRE_RECIPES": " ".join(TPM_STACK),
        "JOSEV_BITBAKE_BUILD": f"{build}-tpm",
    })
    for recipe in TPM_STACK:
        assert f"{machine}: {recipe} is in the build list" in log
