"""GPIO lines behind one small interface; the sysfs GPIO ABI as the Linux implementation.

The character-device ABI (/dev/gpiochipN) is the modern one; sysfs is still what many vendor
kernels of charger boards ship, and it can be faked in a test's tmp_path. Another backend only
has to implement GpioLine.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Literal

from josev_hal import sysfs


class GpioLine(abc.ABC):
    @abc.abstractmethod
    def get(self) -> bool:
        """The logical value (after active-low inversion)."""

    @abc.abstractmethod
    def set(self, value: bool) -> None:
        """Drive an output line to the logical value."""


class SysfsGpioLine(GpioLine):
    def __init__(self, root: Path, line: int, direction: Literal["in", "out"],
                 active_low: bool = False) -> None:
        self.path = root / f"gpio{line}"
        sysfs.export(root, self.path, line)
        sysfs.write(self.path / "active_low", 1 if active_low else 0)
        # "low" sets an output's direction and its initial value at once: no glitch high.
        sysfs.write(self.path / "direction", "low" if direction == "out" else "in")
        self._value = self.path / "value"

    def get(self) -> bool:
        text = sysfs.read(self._value)
        if text not in ("0", "1"):
            raise sysfs.SysfsError(f"{self._value}: expected 0 or 1, read {text[:20]!r}")
        return text == "1"

    def set(self, value: bool) -> None:
        sysfs.write(self._value, 1 if value else 0)
