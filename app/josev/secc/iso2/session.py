"""ISO 15118-2 SECC session: AC and DC with EIM (ExternalPayment), pause and resume.

The same structure as the DIN session (table of allowed next requests, FAILED_SequenceError,
FAILED_UnknownSession, answers from the station-state cache, Ongoing for slow station work),
plus the -2 additions: AC (ChargingStatus loop, AC setpoints, the contactor window after CP
C/D), SessionStop(Pause) and joining the paused session with its SessionID, MeterInfo in the
loop responses and MeteringReceipt accepted where the EV sends one.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from josev.exi.generated import iso2
from josev.secc.common.actions import ApiRequest
from josev.secc.common.session import (
    PausedSession,
    ProtocolSession,
    SeccContext,
    limit_key,
)
from josev.secc.common.station import ISOLATION_DIN, STATUS_DIN
from josev.secc.common.timing import RENEGOTIATION_MAX_DELAY_S
from josev.secc.common.units import from_scaled, to_scaled
from josev.v2gtp import PayloadType

log = logging.getLogger("josev.secc.iso2")

EXI = int(PayloadType.EXI)

STATUS = {
    "SessionSetupReq": "SessionSetup",
    "ServiceDiscoveryReq": "ServiceDiscovery",
    "PaymentServiceSelectionReq": "ServiceSelection",
    "AuthorizationReq": "Authorization",
    "ChargeParameterDiscoveryReq": "ChargeParameterDiscovery",
    "CableCheckReq": "CableCheck",
    "PreChargeReq": "PreCharge",
    "PowerDeliveryReq": "PowerDelivery",
    "CurrentDemandReq": "ChargingLoop",
    "ChargingStatusReq": "ChargingLoop",
    "MeteringReceiptReq": "MeteringReceipt",
    "WeldingDetectionReq": "WeldingDetection",
    "SessionStopReq": "SessionStop",
}
ELEMENT = {getattr(iso2, n + "Type"): n for n in (
    *STATUS, "ServiceDetailReq", "PaymentDetailsReq", "CertificateInstallationReq",
    "CertificateUpdateReq")}
AC_MODES = ("AC_single_phase_core", "AC_three_phase_core")
DC_MODES = ("DC_core", "DC_extended", "DC_combo_core", "DC_unique")


def pv(value: float, unit: str) -> iso2.PhysicalValueType:
    exp, mant = to_scaled(value, -3, 3)
    return iso2.PhysicalValueType(Multiplier=exp, Unit=unit, Value=mant)


def fv(value: iso2.PhysicalValueType) -> float:
    return from_scaled(value.Multiplier, value.Value)


class Iso2Session(ProtocolSession):
    protocol = "ISO2"
    families: ClassVar[dict[int, str]] = {EXI: "iso2"}

    def __init__(self, ctx: SeccContext, now: float) -> None:
        super().__init__(ctx, now)
        self.expect = frozenset({"SessionSetupReq"})
        self.mode: str | None = None           # the RequestedEnergyTransferMode
        self.ev_max_current = 0.0
        self.charging = False
        self.resumed = False
        self.schedule_key: tuple[float, str] | None = None   # the limit the PMax was made with

    @property
    def ac(self) -> bool:
        return self.mode in AC_MODES

    # -- dispatch ------------------------------------------------------------------------------

    def on_message(self, root: str, msg: Any, now: float) -> None:
        body = msg.Body.BodyElement if root == "V2G_Message" else None
        name = ELEMENT.get(type(body)) if body is not None else None
        if name is None:
            self.end("not an ISO 15118-2 request", False, now)
            return
        if name not in STATUS:
            self._answer(name, "FAILED", now)
            self.end(f"{name} is not used with EIM", False, now)
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
        if ev_status is None and isinstance(body, iso2.PowerDeliveryReqType):
            ev_status = getattr(body.EVPowerDeliveryParameter, "DC_EVStatus", None)
        if ev_status is not None and ev_status.EVErrorCode != "NO_ERROR":
            self._answer(name, "FAILED", now)
            self.end(f"EV error {ev_status.EVErrorCode}", False, now)
            return
        if self.fault is not None:
            self._answer(name, "FAILED", now)
            self.end(f"station fault: {self.fault}", False, now)
            return
        if name == "SessionSetupReq":
            paused = self.ctx.paused.pop(sid, None) if any(sid) else None
            if paused is not None and paused.protocol == self.protocol:
                self.join(paused, now)
                return
        getattr(self, "_" + name[:-3])(body, now)

    def _answer(self, name: str, code: str, now: float) -> None:
        builder = getattr(self, "_res_" + name[:-3], None)
        if builder is not None:
            builder(code, now)

    def send_body(self, body: Any, name: str, now: float,
                  received: float | None = None) -> None:
        msg = iso2.V2G_Message(Header=iso2.MessageHeaderType(SessionID=self.session_id),
                               Body=iso2.BodyType(BodyElement=body))
        self.respond(EXI, msg, name, now, received=received)

    def _note(self, loop: bool = False) -> str:
        """StopCharging; or, in a charge loop, ReNegotiation when the smart-charging limit
        changed since the schedule (PMax) was sent: the EV answers with PowerDeliveryReq
        (Renegotiate) and gets a schedule with the new PMax. The loop's live limits
        (EVSEMaxCurrent, EVSEMaximum*Limit) carry the new limit at once meanwhile."""
        if self.stop_requested or self.station.fatal:
            return "StopCharging"
        if loop and self.charging and limit_key(self.station.charge_limit) != self.schedule_key:
            return "ReNegotiation"
        return "None"

    def dc_status(self, loop: bool = False) -> iso2.DC_EVSEStatusType:
        code = STATUS_DIN.get(self.station.status_code, "EVSE_NotReady")
        if self.status == "CableCheck" and self.cable_check == "ongoing" and \
                code == "EVSE_NotReady":
            code = "EVSE_IsolationMonitoringActive"
        dc = self.station.dc
        iso = dc.isolation_status if dc is not None else None
        note = self._note(loop)
        return iso2.DC_EVSEStatusType(NotificationMaxDelay=self._delay(note),
                                      EVSENotification=note,
                                      EVSEIsolationStatus=ISOLATION_DIN.get(iso) if iso else None,
                                      EVSEStatusCode=code)

    @staticmethod
    def _delay(note: str) -> int:
        """NotificationMaxDelay: the EV's reaction time for ReNegotiation (see the constant);
        0 (at once) for StopCharging, and meaningless with None."""
        return RENEGOTIATION_MAX_DELAY_S if note == "ReNegotiation" else 0

    def ac_status(self, loop: bool = False) -> iso2.AC_EVSEStatusType:
        ac = self.station.ac
        note = self._note(loop)
        return iso2.AC_EVSEStatusType(NotificationMaxDelay=self._delay(note),
                                      EVSENotification=note,
                                      RCD=bool(ac.rcd_error) if ac else False)

    def evse_status(self) -> Any:
        return self.ac_status() if self.ac else self.dc_status()

    def meter_info(self, now: float) -> iso2.MeterInfoType:
        return iso2.MeterInfoType(MeterID=self.station.meter_id,
                                  MeterReading=int(self.station.energy_wh),
                                  TMeter=self.timestamp(now))

    # -- messages ------------------------------------------------------------------------------

    def _SessionSetup(self, body: iso2.SessionSetupReqType, now: float) -> None:
        self.evcc_id = body.EVCCID.hex()
        self.session_id = self.ctx.new_session_id()
        self.publish_state()
        self._res_SessionSetup("OK_NewSessionEstablished", now)
        self.expect = frozenset({"ServiceDiscoveryReq"})

    def join(self, paused: PausedSession, now: float) -> None:
        """The EV came back with the SessionID of a paused session (wake-up / resume)."""
        self.session_id = paused.session_id
        self.evcc_id = paused.evcc_id
        log.info("evse %d: EV joined its paused session %s", self.cfg.evse_id,
                 paused.session_id.hex())
        self.mode = paused.data.get("mode")
        self.resumed = True
        self.publish_state()
        self._res_SessionSetup("OK_OldSessionJoined", now)
        self.expect = frozenset({"ServiceDiscoveryReq"})

    def _res_SessionSetup(self, code: str, now: float) -> None:
        self.send_body(iso2.SessionSetupResType(ResponseCode=code, EVSEID=self.cfg.evse_id_text,
                                                EVSETimeStamp=self.timestamp(now)),
                       "SessionSetup", now)

    def _modes(self) -> list[str]:
        modes: list[str] = []
        if self.station.dc is not None:
            modes += ["DC_extended", "DC_core"]
        if self.station.ac is not None:
            modes += ["AC_three_phase_core", "AC_single_phase_core"]
        return modes

    def _ServiceDiscovery(self, body: iso2.ServiceDiscoveryReqType, now: float) -> None:
        if not self._modes():
            self._res_ServiceDiscovery("FAILED", now)
            self.end("the station offers no energy transfer mode", False, now)
            return
        self._res_ServiceDiscovery("OK", now)
        self.expect = frozenset({"PaymentServiceSelectionReq"})

    def _res_ServiceDiscovery(self, code: str, now: float) -> None:
        self.send_body(iso2.ServiceDiscoveryResType(
            ResponseCode=code,
            PaymentOptionList=iso2.PaymentOptionListType(PaymentOption=["ExternalPayment"]),
            ChargeService=iso2.ChargeServiceType(
                ServiceID=1, ServiceCategory="EVCharging", FreeService=self.cfg.free_charging,
                SupportedEnergyTransferMode=iso2.SupportedEnergyTransferModeType(
                    EnergyTransferMode=self._modes() or ["DC_extended"]))),
            "ServiceDiscovery", now)

    def _PaymentServiceSelection(self, body: iso2.PaymentServiceSelectionReqType,
                                 now: float) -> None:
        ids = [s.ServiceID for s in body.SelectedServiceList.SelectedService]
        if body.SelectedPaymentOption != "ExternalPayment":
            self._res_PaymentServiceSelection("FAILED_PaymentSelectionInvalid", now)
            self.end(f"payment option {body.SelectedPaymentOption} not offered", False, now)
            return
        if 1 not in ids or any(i != 1 for i in ids):
            self._res_PaymentServiceSelection("FAILED_ServiceSelectionInvalid", now)
            self.end(f"services {ids} not offered", False, now)
            return
        self._res_PaymentServiceSelection("OK", now)
        self.expect = frozenset({"AuthorizationReq"})

    def _res_PaymentServiceSelection(self, code: str, now: float) -> None:
        self.send_body(iso2.PaymentServiceSelectionResType(ResponseCode=code),
                       "PaymentServiceSelection", now)

    def _Authorization(self, body: iso2.AuthorizationReqType, now: float) -> None:
        if self.ctx.authorized is False:
            self._res_Authorization("FAILED", now)
            self.end("EIM authorization rejected", False, now)
            return
        if self.cfg.free_charging or self.ctx.authorized or self.resumed:
            self._res_Authorization("OK", now)
            self.expect = frozenset({"ChargeParameterDiscoveryReq"})
            return
        if not self._ongoing("Authorization", now, self.cfg.timing.ongoing_secc):
            self._res_Authorization("FAILED", now)
            self.end("authorization still pending after the ongoing timeout", False, now)
            return
        self._res_Authorization("OK", now, "Ongoing")

    def _res_Authorization(self, code: str, now: float, processing: str = "Finished") -> None:
        self.send_body(iso2.AuthorizationResType(ResponseCode=code, EVSEProcessing=processing),
                       "Authorization", now)

    def _ChargeParameterDiscovery(self, body: iso2.ChargeParameterDiscoveryReqType,
                                  now: float) -> None:
        mode = body.RequestedEnergyTransferMode
        param = body.EVChargeParameter
        if mode not in self._modes() or (mode in AC_MODES) != isinstance(
                param, iso2.AC_EVChargeParameterType):
            self.mode = mode if mode in AC_MODES + DC_MODES else None
            self._res_ChargeParameterDiscovery("FAILED_WrongEnergyTransferMode", now)
            self.end(f"{mode} is not offered", False, now)
            return
        self.mode = mode
        if isinstance(param, iso2.AC_EVChargeParameterType):
            self.ev_max_current = fv(param.EVMaxCurrent)
            self.ev_max_voltage = fv(param.EVMaxVoltage)
        elif isinstance(param, iso2.DC_EVChargeParameterType):
            self.ev_max_voltage = fv(param.EVMaximumVoltageLimit)
            self.ev_max_current = fv(param.EVMaximumCurrentLimit)
            lim = self.station.dc
            assert lim is not None
            if self.ev_max_voltage < lim.min_voltage:
                self._res_ChargeParameterDiscovery("FAILED_WrongChargeParameter", now)
                self.end(f"EV maximum voltage {self.ev_max_voltage} V below the station's "
                         f"minimum {lim.min_voltage} V", False, now)
                return
        self._res_ChargeParameterDiscovery("OK", now)
        if self.ac:
            self.expect = frozenset({"PowerDeliveryReq"})
        else:
            self.expect = frozenset({"CableCheckReq"} if self.cable_check is None
                                    else {"PowerDeliveryReq"})
            if self.resumed and self.cable_check is None:
                self.expect = frozenset({"CableCheckReq"})

    def _res_ChargeParameterDiscovery(self, code: str, now: float) -> None:
        power = self._max_power()
        self.schedule_key = limit_key(self.station.charge_limit)
        sched = iso2.SAScheduleListType(SAScheduleTuple=[iso2.SAScheduleTupleType(
            SAScheduleTupleID=1, PMaxSchedule=iso2.PMaxScheduleType(PMaxScheduleEntry=[
                iso2.PMaxScheduleEntryType(
                    TimeInterval=iso2.RelativeTimeIntervalType(start=0, duration=86400),
                    PMax=pv(power, "W"))]))])
        param: Any
        if self.ac:
            ac = self.station.ac
            amps = self._ac_station_amps()
            param = iso2.AC_EVSEChargeParameterType(
                AC_EVSEStatus=self.ac_status(),
                EVSENominalVoltage=pv(ac.nominal_voltage if ac else 230.0, "V"),
                EVSEMaxCurrent=pv(amps, "A"))
        else:
            lim = self.station.dc
            maxi, maxp = self.dc_charge_caps(self.conversion_volts())
            maxv, minv = (lim.max_voltage, lim.min_voltage) if lim else (0.0, 0.0)
            mini, ripple = (lim.min_current, lim.peak_current_ripple) if lim else (0.0, 0.0)
            param = iso2.DC_EVSEChargeParameterType(
                DC_EVSEStatus=self.dc_status(), EVSEMaximumCurrentLimit=pv(maxi, "A"),
                EVSEMaximumPowerLimit=pv(maxp, "W"), EVSEMaximumVoltageLimit=pv(maxv, "V"),
                EVSEMinimumCurrentLimit=pv(mini, "A"), EVSEMinimumVoltageLimit=pv(minv, "V"),
                EVSEPeakCurrentRipple=pv(ripple, "A"))
        self.send_body(iso2.ChargeParameterDiscoveryResType(
            ResponseCode=code, EVSEProcessing="Finished",
            SASchedules=sched if code.startswith("OK") else None, EVSEChargeParameter=param),
            "ChargeParameterDiscovery", now)

    def _max_power(self) -> float:
        """The PMax of the schedule: the station's and smart charging's limits."""
        if self.ac:
            ac = self.station.ac
            if ac is None:
                return 0.0
            return self._phases() * ac.nominal_voltage * self._ac_station_amps()
        return self.dc_charge_caps(self.conversion_volts())[1]

    def _phases(self) -> int:
        return 1 if self.mode == "AC_single_phase_core" else 3

    def _ac_station_amps(self) -> float:
        """Per phase: the station's limit and the smart-charging limit (W over the phases)."""
        ac = self.station.ac
        if ac is None:
            return 0.0
        a = self.allowance(ac.nominal_voltage * self._phases())
        return max(min(ac.max_current.l1, ac.max_current.l2, ac.max_current.l3,
                       a.charge_current), 0.0)

    def _CableCheck(self, body: iso2.CableCheckReqType, now: float) -> None:
        code, processing, failure = self.cable_check_step(now, "PreChargeReq")
        self._res_CableCheck(code, now, processing)
        if failure:
            self.end(failure, False, now)

    def _res_CableCheck(self, code: str, now: float, processing: str = "Finished") -> None:
        self.send_body(iso2.CableCheckResType(ResponseCode=code, DC_EVSEStatus=self.dc_status(),
                                              EVSEProcessing=processing), "CableCheck", now)

    def on_station(self, now: float) -> None:
        super().on_station(now)
        if self.ended:
            return
        if self.ac and self.charging and self.station.cp_state[:1] in ("C", "D"):
            self.arm_contactor_window(now)

    def _PreCharge(self, body: iso2.PreChargeReqType, now: float) -> None:
        amps = min(fv(body.EVTargetCurrent), self.cfg.precharge_current)
        code, failure = self.precharge_step(fv(body.EVTargetVoltage), amps, now)
        self._res_PreCharge(code, now)
        if failure:
            self.end(failure, False, now)
            return
        self.expect = frozenset({"PreChargeReq", "PowerDeliveryReq"})

    def _res_PreCharge(self, code: str, now: float) -> None:
        self.send_body(iso2.PreChargeResType(
            ResponseCode=code, DC_EVSEStatus=self.dc_status(),
            EVSEPresentVoltage=pv(self.station.present_voltage, "V")), "PreCharge", now)

    def ac_setpoint(self, amps: float) -> None:
        data: dict[str, Any] = {"evse_id": self.cfg.evse_id,
                                "ev_limits": {"maximum_voltage": round(self.ev_max_voltage, 1)},
                                "ac": {"charge_current": round(max(amps, 0.0), 1)}}
        if data == self.last_setpoint and self.now - self.setpoint_sent_at < 1.0:
            return
        self.last_setpoint = data
        self.setpoint_sent_at = self.now
        self.power_on = amps > 0
        self.out.append(ApiRequest("power_electronics_setpoint", data))

    def power_off(self) -> None:
        if self.ac:
            if self.power_on:
                self.ac_setpoint(0.0)
                self.power_on = False
            return
        super().power_off()

    def _ac_amps(self) -> float:
        return min(self.ev_max_current, self._ac_station_amps())

    def _PowerDelivery(self, body: iso2.PowerDeliveryReqType, now: float) -> None:
        progress = body.ChargeProgress
        if progress == "Start":
            if self.station.fatal or self.stop_requested:
                self._res_PowerDelivery("FAILED_PowerDeliveryNotApplied", now)
                self.end(f"station {self.station.status_code}", False, now)
                return
            if body.SAScheduleTupleID != 1:
                self._res_PowerDelivery("FAILED_TariffSelectionInvalid", now)
                self.end(f"SAScheduleTupleID {body.SAScheduleTupleID} was not offered", False,
                         now)
                return
            if not self.charging:     # after a renegotiation power never stopped
                self.hlc_charging(True, "resume" if self.resumed else None)
            self.charging = True
            if self.ac:
                self.ac_setpoint(self._ac_amps())
            self._res_PowerDelivery("OK", now)
            loop = "ChargingStatusReq" if self.ac else "CurrentDemandReq"
            self.expect = frozenset({loop, "PowerDeliveryReq", "MeteringReceiptReq"})
        elif progress == "Stop":
            self.charging = False
            self.power_off()
            self.expect = frozenset({"SessionStopReq"} if self.ac
                                    else {"WeldingDetectionReq", "SessionStopReq"})
            if self.ac:
                self._res_PowerDelivery("OK", now)
            else:
                self.defer_until_current_low(
                    lambda t: self._res_PowerDelivery("OK", t, received=now), now)
        else:  # Renegotiate: the schedule again
            self._res_PowerDelivery("OK", now)
            self.expect = frozenset({"ChargeParameterDiscoveryReq"})

    def _res_PowerDelivery(self, code: str, now: float, received: float | None = None) -> None:
        self.send_body(iso2.PowerDeliveryResType(ResponseCode=code,
                                                 EVSEStatus=self.evse_status()),
                       "PowerDelivery", now, received)

    def _CurrentDemand(self, body: iso2.CurrentDemandReqType, now: float) -> None:
        lim = self.station.dc
        assert lim is not None
        if not self.charging or self.stop_requested or self.station.fatal:
            self.power_off()
        else:
            v = min(fv(body.EVTargetVoltage), lim.max_voltage)
            i = self.dc_charge_current(fv(body.EVTargetCurrent), v)   # smart charging too
            self.setpoint(self.ev_max_voltage or v, v, i)
        self._res_CurrentDemand("OK", now)
        self.expect = frozenset({"CurrentDemandReq", "PowerDeliveryReq", "MeteringReceiptReq"})

    def _res_CurrentDemand(self, code: str, now: float) -> None:
        lim = self.station.dc
        sp = (self.last_setpoint or {}).get("dc", {})
        maxv = lim.max_voltage if lim else 0.0
        maxi, maxp = self.dc_charge_caps(self.conversion_volts(sp.get("voltage", 0.0)))
        v, i = self.station.present_voltage, self.station.present_current
        self.send_body(iso2.CurrentDemandResType(
            ResponseCode=code, DC_EVSEStatus=self.dc_status(loop=True),
            EVSEPresentVoltage=pv(v, "V"), EVSEPresentCurrent=pv(i, "A"),
            EVSECurrentLimitAchieved=sp.get("charge_current", 0.0) >= maxi > 0,
            EVSEVoltageLimitAchieved=sp.get("voltage", 0.0) >= maxv > 0,
            EVSEPowerLimitAchieved=v * i >= maxp - 1.0 if maxp else False,
            EVSEMaximumVoltageLimit=pv(maxv, "V"), EVSEMaximumCurrentLimit=pv(maxi, "A"),
            EVSEMaximumPowerLimit=pv(maxp, "W"), EVSEID=self.cfg.evse_id_text,
            SAScheduleTupleID=1, MeterInfo=self.meter_info(now), ReceiptRequired=False),
            "CurrentDemand", now)

    def _ChargingStatus(self, body: iso2.ChargingStatusReqType, now: float) -> None:
        if not self.charging or self.stop_requested or self.station.fatal:
            self.power_off()
        else:
            self.ac_setpoint(self._ac_amps())
        self._res_ChargingStatus("OK", now)
        self.expect = frozenset({"ChargingStatusReq", "PowerDeliveryReq", "MeteringReceiptReq"})

    def _res_ChargingStatus(self, code: str, now: float) -> None:
        self.send_body(iso2.ChargingStatusResType(
            ResponseCode=code, EVSEID=self.cfg.evse_id_text, SAScheduleTupleID=1,
            EVSEMaxCurrent=pv(self._ac_amps(), "A"), MeterInfo=self.meter_info(now),
            ReceiptRequired=False, AC_EVSEStatus=self.ac_status(loop=True)), "ChargingStatus", now)

    def _MeteringReceipt(self, body: iso2.MeteringReceiptReqType, now: float) -> None:
        if body.SessionID != self.session_id:
            self._res_MeteringReceipt("FAILED_UnknownSession", now)
            self.end("MeteringReceipt for another session", False, now)
            return
        self._res_MeteringReceipt("OK", now)

    def _res_MeteringReceipt(self, code: str, now: float) -> None:
        self.send_body(iso2.MeteringReceiptResType(ResponseCode=code,
                                                   EVSEStatus=self.evse_status()),
                       "MeteringReceipt", now)

    def _WeldingDetection(self, body: iso2.WeldingDetectionReqType, now: float) -> None:
        self._res_WeldingDetection("OK", now)
        self.expect = frozenset({"WeldingDetectionReq", "SessionStopReq"})

    def _res_WeldingDetection(self, code: str, now: float) -> None:
        self.send_body(iso2.WeldingDetectionResType(
            ResponseCode=code, DC_EVSEStatus=self.dc_status(),
            EVSEPresentVoltage=pv(self.station.present_voltage, "V")), "WeldingDetection", now)

    def _SessionStop(self, body: iso2.SessionStopReqType, now: float) -> None:
        self._res_SessionStop("OK", now)
        if body.ChargingSession == "Pause":
            self.ctx.paused[self.session_id] = PausedSession(
                self.protocol, self.session_id, self.evcc_id, {"mode": self.mode})
            self.end("paused by the EV", True, now, paused=True)
        else:
            self.end("terminated by the EV", True, now)

    def _res_SessionStop(self, code: str, now: float) -> None:
        self.send_body(iso2.SessionStopResType(ResponseCode=code), "SessionStop", now)
