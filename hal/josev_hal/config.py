"""Configuration of josev-hal: the `[hal]` table of /etc/josev/josev.toml, validated with pydantic.

Every setting has a safe default so that `josev-hal run` with no file at all runs the simulated
DC station (one EVSE, one cCCS2 connector). A device's `backend` chooses its implementation;
`hal.backend` is the default for every device that does not name one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from josev.api.models import ConnectorEnum
from josev.config import ConfigError as ConfigError  # re-exported: the HAL's config errors
from josev.config import load_tables

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("/etc/josev/josev.toml")

Backend = Literal["simulator", "linux"]
PositiveFloat = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationConfig(_Strict):
    """What `device_model` and `cs_parameters` report."""

    model: Annotated[str, Field(max_length=20)] = "Josev-Sim-DC"
    vendor: Annotated[str, Field(max_length=50)] = "Josev"
    identity: Annotated[str, Field(min_length=1, max_length=48)] = "josev-sim-01"
    ocpp_csms_url: Annotated[str, Field(max_length=512)] = "ws://127.0.0.1:9000/ocpp"
    security_profile: Annotated[int, Field(ge=1, le=3)] = 1
    basic_auth_password: Annotated[str, Field(min_length=16, max_length=40)] | None = None
    serial_number: Annotated[str, Field(max_length=25)] = "SIM-0001"
    firmware_version: Annotated[str, Field(max_length=50)] = "0.1.0"
    hw_version: Annotated[str, Field(max_length=50)] = "sim-1"
    sim_iccid: Annotated[str, Field(max_length=20)] | None = None
    sim_imsi: Annotated[str, Field(max_length=20)] | None = None


class ConnectorConfig(_Strict):
    id: Annotated[int, Field(ge=1, le=100)] = 1
    connector_type: ConnectorEnum = "cCCS2"
    # A socket (e.g. sType2) reads the cable's PP resistor; a captive cable has a fixed rating.
    cable_max_current: PositiveFloat = 200.0


class CpConfig(_Strict):
    """Control pilot and proximity (IEC 61851-1)."""

    backend: Backend | None = None
    sysfs_root: Path = Path("/sys")
    pwm_chip: Annotated[int, Field(ge=0)] = 0
    pwm_channel: Annotated[int, Field(ge=0)] = 0
    pwm_inverted: bool = False
    iio_device: Annotated[int, Field(ge=0)] = 0
    iio_channel_high: Annotated[int, Field(ge=0)] = 0
    iio_channel_low: Annotated[int, Field(ge=0)] = 1
    # CP volts = ADC volts * gain + offset (the front end's divider and level shift).
    adc_gain: float = 1.0
    adc_offset: float = 0.0
    iio_channel_pp: Annotated[int, Field(ge=0)] | None = None
    pp_pullup_ohm: PositiveFloat = 1000.0
    pp_supply_v: PositiveFloat = 5.0
    # The state must read the same for this long before it counts (IEC 61851-1 allows debouncing).
    debounce_s: Annotated[float, Field(ge=0, le=0.5)] = 0.01


class ContactorConfig(_Strict):
    backend: Backend | None = None
    gpio_root: Path = Path("/sys/class/gpio")
    output_line: Annotated[int, Field(ge=0)] = 0
    feedback_line: Annotated[int, Field(ge=0)] | None = 1
    feedback_active_low: bool = False
    estop_line: Annotated[int, Field(ge=0)] | None = 2
    estop_active_low: bool = True  # a normally-closed e-stop chain reads low when pressed
    rcd_line: Annotated[int, Field(ge=0)] | None = None  # AC: the RCD's trip contact
    rcd_active_low: bool = False
    # A socket's cable lock: actuator output and its switch (None: no lock on this board).
    lock_line: Annotated[int, Field(ge=0)] | None = None
    lock_feedback_line: Annotated[int, Field(ge=0)] | None = None
    lock_feedback_active_low: bool = False
    # Feedback must follow the command within these times, else it is an error or welded.
    close_timeout_s: PositiveFloat = 0.2
    open_timeout_s: PositiveFloat = 0.2


class IsolationConfig(_Strict):
    backend: Literal["simulator", "bender_isocha425"] | None = None
    serial_port: str = "/dev/ttyS1"
    baudrate: int = 19200
    unit: Annotated[int, Field(ge=1, le=247)] = 3
    test_duration_s: PositiveFloat = 3.0  # simulator: how long the self-test and measurement take
    warning_ohm_per_v: PositiveFloat = 500.0  # IEC 61851-23: > 500 Ohm/V valid
    fault_ohm_per_v: PositiveFloat = 100.0  # < 100 Ohm/V fault


class PowerConfig(_Strict):
    """The DC supply: one or more CAN power modules in parallel, or the simulator."""

    backend: Literal["simulator", "infypower", "winline"] | None = None
    can_interface: str = "socketcan"
    can_channel: str = "can0"
    can_bitrate: int = 125000
    module_addresses: list[Annotated[int, Field(ge=0, le=0x3E)]] = [1]
    group: Annotated[int, Field(ge=0, le=7)] = 0
    max_voltage: PositiveFloat = 920.0
    min_voltage: Annotated[float, Field(ge=0)] = 150.0
    max_current: PositiveFloat = 125.0  # all modules together
    min_current: Annotated[float, Field(ge=0)] = 0.0
    max_power: PositiveFloat = 50000.0
    peak_current_ripple: Annotated[float, Field(ge=0)] = 2.0
    current_reg_tolerance: Annotated[float, Field(ge=0)] = 5.0
    ramp_a_per_s: PositiveFloat = 500.0
    ramp_v_per_s: PositiveFloat = 2000.0
    keepalive_s: PositiveFloat = 1.0  # modules switch off after ~10 s without frames
    measure_poll_s: PositiveFloat = 0.1
    precharge_max_current: PositiveFloat = 2.0  # IEC 61851-23 precharge limit
    # Bidirectional power transfer (ISO 15118-20 DC_BPT): what the supply may take back from
    # the EV into the grid. 0 = not bidirectional (no dc_bpt limits, discharge refused).
    max_discharge_current: Annotated[float, Field(ge=0)] = 0.0
    max_discharge_power: Annotated[float, Field(ge=0)] = 0.0
    min_discharge_current: Annotated[float, Field(ge=0)] = 0.0
    min_discharge_power: Annotated[float, Field(ge=0)] = 0.0


class AcSupplyConfig(_Strict):
    phases: Annotated[int, Field(ge=1, le=3)] = 3
    nominal_voltage: PositiveFloat = 230.0
    max_current: PositiveFloat = 32.0
    # AC_BPT: the most the EV may feed back per phase (A); 0 = not bidirectional.
    max_discharge_current: Annotated[float, Field(ge=0)] = 0.0


class MeterConfig(_Strict):
    backend: Literal["simulator", "modbus_tcp", "modbus_rtu"] | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    serial_port: str = "/dev/ttyS2"
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    poll_s: PositiveFloat = 1.0
    registers: dict[str, MeterRegister] = Field(default_factory=lambda: dict(DEFAULT_REGISTERS))
    ocmf_register: Annotated[int, Field(ge=0, le=65535)] | None = None
    ocmf_length: Annotated[int, Field(ge=1, le=125)] = 125
    public_key: str = ""


class MeterRegister(_Strict):
    """One measurand in the meter's register map: address, encoding and scale."""

    address: Annotated[int, Field(ge=0, le=65535)]
    kind: Literal["holding", "input"] = "holding"
    encoding: Literal["float32", "int32", "uint32", "int16", "uint16", "int64", "uint64"] = (
        "float32"
    )
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0


DEFAULT_REGISTERS: dict[str, MeterRegister] = {
    # A common float32 layout (Eastron SDM630-like input registers); real meters override this.
    "voltage_l1": MeterRegister(address=0x0000, kind="input"),
    "voltage_l2": MeterRegister(address=0x0002, kind="input"),
    "voltage_l3": MeterRegister(address=0x0004, kind="input"),
    "current_l1": MeterRegister(address=0x0006, kind="input"),
    "current_l2": MeterRegister(address=0x0008, kind="input"),
    "current_l3": MeterRegister(address=0x000A, kind="input"),
    "power_factor": MeterRegister(address=0x003E, kind="input"),
    "frequency": MeterRegister(address=0x0046, kind="input"),
    "energy_import_wh": MeterRegister(address=0x0048, kind="input", scale=1000.0),
    "energy_export_wh": MeterRegister(address=0x004A, kind="input", scale=1000.0),
    "reactive_import_varh": MeterRegister(address=0x004C, kind="input", scale=1000.0),
    "reactive_export_varh": MeterRegister(address=0x004E, kind="input", scale=1000.0),
}

MeterConfig.model_rebuild()


class RfidReaderConfig(_Strict):
    kind: Literal["pn532", "evdev"]
    serial_port: str = "/dev/ttyS3"
    baudrate: int = 115200
    # evdev: a fixed device node, or None to take every keyboard-like reader udev announces.
    device: str | None = None
    name_contains: str = ""


class RfidConfig(_Strict):
    backend: Backend | None = None
    readers: list[RfidReaderConfig] = []
    token_type: Literal["ISO14443", "ISO15693", "key_code", "local"] = "ISO14443"


class TpmConfig(_Strict):
    backend: Literal["auto", "tpm", "file"] = "auto"
    tcti: str | None = None  # e.g. "tabrmd:bus_type=session"; None = the library's default
    key_dir: Path = Path("/var/lib/josev/keys")
    # Without a TPM, keys go to files under key_dir (logged loudly); set False to refuse instead.
    allow_file_fallback: bool = True


class SupervisorConfig(_Strict):
    # While power flows in an HLC session, silence from josev on josev/cs longer than this trips.
    brain_timeout_s: PositiveFloat = 5.0
    # Before opening the contactors the supply is ramped down; waits at most this long for it.
    ramp_down_max_s: Annotated[float, Field(ge=0, le=0.08)] = 0.03
    # Current below which opening the contactors is considered load-free.
    safe_current_a: Annotated[float, Field(ge=0)] = 5.0
    # After a trip, state F is held at least this long before the pilot is released.
    trip_hold_s: Annotated[float, Field(ge=0)] = 2.0
    cable_check_voltage: PositiveFloat = 500.0


class LogsConfig(_Strict):
    """`upload_logs`: what is collected, where the archive goes, how it is uploaded."""

    data_dir: Path = Path("/var/lib/josev/logs")  # archives (the data partition)
    keep_archives: Annotated[int, Field(ge=1)] = 3
    log_dir: Path | None = Path("/var/log/josev")  # files of the station's own (newest first)
    journalctl: str = "journalctl"
    journal_directory: Path | None = None  # journalctl --directory (default: the system's)
    journal_units: list[str] = ["josev-hal", "josev-iso15118", "josev-ocpp", "josev-ota",
                                "mosquitto", "rauc"]
    # Cap on the log text collected (the archive is smaller); the manifest names what was cut.
    max_bytes: Annotated[int, Field(ge=4096)] = 16 * 1024 * 1024
    upload_method: Literal["put", "post"] = "put"  # post: multipart/form-data, field "file"
    ca_file: Path | None = None  # None: the system's trust store
    timeout_s: PositiveFloat = 30.0  # per socket operation
    default_retries: Annotated[int, Field(ge=0, le=100)] = 2  # when the request names none
    default_retry_interval_s: Annotated[float, Field(ge=0)] = 60.0


class EvseConfig(_Strict):
    evse_id: Annotated[int, Field(ge=1, le=1000)] = 1
    iso15118_id: Annotated[str, Field(min_length=1, max_length=37)] = "DE*JSV*E1"
    kind: Literal["dc", "ac"] = "dc"
    network_interface: Annotated[str, Field(min_length=1, max_length=15)] = "eth1"
    supports_eim: bool = True
    connectors: Annotated[list[ConnectorConfig], Field(min_length=1)] = [ConnectorConfig()]
    cp: CpConfig = CpConfig()
    contactor: ContactorConfig = ContactorConfig()
    isolation: IsolationConfig = IsolationConfig()
    power: PowerConfig = PowerConfig()
    ac: AcSupplyConfig = AcSupplyConfig()
    meter: MeterConfig = MeterConfig()
    rfid: RfidConfig = RfidConfig()
    max_current: PositiveFloat | None = None  # the installation's own cap (both AC and DC)


class MqttConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password_file: Path | None = None
    client_id: str = "josev-hal"


class HalConfig(_Strict):
    backend: Backend = "simulator"
    station: StationConfig = StationConfig()
    evses: Annotated[list[EvseConfig], Field(min_length=1)] = [EvseConfig()]
    supervisor: SupervisorConfig = SupervisorConfig()
    tpm: TpmConfig = TpmConfig()
    mqtt: MqttConfig = MqttConfig()
    logs: LogsConfig = LogsConfig()
    # The simulator control channel (sim/ev in, sim/station out): not part of the Josev API.
    sim_topic_prefix: str = "sim"
    meter_update_s: PositiveFloat = 5.0
    loop_period_s: Annotated[float, Field(gt=0, le=0.05)] = 0.005
    # SCHED_FIFO priority for the service (1-99); None leaves scheduling to the unit file
    # (CPUSchedulingPolicy=fifo). Without it a loaded CPU can delay a trip beyond 100 ms.
    realtime_priority: Annotated[int, Field(ge=1, le=99)] | None = None
    # Last resort after SIGTERM: a shutdown still running this long (every step has its own
    # smaller bound) dumps every thread's stack and exits 1, before systemd's SIGKILL.
    shutdown_timeout_s: Annotated[float, Field(gt=0, le=60)] = 8.0

    @model_validator(mode="after")
    def _unique_evse_ids(self) -> HalConfig:
        ids = [e.evse_id for e in self.evses]
        if len(set(ids)) != len(ids):
            raise ValueError(f"evse_id values must be unique, got {ids}")
        return self

    def backend_of(self, chosen: str | None) -> str:
        """A device's backend: its own choice, else the station-wide one."""
        return chosen if chosen is not None else self.backend


def load(path: Path | None) -> HalConfig:
    """Read the `[hal]` table of `path` and the drop-ins in `<path>.d/*.toml` (sorted, merged).

    No path: the defaults (the simulator). A missing explicit file is an error, not a silent
    fallback to the simulator on a real station.
    """
    if path is None:
        return HalConfig()
    # One reader for the station's file and its drop-ins, shared by every service.
    tables = load_tables(path, required=True)
    table = tables.get("hal", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [hal] must be a table")
    try:
        return HalConfig.model_validate(table)
    except ValidationError as exc:
        lines = [f"  hal.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: invalid configuration:\n" + "\n".join(lines)) from exc
