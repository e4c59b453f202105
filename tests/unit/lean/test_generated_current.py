"""The committed compiled validators are exactly what the generator makes from the models."""

from __future__ import annotations

from pathlib import Path

from josev.lean.generator import HERE, OUTPUTS, main


def test_generated_code_is_current(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    stale = [n for n in OUTPUTS if (tmp_path / n).read_text() != (HERE / n).read_text()]
    assert not stale, f"regenerate with ./dev regen: {stale}"
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "api.py").write_text("# stale\n")
    assert main(["--out", str(tmp_path), "--check"]) == 1

