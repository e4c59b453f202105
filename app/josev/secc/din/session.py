"""DIN SPEC 70121 DC SECC session with external identification (EIM).

Same rules as the -20 session: a table of the requests allowed next, FAILED_SequenceError for
anything else, FAILED_UnknownSession for a foreign SessionID, answers from the latest station
state, Ongoing for slow station work. An EV error code (DC_EVStatus.EVErrorCode != NO_ERROR)
ends the session with the EVSE shut down: DIN has no way to continue after one.

DIN's own timers (Table 77, values in secc/common/timing.py):
- V2G_SECC_CPState_Detection_Timeout: the cable check needs CP C or D, counted from the first
  CableCheckReq; WeldingDetection/SessionStop after PowerDelivery(Stop) need CP B, counted from
  that PowerDeliveryRes. A request that finds the CP not there yet waits for it (the answer
  stays inside the 1.5 s performance time); when the time is up it is answered FAILED and the
  session ends.
- V2G_SECC_ReadyToCharge_Performance_Time: from plug-in to PowerDeliveryReq(Start); past it
  the next request is answered FAILED (the EV gives up 2 s later anyway).

[V2G-DC-668]: once the cable check has begun with the CP in C/D and until PowerDeliveryReq(Stop),
the EV must stay in C/D; a CP B reported then is a fault (a broken pilot wire or a confused EV,
and power may be flowing): the SECC shuts down at once (setpoint 0) as an EVSE-initiated
emergency shutdown and ends the session. A request already on its way is answered FAILED with
EVSE_EmergencyShutdown (so the EV learns why); without one, the session ends EMERGENCY_REPORT_WAIT
later. CP A/E/F end the session as everywhere (EV gone).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from josev.exi.generated import din
from josev.secc.common.session import ProtocolSession, SeccContext
from josev.secc.common.station import ISOLATION_DIN, STATUS_DIN
from josev.secc.common.units import from_scaled, to_scaled
from josev.v2gtp import PayloadType

log = logging.getLogger("josev.secc.din")

EXI = int(PayloadType.EXI)

# s: after a [V2G-DC-668] shutdown, how long the session waits for one more request to answer
# with EVSE_EmergencyShutdown before it ends without. Not a DIN value: power is already off and
# the EV's charge loop or polling sends a request well within it; it only bounds the connection.
EMERGENCY_REPORT_WAIT = 0.5

STATUS = {
    "SessionSetupReq": "SessionSetup",
    "ServiceDiscoveryReq": "ServiceDiscovery",
    "ServicePaymentSelectionReq": "ServiceSelection",
    "ContractAuthenticationReq": "Authorization",
    "ChargeParameterDiscoveryReq": "ChargeParameterDiscovery",
    "CableCheckReq": "CableCheck",
    "PreChargeReq": "PreCharge",
    "PowerDeliveryReq": "PowerDelivery",
    "CurrentDemandReq": "ChargingLoop",
    "WeldingDetectionReq": "WeldingDetection",
    "SessionStopReq": "SessionStop",
}
# The DIN body element of each request class (SessionStopReq's type is SessionStopType).
ELEMENT = {
    din.SessionSetupReqType: "SessionSetupReq",
    din.ServiceDiscoveryReqType: "ServiceDiscoveryReq",
    din.ServicePaymentSelectionReqType: "ServicePaymentSelectionReq",
    din.ContractAuthenticationReqType: "ContractAuthenticationReq",
    din.ChargeParameterDiscoveryReqType: "ChargeParameterDiscoveryReq",
    din.CableCheckReqType: "CableCheckReq",
    din.PreChargeReqType: "PreChargeReq",
    din.PowerDeliveryReqType: "PowerDeliveryReq",
    din.CurrentDemandReqType: "CurrentDemandReq",
    din.WeldingDetectionReqType: "WeldingDetectionReq",
    din.SessionStopType: "SessionStopReq",
    din.ServiceDetailReqType: "ServiceDetailReq",
    din.PaymentDetailsReqType: "PaymentDetailsReq",
    din.ChargingStatusReqType: "ChargingStatusReq",
    din.MeteringReceiptReqType: "MeteringReceiptReq",
    din.CertificateInstallationReqType: "CertificateInstallationReq",
    din.CertificateUpdateReqType: "CertificateUpdateReq",
}


def pv(value: float, unit: str | None) -> din.PhysicalValueType:
    exp, mant = to_scaled(value, -3, 3)
    return din.PhysicalValueType(Multiplier=exp, Unit=unit, Value=mant)


def fv(value: din.PhysicalValueType) -> float:
    return from_scaled(value.Multiplier, value.Value)


class DinSession(ProtocolSession):
    protocol = "DIN"
    families: ClassVar[dict[int, str]] = {EXI: "din"}

    def __init__(self, ctx: SeccContext, now: float) -> None:
        super().__init__(ctx, now)
        self.expect = frozenset({"SessionSetupReq"})
        self.charging = False
        self.cp_need = ""                   # "CD" or "B": the CP state a request waits for
        self.cp_deadline: float | None = None
        self.cp_wait: tuple[str, Any, float] | None = None   # (request, body, received)
        self.held_from: float | None = None   # a held request's arrival (its answer's deadline)
        self.in_cd_phase = False            # cable check begun in C/D, no PowerDelivery(Stop) yet
        self.emergency: str | None = None   # [V2G-DC-668] shutdown done; the end is pending

    # -- DIN's CP-state and ready-to-charge timers ---------------------------------------------

    def _cp_reached(self) -> bool:
        """The CP is in the state waited for, or the station does not report the CP at all
        (nothing to wait for: the cable check and the contactor window still guard)."""
        cp = self.station.cp_state
        return not cp or cp[:1] in self.cp_need

    def _need_cp(self, states: str, since: float) -> None:
        """From `since`, requests that need the CP in `states` wait at most the detection time."""
        t = self.cfg.timing
        self.cp_need = states
        self.cp_deadline = since + t.s(t.cp_state_detection)
        self.out.append(self.timers.set("cp_detect", self.cp_deadline))

    def _cp_done(self) -> None:
        self.cp_need, self.cp_deadline = "", None
        c = self.timers.cancel("cp_detect")
        if c is not None:
            self.out.append(c)

    def _cp_failure(self) -> str:
        want = "C or D" if self.cp_need == "CD" else self.cp_need
        t = self.cfg.timing
        return (f"CP state {want} not detected within V2G_SECC_CPState_Detection_Timeout "
                f"({t.s(t.cp_state_detection):.1f} s; CP {self.station.cp_state or '?'})")

    def _wait_for_cp(self, need: str, name: str, body: Any, now: float) -> bool:
        """True: go on now. False: the request is held until the CP gets to `need` (or
        answered FAILED already, the time being up)."""
        if self.cp_need != need:
            return True
        if self._cp_reached():
            self._cp_done()
            return True
        assert self.cp_deadline is not None
        if now >= self.cp_deadline:
            self._fail_held(name, now, now)
            return False
        self.cp_wait = (name, body, now)
        return False

    def _fail_held(self, name: str, received: float, now: float) -> None:
        reason = self._cp_failure()
        self._cp_done()
        self.held_from = received
        self._answer(name, "FAILED", now)
        self.held_from = None
        self.end(reason, False, now)

    def on_station(self, now: float) -> None:
        super().on_station(now)
        if self.ended:
            return
        cp = self.station.cp_state
        if self.in_cd_phase and self.emergency is None and cp and cp[:1] not in "CD":
            self._emergency_shutdown(f"CP {cp} before PowerDeliveryReq(Stop) [V2G-DC-668]", now)
            return
        if not self.cp_need or not self._cp_reached():
            return
        self._cp_done()
        held, self.cp_wait = self.cp_wait, None
        if held is not None:
            name, body, received = held
            self.held_from = received
            getattr(self, "_" + name[:-3])(body, now)
            self.held_from = None

    def _emergency_shutdown(self, reason: str, now: float) -> None:
        """[V2G-DC-668]: power off now; the session ends at the next request (answered FAILED
        with EVSE_EmergencyShutdown) or EMERGENCY_REPORT_WAIT later, whichever comes first."""
        log.warning("evse %d: EVSE-initiated emergency shutdown: %s", self.cfg.evse_id, reason)
        self.now = now
        self.emergency = reason
        self.in_cd_phase = False
        self.charging = False
        self.setpoint(0.0, 0.0, 0.0)    # even before a setpoint: the cable check may be on
        self.power_on = False
        self.hlc_charging(False)
        for name in ("contactor", "ready_to_charge"):
            c = self.timers.cancel(name)
            if c is not None:
                self.out.append(c)
        self.out.append(self.timers.set("emergency", now + self.cfg.timing.s(
            EMERGENCY_REPORT_WAIT)))

    def on_timer(self, name: str, now: float) -> None:
        if name == "emergency" and self.emergency is not None:
            self.end(f"emergency shutdown: {self.emergency}", False, now)
            return
        if name == "cp_detect":
            if self._cp_reached():      # there, though no station update said so yet
                self.on_station(now)
                return
            held, self.cp_wait = self.cp_wait, None
            if held is not None:
                self._fail_held(held[0], held[2], now)
            else:
                # No request is waiting yet: the next one is answered FAILED.
                log.warning("evse %d: %s", self.cfg.evse_id, self._cp_failure())
                self.fault = self._cp_failure()
                self.cp_need, self.cp_deadline = "", None
            return
        if name == "ready_to_charge":
            t = self.cfg.timing
            self.fault = ("not ready to charge within V2G_SECC_ReadyToCharge_Performance_Time "
                          f"({t.s(t.ready_to_charge_secc):.0f} s from plug-in)")
            log.warning("evse %d: %s", self.cfg.evse_id, self.fault)
            return
        super().on_timer(name, now)

    # -- dispatch ------------------------------------------------------------------------------

    def on_message(self, root: str, msg: Any, now: float) -> None:
        if root != "V2G_Message" or msg.Body.BodyElement is None:
            self.end("a DIN message without a body", False, now)
            return
        body = msg.Body.BodyElement
        name = ELEMENT.get(type(body))
        if name is None:
            self.end(f"{type(body).__name__} is not a request", False, now)
            return
        if name not in STATUS:
            self._answer(name, "FAILED", now)
            self.end(f"{name} is not used in DIN DC EIM", False, now)
            return
        sid = msg.Header.SessionID
        if name != "SessionSetupReq" and sid != self.session_id:
            self._answer(name, "FAILED_UnknownSession", now)
            self.end(f"{name} with unknown SessionID {sid.hex()}", False, now)
            return
        allowed = self.expect | ({"SessionStopReq"} if self.has_session else set())
        if name not in allowed:
            self._answer(name, "FAILED_SequenceError", now)
            self.end(f"{name} out of sequence (expected {sorted(self.expect)})", False, now)
            return
        self.set_status(STATUS[name])
        ev_status = getattr(body, "DC_EVStatus", None)
        if ev_status is None and isinstance(body, din.PowerDeliveryReqType):
            param = body.EVPowerDeliveryParameter
            ev_status = getattr(param, "DC_EVStatus", None)
        if ev_status is not None and ev_status.EVErrorCode != "NO_ERROR":
            self._answer(name, "FAILED", now)
            self.end(f"EV error {ev_status.EVErrorCode}", False, now)
            return
        if self.emergency is not None:
            self._answer(name, "FAILED", now)
            self.end(f"emergency shutdown: {self.emergency}", False, now)
            return
        if self.fault is not None:
            self._answer(name, "FAILED", now)
            self.end(f"station fault: {self.fault}", False, now)
            return
        getattr(self, "_" + name[:-3])(body, now)

    def _answer(self, name: str, code: str, now: float) -> None:
        builder = getattr(self, "_res_" + name[:-3], None)
        if builder is not None:
            builder(code, now)

    def send_body(self, body: Any, name: str, now: float,
                  received: float | None = None) -> None:
        if received is None:
            received = self.held_from
        msg = din.V2G_Message(Header=din.MessageHeaderType(SessionID=self.session_id),
                              Body=din.BodyType(BodyElement=body))
        self.respond(EXI, msg, name, now, received=received)

    def evse_status(self) -> din.DC_EVSEStatusType:
        code = STATUS_DIN.get(self.station.status_code, "EVSE_NotReady")
        if self.emergency is not None:
            code = "EVSE_EmergencyShutdown"
        if code == "EVSE_NotReady" and self.status in ("CableCheck",) \
                and self.cable_check == "ongoing":
            code = "EVSE_IsolationMonitoringActive"
        note = "StopCharging" if self.stop_requested or self.station.fatal else "None"
        dc = self.station.dc
        iso = dc.isolation_status if dc is not None else None
        return din.DC_EVSEStatusType(
            EVSEIsolationStatus=ISOLATION_DIN.get(iso) if iso else None,
            EVSEStatusCode=code, NotificationMaxDelay=0, EVSENotification=note)

    # -- messages ------------------------------------------------------------------------------

    def _SessionSetup(self, body: din.SessionSetupReqType, now: float) -> None:
        self.evcc_id = body.EVCCID.hex()
        self.session_id = self.ctx.new_session_id()
        self.publish_state()
        self._res_SessionSetup("OK_NewSessionEstablished", now)
        self.expect = frozenset({"ServiceDiscoveryReq"})
        # Counted from plug-in, as the communication-setup time is (the core's timer for that
        # is still set until SessionSetupRes goes out; without it, from this request).
        t = self.cfg.timing
        setup = self.timers.due("comm_setup")
        plugged = setup - t.s(t.comm_setup_secc) if setup is not None else now
        self.out.append(self.timers.set("ready_to_charge",
                                        plugged + t.s(t.ready_to_charge_secc)))

    def _res_SessionSetup(self, code: str, now: float) -> None:
        evse_id = self.cfg.evse_id_text.encode()[:32] or b"\x00"
        self.send_body(din.SessionSetupResType(ResponseCode=code, EVSEID=evse_id,
                                               DateTimeNow=self.timestamp(now)),
                       "SessionSetup", now)

    def _ServiceDiscovery(self, body: din.ServiceDiscoveryReqType, now: float) -> None:
        if self.station.dc is None:
            self._res_ServiceDiscovery("FAILED", now)
            self.end("the station offers no DC service", False, now)
            return
        self._res_ServiceDiscovery("OK", now)
        self.expect = frozenset({"ServicePaymentSelectionReq"})

    def _res_ServiceDiscovery(self, code: str, now: float) -> None:
        self.send_body(din.ServiceDiscoveryResType(
            ResponseCode=code, PaymentOptions=din.PaymentOptionsType(
                PaymentOption=["ExternalPayment"]),
            ChargeService=din.ServiceChargeType(
                ServiceTag=din.ServiceTagType(ServiceID=1, ServiceCategory="EVCharging"),
                FreeService=False, EnergyTransferType="DC_extended")),
            "ServiceDiscovery", now)

    def _ServicePaymentSelection(self, body: din.ServicePaymentSelectionReqType,
                                 now: float) -> None:
        ids = [s.ServiceID for s in body.SelectedServiceList.SelectedService]
        if body.SelectedPaymentOption != "ExternalPayment":
            self._res_ServicePaymentSelection("FAILED_PaymentSelectionInvalid", now)
            self.end(f"payment option {body.SelectedPaymentOption} not offered", False, now)
            return
        if ids != [1]:
            self._res_ServicePaymentSelection("FAILED_ServiceSelectionInvalid", now)
            self.end(f"services {ids} not offered", False, now)
            return
        self._res_ServicePaymentSelection("OK", now)
        self.expect = frozenset({"ContractAuthenticationReq"})

    def _res_ServicePaymentSelection(self, code: str, now: float) -> None:
        self.send_body(din.ServicePaymentSelectionResType(ResponseCode=code),
                       "ServicePaymentSelection", now)

    def _ContractAuthentication(self, body: din.ContractAuthenticationReqType,
                                now: float) -> None:
        if self.ctx.authorized is False:
            self._res_ContractAuthentication("FAILED", now)
            self.end("EIM authorization rejected", False, now)
            return
        if self.cfg.free_charging or self.ctx.authorized:
            self._res_ContractAuthentication("OK", now)
            self.expect = frozenset({"ChargeParameterDiscoveryReq"})
            return
        if not self._ongoing("Authorization", now, self.cfg.timing.ongoing_secc):
            self._res_ContractAuthentication("FAILED", now)
            self.end("authorization still pending after the ongoing timeout", False, now)
            return
        self._res_ContractAuthentication("OK", now, "Ongoing")

    def _res_ContractAuthentication(self, code: str, now: float,
                                    processing: str = "Finished") -> None:
        self.send_body(din.ContractAuthenticationResType(ResponseCode=code,
                                                         EVSEProcessing=processing),
                       "ContractAuthentication", now)

    def _ChargeParameterDiscovery(self, body: din.ChargeParameterDiscoveryReqType,
                                  now: float) -> None:
        param = body.EVChargeParameter
        lim = self.station.dc
        if not isinstance(param, din.DC_EVChargeParameterType) or lim is None or \
                not body.EVRequestedEnergyTransferType.startswith("DC"):
            self._res_ChargeParameterDiscovery("FAILED_WrongEnergyTransferType", now)
            self.end(f"{body.EVRequestedEnergyTransferType} is not offered", False, now)
            return
        self.ev_max_voltage = fv(param.EVMaximumVoltageLimit)
        if self.ev_max_voltage < lim.min_voltage:
            self._res_ChargeParameterDiscovery("FAILED_WrongChargeParameter", now)
            self.end(f"EV maximum voltage {self.ev_max_voltage} V below the station's "
                     f"minimum {lim.min_voltage} V", False, now)
            return
        self._res_ChargeParameterDiscovery("OK", now)
        self.expect = frozenset({"CableCheckReq"})

    def _res_ChargeParameterDiscovery(self, code: str, now: float) -> None:
        lim = self.station.dc
        maxi, maxp = self.dc_charge_caps(self.conversion_volts())   # smart charging included
        maxv, minv = (lim.max_voltage, lim.min_voltage) if lim else (0.0, 0.0)
        mini, ripple = (lim.min_current, lim.peak_current_ripple) if lim else (0.0, 0.0)
        # DIN's PMax (PMaxType) is an xs:short with neither unit nor multiplier, read as W (as
        # EVerest and iso15118 do): 32767 W at most, so a DC station above 32.7 kW sends 32767.
        # The live maxima (EVSEMaximumPowerLimit, a PhysicalValue) carry the real figure.
        sched = din.SAScheduleListType(SAScheduleTuple=[din.SAScheduleTupleType(
            SAScheduleTupleID=1, PMaxSchedule=din.PMaxScheduleType(
                PMaxScheduleID=1, PMaxScheduleEntry=[din.PMaxScheduleEntryType(
                    TimeInterval=din.RelativeTimeIntervalType(start=0, duration=86400),
                    PMax=int(max(0.0, min(maxp, 32767.0))))]))])
        self.send_body(din.ChargeParameterDiscoveryResType(
            ResponseCode=code, EVSEProcessing="Finished", SASchedules=sched,
            EVSEChargeParameter=din.DC_EVSEChargeParameterType(
                DC_EVSEStatus=self.evse_status(), EVSEMaximumCurrentLimit=pv(maxi, "A"),
                EVSEMaximumPowerLimit=pv(maxp, "W"), EVSEMaximumVoltageLimit=pv(maxv, "V"),
                EVSEMinimumCurrentLimit=pv(mini, "A"), EVSEMinimumVoltageLimit=pv(minv, "V"),
                EVSEPeakCurrentRipple=pv(ripple, "A"))),
            "ChargeParameterDiscovery", now)

    def _CableCheck(self, body: din.CableCheckReqType, now: float) -> None:
        cp = self.station.cp_state
        if self.cable_check is None and not self.cp_need and cp and cp[:1] not in "CD":
            self._need_cp("CD", now)    # the EV switches to C/D before CableCheckReq
        if not self._wait_for_cp("CD", "CableCheckReq", body, now):
            return
        cp = self.station.cp_state
        if cp and cp[0] in "CD":
            self.in_cd_phase = True     # from here to PowerDeliveryReq(Stop): [V2G-DC-668]
        code, processing, failure = self.cable_check_step(now, "PreChargeReq")
        self._res_CableCheck(code, now, processing)
        if failure:
            self.end(failure, False, now)

    def _res_CableCheck(self, code: str, now: float, processing: str = "Finished") -> None:
        self.send_body(din.CableCheckResType(ResponseCode=code, DC_EVSEStatus=self.evse_status(),
                                             EVSEProcessing=processing), "CableCheck", now)

    def _PreCharge(self, body: din.PreChargeReqType, now: float) -> None:
        amps = min(fv(body.EVTargetCurrent), self.cfg.precharge_current)
        code, failure = self.precharge_step(fv(body.EVTargetVoltage), amps, now)
        self._res_PreCharge(code, now)
        if failure:
            self.end(failure, False, now)
            return
        self.expect = frozenset({"PreChargeReq", "PowerDeliveryReq"})

    def _res_PreCharge(self, code: str, now: float) -> None:
        self.send_body(din.PreChargeResType(
            ResponseCode=code, DC_EVSEStatus=self.evse_status(),
            EVSEPresentVoltage=pv(self.station.present_voltage, "V")), "PreCharge", now)

    def _PowerDelivery(self, body: din.PowerDeliveryReqType, now: float) -> None:
        if body.ReadyToChargeState:
            if self.station.fatal or self.stop_requested:
                self._res_PowerDelivery("FAILED_PowerDeliveryNotApplied", now)
                self.end(f"station {self.station.status_code}", False, now)
                return
            self.charging = True
            c = self.timers.cancel("ready_to_charge")
            if c is not None:
                self.out.append(c)
            self.hlc_charging(True)
            self._res_PowerDelivery("OK", now)
            self.expect = frozenset({"CurrentDemandReq", "PowerDeliveryReq"})
        else:
            self.charging = False
            self.in_cd_phase = False    # the EV goes to B on the response
            self.power_off()
            self.expect = frozenset({"WeldingDetectionReq", "SessionStopReq"})
            self.defer_until_current_low(lambda t: self._stop_answered(t, now), now)

    def _stop_answered(self, now: float, received: float) -> None:
        """PowerDeliveryRes(Stop): the EV goes to CP B on it, and the next request needs B."""
        self._res_PowerDelivery("OK", now, received=received)
        cp = self.station.cp_state
        if not self.ended and cp and cp[:1] != "B":
            self._need_cp("B", now)

    def _res_PowerDelivery(self, code: str, now: float, received: float | None = None) -> None:
        self.send_body(din.PowerDeliveryResType(ResponseCode=code,
                                                EVSEStatus=self.evse_status()),
                       "PowerDelivery", now, received)

    def _CurrentDemand(self, body: din.CurrentDemandReqType, now: float) -> None:
        lim = self.station.dc
        assert lim is not None
        if not self.charging or self.stop_requested or self.station.fatal:
            self.power_off()
        else:
            v = min(fv(body.EVTargetVoltage), lim.max_voltage)
            # A smart-charging limit of 0 keeps the voltage and the session: only the current
            # goes to 0 (DIN has no renegotiation; the live limits below are the channel).
            i = self.dc_charge_current(fv(body.EVTargetCurrent), v)
            self.setpoint(self.ev_max_voltage or v, v, i)
        self._res_CurrentDemand("OK", now)
        self.expect = frozenset({"CurrentDemandReq", "PowerDeliveryReq"})

    def _res_CurrentDemand(self, code: str, now: float) -> None:
        lim = self.station.dc
        sp = (self.last_setpoint or {}).get("dc", {})
        maxv = lim.max_voltage if lim else 0.0
        maxi, maxp = self.dc_charge_caps(self.conversion_volts(sp.get("voltage", 0.0)))
        v, i = self.station.present_voltage, self.station.present_current
        self.send_body(din.CurrentDemandResType(
            ResponseCode=code, DC_EVSEStatus=self.evse_status(),
            EVSEPresentVoltage=pv(v, "V"), EVSEPresentCurrent=pv(i, "A"),
            EVSECurrentLimitAchieved=sp.get("charge_current", 0.0) >= maxi > 0,
            EVSEVoltageLimitAchieved=sp.get("voltage", 0.0) >= maxv > 0,
            EVSEPowerLimitAchieved=v * i >= maxp - 1.0 if maxp else False,
            EVSEMaximumVoltageLimit=pv(maxv, "V"), EVSEMaximumCurrentLimit=pv(maxi, "A"),
            EVSEMaximumPowerLimit=pv(maxp, "W")), "CurrentDemand", now)

    def _WeldingDetection(self, body: din.WeldingDetectionReqType, now: float) -> None:
        if not self._wait_for_cp("B", "WeldingDetectionReq", body, now):
            return
        self._res_WeldingDetection("OK", now)
        self.expect = frozenset({"WeldingDetectionReq", "SessionStopReq"})

    def _res_WeldingDetection(self, code: str, now: float) -> None:
        self.send_body(din.WeldingDetectionResType(
            ResponseCode=code, DC_EVSEStatus=self.evse_status(),
            EVSEPresentVoltage=pv(self.station.present_voltage, "V")), "WeldingDetection", now)

    def _SessionStop(self, body: din.SessionStopType, now: float) -> None:
        if not self._wait_for_cp("B", "SessionStopReq", body, now):
            return
        self._res_SessionStop("OK", now)
        self.end("terminated by the EV", True, now)

    def _res_SessionStop(self, code: str, now: float) -> None:
        self.send_body(din.SessionStopResType(ResponseCode=code), "SessionStop", now)
