"""The committed generated code is exactly what the generator makes from the schemas."""

from __future__ import annotations

from pathlib import Path

from josev.exi.generator import OUT_DIR, main

from .conftest import schema_dir


def test_generated_code_is_current(tmp_path: Path) -> None:
    # the command-line path: write into a temporary directory, compare with the committed files
    assert main(["--schemas", str(schema_dir()), "--out", str(tmp_path)]) == 0
    written = {p.name: p.read_text() for p in tmp_path.glob("*.py")}
    assert set(written) == {p.name for p in OUT_DIR.glob("*.py")}
    stale = [name for name, text in written.items() if (OUT_DIR / name).read_text() != text]
    assert not stale, f"regenerate with ./dev regen: {stale}"
    # --check notices a stale file
    (tmp_path / "din.py").write_text("# stale\n")
    assert main(["--schemas", str(schema_dir()), "--out", str(tmp_path), "--check"]) == 1
