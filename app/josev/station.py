"""The brain's picture of the station, kept current from the CS's responses and updates.

Why a cache: the charge loops must answer from the latest station state without waiting on the
bus (ARCHITECTURE.md), so every update lands here and the SECC reads it synchronously.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from josev.lean.generated import api as m

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EvseState:
    evse_id: int
    limits: m.EvseStatusAndLimits | None = None
    parameters: m.EvseParameters | None = None
    cp: m.CpStatusUpdate | None = None
    contactor: str | None = None
    meter: m.MeterValuesResponse | None = None
    # Smart charging's `iso15118_charge_limit`: kept across sessions until the next update.
    charge_limit: m.Iso15118ChargeLimitUpdate | None = None


@dataclass(slots=True)
class StationState:
    device_model: m.DeviceModelResponse | None = None
    parameters: m.CsParametersResponse | None = None
    evses: dict[int, EvseState] = field(default_factory=dict)

    def evse(self, evse_id: int) -> EvseState:
        state = self.evses.get(evse_id)
        if state is None:
            state = self.evses[evse_id] = EvseState(evse_id)
        return state

    def set_device_model(self, value: m.DeviceModelResponse) -> None:
        self.device_model = value
        for evse in value.evses:
            self.evse(evse.ocpp_id)

    def set_parameters(self, value: m.CsParametersResponse) -> None:
        self.parameters = value
        for params in value.parameters:
            self.evse(params.evse_id).parameters = params

    def set_limits(self, value: m.CsStatusAndLimitsResponse) -> None:
        for limits in value.evses:
            self.evse(limits.evse_id).limits = limits

    def set_charge_limit(self, value: m.Iso15118ChargeLimitUpdate) -> bool:
        """Store a smart-charging limit for a known EVSE; an unknown EVSE is logged and ignored
        (a typo in the EMS must not create a phantom EVSE or touch another one)."""
        if value.evse_id not in self.evses:
            log.warning("iso15118_charge_limit for unknown evse %d (known: %s): ignored",
                        value.evse_id, sorted(self.evses) or "none")
            return False
        evse = self.evses[value.evse_id]
        if evse.charge_limit != value:
            log.info("evse %d: charge limit %g %s%s", value.evse_id, value.limit, value.unit,
                     " (discharge)" if value.limit < 0 else "")
        evse.charge_limit = value
        return True

    def set_cp(self, value: m.CpStatusUpdate) -> str | None:
        """Store a CP update; return the previous state ("" if none) when the state changed."""
        evse = self.evse(value.evse_id)
        before = evse.cp.state if evse.cp else ""
        evse.cp = value
        return before if before != value.state else None

    def set_contactor(self, value: m.CsContactorStatusResponse) -> None:
        self.evse(value.evse_id).contactor = value.status

    def set_meter(self, value: m.MeterValuesResponse) -> None:
        if value.evse_id is not None:
            self.evse(value.evse_id).meter = value
