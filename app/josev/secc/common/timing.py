"""Every timing rule of the standards, in one place (../shared/standards.md lists the sources).

Names follow the standards. A core reads these through a `Timing` object so that tests and the
demo may scale them; the defaults are the normative values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ISO 15118-2 Table 109 (EVCC timeout, SECC performance time). DIN SPEC 70121 uses 2 s for
# every message and 250 ms / 25 ms for CurrentDemand (standards.md).
ISO2_SLOW = frozenset({
    "ServiceDetail", "PaymentDetails", "PowerDelivery", "CertificateInstallation",
    "CertificateUpdate",
})


def _perf_iso2(msg: str) -> tuple[float, float]:
    if msg == "CurrentDemand":
        return 0.25, 0.025
    if msg in ISO2_SLOW:
        return 5.0, 4.5
    return 2.0, 1.5


def _perf_din(msg: str) -> tuple[float, float]:
    if msg == "CurrentDemand":
        return 0.25, 0.025
    return 2.0, 1.5


# ISO 15118-20 Tables 215-218: 2 s / 1.5 s, charge loops 0.5 s / 0.25 s.
ISO20_LOOPS = frozenset({"AC_ChargeLoop", "DC_ChargeLoop"})


def _perf_iso20(msg: str) -> tuple[float, float]:
    if msg in ISO20_LOOPS:
        return 0.5, 0.25
    return 2.0, 1.5


@dataclass(frozen=True)
class Timing:
    """Seconds. `scale` shrinks every value at once (tests of whole sessions on a fast clock)."""

    sequence_timeout: float = 60.0          # V2G_SECC_Sequence_Timeout
    sequence_timeout_loop20: float = 0.5    # -20: after an AC/DC_ChargeLoopRes
    ongoing_secc: float = 55.0              # SECC answers FAILED after this much Ongoing
    ongoing_evcc: float = 60.0              # V2G_EVCC_Ongoing_Timeout
    comm_setup_secc: float = 18.0           # plug-in to SessionSetupRes
    comm_setup_evcc: float = 20.0
    cable_check_secc: float = 38.0
    cable_check_evcc: float = 40.0
    pre_charge_secc: float = 5.0
    pre_charge_evcc: float = 7.0
    contactor_close: float = 3.0            # contactors closed within 3 s of CP C/D
    ev_cp_after_power_delivery: float = 0.25  # EV signals C/D within 250 ms of PowerDeliveryReq
    # DIN SPEC 70121 Table 77 (9.6.5.5), the values with no -2 counterpart.
    cp_state_detection: float = 1.5         # V2G_SECC_CPState_Detection_Timeout: C/D for the
    #                                         cable check, B after PowerDelivery(Stop)
    ready_to_charge_secc: float = 148.0     # V2G_SECC_ReadyToCharge_Performance_Time
    ready_to_charge_evcc: float = 150.0     # V2G_EVCC_ReadyToCharge_Timeout (to PowerDelivery)
    cp_oscillator_retain: float = 1.5       # V2G_SECC_CPOscillator_Retain_time: 5 % kept this
    #                                         long after an error end (the HLC service's job)
    scale: float = 1.0
    extra: dict[str, float] = field(default_factory=dict)

    def s(self, value: float) -> float:
        return value * self.scale

    def times(self, protocol: str, msg: str) -> tuple[float, float]:
        """(EVCC message timeout, SECC performance time) for a request name without Req."""
        if protocol == "DIN":
            t = _perf_din(msg)
        elif protocol == "ISO2":
            t = _perf_iso2(msg)
        elif protocol.startswith("ISO20"):
            t = _perf_iso20(msg)
        else:  # supportedAppProtocol: 2 s / 1.5 s in every protocol
            t = (2.0, 1.5)
        return t[0] * self.scale, t[1] * self.scale

    def sequence_after(self, protocol: str, msg: str) -> float:
        """The SECC's wait for the next request after answering `msg`."""
        if protocol.startswith("ISO20") and msg in ISO20_LOOPS:
            return self.sequence_timeout_loop20 * self.scale
        return self.sequence_timeout * self.scale


NORMATIVE = Timing()

# NotificationMaxDelay (s) with EVSENotification=ScheduleRenegotiation (-20) or ReNegotiation
# (-2): the time within which the SECC expects the EV to react (-20 Table 120; [V2G20-1052]:
# the EV starts the renegotiation "within the number of seconds provided in
# NotificationMaxDelay"; -2's element of the same name, 8.5.3.1, is read alike). 0 is allowed
# but means "immediately" (a target time not in the future). A renegotiation is not a safety
# action: the same response already carries the new limit in its live maxima
# (EVSEMaximumCharge*, -2 EVSEMaxCurrent/EVSEMaximum*Limit, -20 AC EVSETargetActivePower) and
# the setpoints are capped at once, so the EV gets a few loops to finish its present step. The
# standard fixes a value only for Pause (60 s, [V2G20-1850]). Terminate/StopCharging stay 0:
# stop now ([V2G20-1416]).
RENEGOTIATION_MAX_DELAY_S = 10
