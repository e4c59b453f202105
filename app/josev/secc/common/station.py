"""The SECC's read-only view of one EVSE in the station-state cache (josev.station).

Why a view: the charge loops answer from the latest state, synchronously; this is where a
missing value (station not yet reported) becomes a safe default instead of an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from josev.lean.generated import api as m
from josev.station import StationState

# DIN/-2 DC_EVSEStatusCode and -20 notifications from the API's status_code.
STATUS_DIN = {
    "evse_not_ready": "EVSE_NotReady",
    "evse_ready": "EVSE_Ready",
    "evse_shutdown": "EVSE_Shutdown",
    "evse_utility_interrupt_event": "EVSE_UtilityInterruptEvent",
    "evse_isolation_monitoring_active": "EVSE_IsolationMonitoringActive",
    "evse_emergency_shutdown": "EVSE_EmergencyShutdown",
    "evse_malfunction": "EVSE_Malfunction",
}
FATAL_STATUS = frozenset({"evse_shutdown", "evse_emergency_shutdown", "evse_malfunction",
                          "evse_utility_interrupt_event"})
ISOLATION_DIN = {"valid": "Valid", "warning": "Warning", "fault": "Fault", "invalid": "Invalid",
                 "no_imd": "Valid"}


@dataclass(slots=True)
class StationView:
    state: StationState
    evse_id: int

    @property
    def limits(self) -> m.EvseStatusAndLimits | None:
        return self.state.evse(self.evse_id).limits

    @property
    def dc(self) -> m.DcLimits | None:
        lim = self.limits
        return lim.dc if lim is not None else None

    @property
    def ac(self) -> m.AcLimits | None:
        lim = self.limits
        return lim.ac if lim is not None else None

    @property
    def dc_bpt(self) -> m.DcBptLimits | None:
        lim = self.limits
        return lim.dc_bpt if lim is not None else None

    @property
    def status_code(self) -> str:
        lim = self.limits
        return lim.status_code if lim is not None else "evse_not_ready"

    @property
    def fatal(self) -> bool:
        return self.status_code in FATAL_STATUS

    @property
    def cp_state(self) -> str:
        cp = self.state.evse(self.evse_id).cp
        return cp.state if cp is not None else ""

    @property
    def charge_limit(self) -> m.Iso15118ChargeLimitUpdate | None:
        return self.state.evse(self.evse_id).charge_limit

    @property
    def contactor(self) -> str | None:
        return self.state.evse(self.evse_id).contactor

    @property
    def present_voltage(self) -> float:
        dc = self.dc
        return dc.present_voltage if dc is not None else 0.0

    @property
    def present_current(self) -> float:
        dc = self.dc
        return dc.present_current if dc is not None else 0.0

    @property
    def energy_wh(self) -> float:
        meter = self.state.evse(self.evse_id).meter
        return meter.total_active_energy_imported if meter is not None else 0.0

    @property
    def meter_id(self) -> str:
        dm = self.state.device_model
        return (dm.serial_number if dm is not None else "josev-meter")[:32]
