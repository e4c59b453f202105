"""Configuration loading (TOML, drop-ins, errors), the sim channel's commands, file keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from josev_hal.config import ConfigError, HalConfig, load
from josev_hal.sim import protocol as p
from josev_hal.sim.control import UnknownEvse, apply
from josev_hal.sim.world import SimEvse, SimStation
from josev_hal.tpm.base import CsrError, Subject
from josev_hal.tpm.file import FileKeyStore


def test_defaults_are_the_simulated_dc_station() -> None:
    cfg = load(None)
    assert cfg.backend == "simulator"
    assert len(cfg.evses) == 1 and cfg.evses[0].kind == "dc"
    assert cfg.evses[0].connectors[0].connector_type == "cCCS2"


def test_file_and_dropins(tmp_path: Path) -> None:
    f = tmp_path / "josev.toml"
    f.write_text('[hal]\nbackend = "simulator"\n[[hal.evses]]\nnetwork_interface = "plc0"\n'
                 '[iso15118]\n')  # another service's table: not ours to judge
    (tmp_path / "josev.toml.d").mkdir()
    (tmp_path / "josev.toml.d" / "10-mqtt.toml").write_text('[hal.mqtt]\nport = 1884\n')
    cfg = load(f)
    assert cfg.evses[0].network_interface == "plc0" and cfg.mqtt.port == 1884
    # A table no service owns is a typo, refused rather than silently ignored.
    (tmp_path / "josev.toml.d" / "20-typo.toml").write_text('[hall]\nbackend = "linux"\n')
    with pytest.raises(ConfigError, match=r"unknown table.*hall"):
        load(f)


def test_invalid_values_name_the_setting(tmp_path: Path) -> None:
    f = tmp_path / "josev.toml"
    f.write_text('[hal]\n[[hal.evses]]\nkind = "dc"\n[hal.evses.power]\nmax_current = -3\n')
    with pytest.raises(ConfigError, match=r"hal\.evses\.0\.power\.max_current"):
        load(f)
    f.write_text('[hal]\nbakend = "linux"\n')
    with pytest.raises(ConfigError, match="bakend"):
        load(f)
    f.write_text("[hal\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load(f)
    with pytest.raises(ConfigError, match="no such"):
        load(tmp_path / "missing.toml")


def test_duplicate_evse_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        HalConfig.model_validate({"evses": [{"evse_id": 1}, {"evse_id": 1}]})


def test_sim_commands_change_the_world() -> None:
    world = SimStation(evses={1: SimEvse()})
    taps: dict[int, list[str]] = {}
    apply(world, p.EV_COMMANDS.validate_json('{"action":"plug","pp_ohm":680}'))
    apply(world, p.EV_COMMANDS.validate_json('{"action":"cp","state":"C"}'))
    apply(world, p.CONTROL_COMMANDS.validate_json('{"action":"tap","uid":"04ab"}'), taps)
    assert world.evses[1].ev.plugged and world.evses[1].ev.cp_state == "C"
    assert taps == {1: ["04AB"]}
    with pytest.raises(UnknownEvse):
        apply(world, p.Unplug(evse_id=2))
    with pytest.raises(ValueError):
        p.EV_COMMANDS.validate_json('{"action":"cp","state":"X"}')


@pytest.mark.parametrize(("cert_type", "curve"), [
    ("charging_station_certificate", "secp256r1"), ("v2g_certificate", "secp256r1"),
    ("v2g20_certificate", "secp521r1"),
])
def test_file_key_store_csr(tmp_path: Path, cert_type: str, curve: str) -> None:
    store = FileKeyStore(tmp_path / "keys")
    pem = store.generate_csr(cert_type, Subject("SECC01", "Josev", "DE", "CPO"), None)  # type: ignore[arg-type]
    csr = x509.load_pem_x509_csr(pem.encode())
    assert csr.is_signature_valid
    key = csr.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == curve
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SECC01"
    pending = store.pending_path(cert_type)  # type: ignore[arg-type]
    assert pending.stat().st_mode & 0o777 == 0o600
    active = store.installation_status(cert_type, "installed")  # type: ignore[arg-type]
    assert active is not None and active.exists() and not pending.exists()
    assert store.installation_status(cert_type, "deleted") is None  # type: ignore[arg-type]
    assert not active.exists()


def test_v2g_needs_p256(tmp_path: Path) -> None:
    with pytest.raises(CsrError):
        FileKeyStore(tmp_path).generate_csr("v2g_certificate", Subject("a", "b", "DE"),
                                            "RSA_SHA256")


def test_auto_without_a_tpm_device_uses_files_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from josev_hal import devices

    monkeypatch.setattr(devices, "TPM_NODES", (str(tmp_path / "tpmrm0"),))
    cfg = HalConfig.model_validate({"tpm": {"key_dir": str(tmp_path / "k")}})
    with caplog.at_level(logging.WARNING):
        assert isinstance(devices.build(cfg).keystore, FileKeyStore)
    assert "keys are NOT protected" in caplog.text
    strict = HalConfig.model_validate({"tpm": {"allow_file_fallback": False}})
    with pytest.raises(ConfigError, match="file fallback forbidden"):
        devices.build(strict)


@pytest.mark.parametrize(("argv", "expected"), [
    (["tap", "04ab"], p.Tap(uid="04ab")),
    (["plug", "--pp-ohm", "680", "--evse", "2"], p.Plug(evse_id=2, pp_ohm=680.0)),
    (["unplug"], p.Unplug()),
    (["cp", "D"], p.SetCp(state="D")),
    (["battery", "410", "--max-current", "90"], p.SetBattery(voltage=410.0, max_current=90.0)),
    (["estop", "press"], p.EmergencyStop(pressed=True)),
    (["isolation", "1000"], p.SetIsolation(resistance_ohm=1000.0)),
    (["ev-contactor", "open"], p.SetEvContactor(mode="open")),
    (["supply-fault", "module 2: fan fault"], p.SupplyFault(fault="module 2: fan fault")),
    (["supply-fault", "--clear"], p.SupplyFault(fault=None)),
    (["weld", "on"], p.WeldContactor(welded=True)),
    (["rcd", "trip"], p.Rcd(tripped=True)),
    (["state"], None),
])
def test_sim_cli_commands(argv: list[str], expected: p._Msg | None) -> None:
    from josev_hal.cli import build_parser, sim_command

    args = build_parser().parse_args(["sim", *argv])
    assert sim_command(args) == expected


def test_the_documented_example_configuration_is_valid(tmp_path: Path) -> None:
    """docs/hal.md's TOML example must load: a stale example misleads integrators."""
    import re

    docs = Path(__file__).resolve().parents[3] / "docs" / "hal.md"
    (example,) = re.findall(r"```toml\n(.*?)```", docs.read_text(), re.S)
    f = tmp_path / "josev.toml"
    f.write_text(example)
    cfg = load(f)
    assert cfg.backend == "linux" and cfg.evses[0].power.backend == "infypower"


def test_config_command_prints_the_effective_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from josev_hal.cli import main

    f = tmp_path / "josev.toml"
    f.write_text('[hal]\n[[hal.evses]]\nnetwork_interface = "plc7"\n')
    assert main(["config", "--config", str(f)]) == 0
    effective = json.loads(capsys.readouterr().out)
    assert effective["evses"][0]["network_interface"] == "plc7"
    assert effective["evses"][0]["cp"]["debounce_s"] == 0.01
    f.write_text('[hal]\nloop_period_s = 1\n')
    assert main(["config", "--config", str(f)]) == 2
    assert "hal.loop_period_s" in capsys.readouterr().err
