"""The committed generated code is exactly what the generator makes from the schemas."""

from __future__ import annotations

from pathlib import Path

from josev.exi.generator import OUT_DIR, generate, main

from .conftest import schema_dir


def test_generated_code_is_current(tmp_path: Path) -> None:
    files = generate(schema_dir())
    assert set(files) == {p.name for p in OUT_DIR.glob("*.py")}
    stale = [name for name, text in files.items() if (OUT_DIR / name).read_text() != text]
    assert not stale, f"regenerate with ./dev regen: {stale}"
    # and the command-line path writes the same files
    assert main(["--schemas", str(schema_dir()), "--out", str(tmp_path)]) == 0
    for name, text in files.items():
        assert (tmp_path / name).read_text() == text
    assert main(["--schemas", str(schema_dir()), "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "din.py").write_text("# stale\n")
    assert main(["--schemas", str(schema_dir()), "--out", str(tmp_path), "--check"]) == 1
