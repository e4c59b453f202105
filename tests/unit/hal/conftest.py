"""HAL unit fixtures: the whole simulated station on the simulator's clock, no broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from josev_hal.config import HalConfig
from josev_hal.service import HalService
from josev_hal.sim.scenario import SimClock


def make_service(tmp_path: Path, **overrides: Any) -> tuple[HalService, SimClock]:
    data: dict[str, Any] = {"tpm": {"backend": "file", "key_dir": str(tmp_path / "keys")}}
    data.update(overrides)
    clock = SimClock()
    return HalService(HalConfig.model_validate(data), clock=clock), clock


@pytest.fixture
def station(tmp_path: Path) -> tuple[HalService, SimClock]:
    return make_service(tmp_path)
