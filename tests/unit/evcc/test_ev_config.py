"""The EV simulator's configuration (file or flags) and its physical model."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from josev.cli import build_parser
from josev.evcc.cli import config_from
from josev.evcc.common.ev import EvConfig, EvModel


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["ev", "run", "--iface", "veth0", *argv])


def test_flags_only() -> None:
    cfg = config_from(parse("--protocols", "DIN,ISO20_DC", "--soc", "20", "--ac"))
    assert cfg.protocols == ("DIN", "ISO20_DC")
    assert (cfg.soc, cfg.ac, cfg.target_soc) == (20.0, True, 80.0)


def test_file_then_flags_win(tmp_path: Path) -> None:
    f = tmp_path / "ev.toml"
    f.write_text('protocols = ["ISO2"]\nsoc = 10.0\ncapacity_wh = 40000.0\n'
                 'control_mode = "scheduled"\n')
    cfg = config_from(parse("--config", str(f), "--soc", "55"))
    assert cfg.protocols == ("ISO2",)
    assert (cfg.soc, cfg.capacity_wh, cfg.control_mode) == (55.0, 40000.0, "scheduled")


def test_unknown_setting_in_file_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "ev.toml"
    f.write_text("socc = 10\n")
    with pytest.raises(ValueError, match="unknown EV setting"):
        config_from(parse("--config", str(f)))


def test_battery_model_integrates_energy_and_tapers() -> None:
    ev = EvModel(EvConfig(capacity_wh=1000.0, soc=50.0, max_current=100.0))
    assert ev.max_charge_current() == 100.0
    ev.measure(400.0, 10.0, 0.0)
    ev.measure(400.0, 10.0, 90.0)            # 4 kW for 90 s = 100 Wh = 10 % of 1 kWh
    assert ev.energy_wh == pytest.approx(100.0)
    assert ev.soc == pytest.approx(60.0)
    ev.soc = 90.0
    assert ev.max_charge_current() == pytest.approx(100.0 * (0.1 + 0.9 * 0.5))
    assert ev.ocv > EvModel(EvConfig(soc=10.0)).ocv
