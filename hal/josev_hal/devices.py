"""Build each EVSE's devices from configuration: the backend registry, in python-can's manner.

Linux backends are imported only when configured, so the simulator needs none of their
dependencies. A backend that cannot start is a ConfigError naming the device and the reason.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from josev_hal.config import ConfigError, EvseConfig, HalConfig
from josev_hal.contactor.base import ConnectorLock, ContactorBank
from josev_hal.contactor.sim import SimConnectorLock, SimContactorBank
from josev_hal.cp.base import ControlPilot
from josev_hal.cp.sim import SimControlPilot
from josev_hal.isolation.base import IsolationMonitor
from josev_hal.isolation.sim import SimIsolationMonitor
from josev_hal.meter.base import EnergyMeter
from josev_hal.meter.sim import SimMeter
from josev_hal.power.base import DcSupply
from josev_hal.power.sim import SimDcSupply
from josev_hal.rfid.base import CardReader
from josev_hal.rfid.sim import SimCardReader
from josev_hal.sim.world import SimEvse, SimStation
from josev_hal.station import EvseDevices
from josev_hal.tpm.base import KeyStore

log = logging.getLogger(__name__)


@dataclass
class Built:
    devices: dict[int, EvseDevices]
    readers: dict[int, list[CardReader]]
    sim_readers: dict[int, SimCardReader]
    world: SimStation
    keystore: KeyStore
    notes: list[str] = field(default_factory=list)


def _sim_evse(cfg: EvseConfig) -> SimEvse:
    p = cfg.power
    return SimEvse(
        dc=cfg.kind == "dc",
        phases=cfg.ac.phases,
        grid_voltage=cfg.ac.nominal_voltage,
        supply_max_voltage=p.max_voltage,
        supply_max_current=p.max_current,
        supply_max_discharge_current=p.max_discharge_current,
        ramp_a_per_s=p.ramp_a_per_s,
        ramp_v_per_s=p.ramp_v_per_s,
        imd_duration_s=cfg.isolation.test_duration_s,
    )


def build(hal: HalConfig) -> Built:
    world = SimStation()
    devices: dict[int, EvseDevices] = {}
    readers: dict[int, list[CardReader]] = {}
    sim_readers: dict[int, SimCardReader] = {}
    for cfg in hal.evses:
        w = _sim_evse(cfg)
        world.evses[cfg.evse_id] = w
        try:
            devices[cfg.evse_id] = EvseDevices(
                cp=_cp(hal, cfg, w),
                contactors=_contactors(hal, cfg, world, w),
                meter=_meter(hal, cfg, w),
                isolation=_isolation(hal, cfg, w) if cfg.kind == "dc" else None,
                supply=_supply(hal, cfg, w) if cfg.kind == "dc" else None,
                lock=_lock(hal, cfg, world, w),
            )
        except (OSError, ImportError, ValueError) as exc:
            raise ConfigError(f"evse {cfg.evse_id}: cannot start a device: {exc}") from exc
        sim_readers[cfg.evse_id] = SimCardReader(f"sim-evse{cfg.evse_id}")
        readers[cfg.evse_id] = _readers(hal, cfg)
    return Built(devices, readers, sim_readers, world, _keystore(hal))


TPM_NODES = ("/dev/tpmrm0", "/dev/tpm0")

# (device class, backend) -> (module, class); the class has `from_config(config)`.
BACKENDS: dict[tuple[str, str], tuple[str, str]] = {
    ("cp", "linux"): ("josev_hal.cp.linux", "SysfsControlPilot"),
    ("contactor", "linux"): ("josev_hal.contactor.linux", "GpioContactorBank"),
    ("lock", "linux"): ("josev_hal.contactor.linux", "GpioConnectorLock"),
    ("isolation", "bender_isocha425"): ("josev_hal.isolation.bender", "IsoCha425"),
    ("power", "infypower"): ("josev_hal.power.infypower", "InfyPowerSupply"),
    ("power", "winline"): ("josev_hal.power.winline", "WinlineSupply"),
    ("meter", "modbus_tcp"): ("josev_hal.meter.modbus", "ModbusMeter"),
    ("meter", "modbus_rtu"): ("josev_hal.meter.modbus", "ModbusMeter"),
    ("rfid", "pn532"): ("josev_hal.rfid.pn532", "Pn532Reader"),
    ("rfid", "evdev"): ("josev_hal.rfid.evdev", "EvdevReaders"),
    ("tpm", "tpm"): ("josev_hal.tpm.tpm2", "TpmKeyStore"),
}

def open_backend(kind: str, backend: str, expected: type, config: object) -> object:
    """Import and open a hardware backend (lazily, so the simulator needs none of them)."""
    try:
        module_name, class_name = BACKENDS[(kind, backend)]
    except KeyError:
        raise ConfigError(f"{kind}: unknown backend {backend!r}") from None
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{kind}: backend {backend!r} is not available: {exc}") from exc
    device = cls.from_config(config)
    if not isinstance(device, expected):
        raise ConfigError(f"{kind}: {class_name} is not a {expected.__name__}")
    return device


def _cp(hal: HalConfig, cfg: EvseConfig, w: SimEvse) -> ControlPilot:
    backend = hal.backend_of(cfg.cp.backend)
    if backend == "simulator":
        return SimControlPilot(w)
    return cast(ControlPilot, open_backend("cp", backend, ControlPilot, cfg.cp))


def _contactors(
    hal: HalConfig, cfg: EvseConfig, world: SimStation, w: SimEvse
) -> ContactorBank:
    backend = hal.backend_of(cfg.contactor.backend)
    if backend == "simulator":
        return SimContactorBank(world, w)
    return cast(
        ContactorBank, open_backend("contactor", backend, ContactorBank, cfg.contactor)
    )


def _lock(hal: HalConfig, cfg: EvseConfig, world: SimStation, w: SimEvse) -> ConnectorLock | None:
    """Sockets have a cable lock; a captive cable has none (its plug is locked by the EV)."""
    backend = hal.backend_of(cfg.contactor.backend)
    if backend == "simulator":
        socket = any(c.connector_type.startswith("s") for c in cfg.connectors)
        return SimConnectorLock(world, w) if socket else None
    if cfg.contactor.lock_line is None:
        return None
    return cast(ConnectorLock, open_backend("lock", backend, ConnectorLock, cfg.contactor))


def _isolation(hal: HalConfig, cfg: EvseConfig, w: SimEvse) -> IsolationMonitor:
    c = cfg.isolation
    backend = c.backend or ("simulator" if hal.backend == "simulator" else "bender_isocha425")
    if backend == "simulator":
        return SimIsolationMonitor(w, c.warning_ohm_per_v, c.fault_ohm_per_v)
    return cast(IsolationMonitor, open_backend("isolation", backend, IsolationMonitor, c))


def _supply(hal: HalConfig, cfg: EvseConfig, w: SimEvse) -> DcSupply:
    c = cfg.power
    backend = c.backend or ("simulator" if hal.backend == "simulator" else "infypower")
    if backend == "simulator":
        return SimDcSupply(w)
    return cast(DcSupply, open_backend("power", backend, DcSupply, c))


def _meter(hal: HalConfig, cfg: EvseConfig, w: SimEvse) -> EnergyMeter:
    c = cfg.meter
    backend = c.backend or ("simulator" if hal.backend == "simulator" else "modbus_tcp")
    if backend == "simulator":
        return SimMeter(w)
    return cast(EnergyMeter, open_backend("meter", backend, EnergyMeter, c))


def _readers(hal: HalConfig, cfg: EvseConfig) -> list[CardReader]:
    if hal.backend_of(cfg.rfid.backend) == "simulator":
        return []
    return [cast(CardReader, open_backend("rfid", rc.kind, CardReader, rc))
            for rc in cfg.rfid.readers]


def _keystore(hal: HalConfig) -> KeyStore:
    from josev_hal.tpm.file import FileKeyStore

    c = hal.tpm
    # "auto" without a configured TCTI probes only when a TPM device node exists: the TSS
    # library prints a page of errors for every TCTI it tries on a machine without one.
    probe = c.backend == "tpm" or c.tcti is not None or any(
        Path(node).exists() for node in TPM_NODES
    )
    if not probe and not c.allow_file_fallback:
        raise ConfigError("no TPM (no /dev/tpmrm0, no tcti configured) and file fallback "
                          "forbidden")
    if probe:
        try:
            return cast(KeyStore, open_backend("tpm", "tpm", KeyStore, c))
        except Exception as exc:  # no tpm2-pytss, no TPM, no resource manager
            if c.backend == "tpm" or not c.allow_file_fallback:
                raise ConfigError(f"TPM key store unavailable and file fallback forbidden: "
                                  f"{exc}") from exc
            log.warning("TPM unavailable (%s): FILE KEY STORE in %s, keys are NOT protected",
                        exc, c.key_dir)
    else:
        log.warning("no TPM device: FILE KEY STORE in %s, keys are NOT protected", c.key_dir)
    return FileKeyStore(c.key_dir)
