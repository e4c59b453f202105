"""The committed compiled validators are exactly what the generator makes from the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from josev.lean.generator import HERE, OUTPUTS, main


def test_generated_code_is_current(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    stale = [n for n in OUTPUTS if (tmp_path / n).read_text() != (HERE / n).read_text()]
    assert not stale, f"regenerate with ./dev regen: {stale}"
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "api.py").write_text("# stale\n")
    assert main(["--out", str(tmp_path), "--check"]) == 1


def test_josev_iso15118_never_loads_pydantic() -> None:
    """The point of josev.lean: the service's own entry point, its modules and a session's
    codecs load without pydantic (about 13 MB of resident memory)."""
    code = (
        "import sys, josev.services.__main__, josev.services.iso15118, josev.sap\n"
        "from josev.secc.common.core import SeccCore\n"
        "import josev.exi.generated.din, josev.exi.generated.iso20_DC\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'annotated_types'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "", f"josev-iso15118 imports {out.stdout.strip()}"
