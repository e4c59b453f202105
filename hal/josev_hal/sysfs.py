"""Small helpers for sysfs attribute files: read/write one value, with errors that name the file."""

from __future__ import annotations

from pathlib import Path


class SysfsError(OSError):
    """A sysfs attribute could not be read or written, or held something unexpected."""


def write(path: Path, value: str | int) -> None:
    try:
        path.write_text(f"{value}\n")
    except OSError as exc:
        raise SysfsError(f"cannot write {value!r} to {path}: {exc.strerror or exc}") from exc


def read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SysfsError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_float(path: Path) -> float:
    text = read(path)
    try:
        return float(text)
    except ValueError:
        raise SysfsError(f"{path}: expected a number, read {text[:40]!r}") from None


def export(root: Path, item: Path, number: int) -> None:
    """Export a PWM channel or GPIO line when its directory is not there yet."""
    if item.is_dir():
        return
    write(root / "export", number)
    if not item.is_dir():
        raise SysfsError(f"{item} did not appear after export (wrong chip/line number?)")
