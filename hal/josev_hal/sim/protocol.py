"""The simulator control channel's messages (JSON on MQTT, under the `sim/` topic prefix).

In: `sim/ev` (the EV side of the cable) and `sim/control` (the world around the station);
out: `sim/station` (what the station drives, for the EV simulator to react to). Every message
names its EVSE (default 1). These models are the contract the EV simulator imports.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

EV_TOPIC = "ev"
CONTROL_TOPIC = "control"
STATION_TOPIC = "station"


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    evse_id: Annotated[int, Field(ge=1, le=1000)] = 1


# -- sim/ev ---------------------------------------------------------------------------------------


class Plug(_Msg):
    action: Literal["plug"] = "plug"
    pp_ohm: Annotated[float, Field(gt=0, le=100_000)] = 220.0


class Unplug(_Msg):
    action: Literal["unplug"] = "unplug"


class SetCp(_Msg):
    """The EV's CP resistor: B (2.74 kOhm), C (882 Ohm, +charging), D (246 Ohm, ventilation)."""

    action: Literal["cp"] = "cp"
    state: Literal["B", "C", "D"]
    diode: bool = True


class SetBattery(_Msg):
    """The EV's battery as a DC load: open-circuit voltage, internal resistance, current cap."""

    action: Literal["battery"] = "battery"
    voltage: Annotated[float, Field(ge=0, le=1500)]
    resistance: Annotated[float, Field(gt=0, le=10)] = 0.05
    max_current: Annotated[float, Field(ge=0, le=1000)] = 500.0


class SetEvContactor(_Msg):
    """auto: the EV closes its contactor when precharge matched its battery voltage."""

    action: Literal["ev_contactor"] = "ev_contactor"
    mode: Literal["auto", "open", "closed"]


EvCommand = Annotated[Plug | Unplug | SetCp | SetBattery | SetEvContactor,
                      Field(discriminator="action")]

# -- sim/control ------------------------------------------------------------


class Tap(_Msg):
    action: Literal["tap"] = "tap"
    uid: Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z]+$")]


class EmergencyStop(_Msg):
    action: Literal["estop"] = "estop"
    pressed: bool


class SetIsolation(_Msg):
    action: Literal["isolation"] = "isolation"
    resistance_ohm: Annotated[float, Field(ge=0)]


class SupplyFault(_Msg):
    action: Literal["supply_fault"] = "supply_fault"
    fault: Annotated[str, Field(max_length=100)] | None  # None clears all faults


class WeldContactor(_Msg):
    action: Literal["weld"] = "weld"
    welded: bool


class Rcd(_Msg):
    action: Literal["rcd"] = "rcd"
    tripped: bool


ControlCommand = Annotated[
    Tap | EmergencyStop | SetIsolation | SupplyFault | WeldContactor | Rcd,
    Field(discriminator="action"),
]

EV_COMMANDS: TypeAdapter[Plug | Unplug | SetCp | SetBattery | SetEvContactor] = TypeAdapter(
    EvCommand
)
CONTROL_COMMANDS: TypeAdapter[
    Tap | EmergencyStop | SetIsolation | SupplyFault | WeldContactor | Rcd
] = TypeAdapter(ControlCommand)

# -- sim/station (out) ------------------------------------------------------------


class StationState(_Msg):
    """What the station drives, published on change and every `interval`."""

    time: float  # the station's monotonic clock, seconds
    cp_mode: Literal["steady", "pwm", "E", "F"]
    duty_cycle: float
    cp_voltage: float  # the positive plateau as measured at the station
    plugged: bool
    ev_cp_state: Literal["B", "C", "D"]
    contactors_closed: bool
    dc_voltage: float
    dc_current: float
    ac_current: float
    energy_wh: float  # into the EV
    estop: bool
    locked: bool
    isolation_testing: bool
    display: str | None = None  # the last display_and_personal_msg content for this EVSE
    energy_export_wh: float = 0.0  # out of the EV into the grid (BPT discharge)
