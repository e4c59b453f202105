"""ISO 15118-20 SECC session: EIM, DC and DC_BPT, dynamic and scheduled control modes.

The state machine is a table of which requests may come next (`expect`); anything else is
answered with FAILED_SequenceError and the session ends [V2G20-...: after a FAILED response
code the SECC stops the communication]. Slow station work (authorization, cable check) is
answered EVSEProcessing=Ongoing from the latest known state, never awaited.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from josev.exi.generated import iso20_AC as acm
from josev.exi.generated import iso20_CommonMessages as cm
from josev.exi.generated import iso20_DC as dc
from josev.secc.common.actions import ApiRequest
from josev.secc.common.session import (
    Allowance,
    PausedSession,
    ProtocolSession,
    SeccContext,
    limit_key,
)
from josev.secc.common.timing import RENEGOTIATION_MAX_DELAY_S
from josev.secc.common.units import from_scaled, to_scaled
from josev.v2gtp import PayloadType

log = logging.getLogger("josev.secc.iso20")

COMMON = int(PayloadType.EXI_20_COMMON)
DC = int(PayloadType.EXI_20_DC)
AC = int(PayloadType.EXI_20_AC)

# ISO 15118-20 Table 204 (ServiceID) and Table 205-207 (parameter values).
SERVICE_IDS = {"AC": 1, "DC": 2, "WPT": 3, "DC_ACDP": 4, "AC_BPT": 5, "DC_BPT": 6}
CONTROL_MODE = {"scheduled": 1, "dynamic": 2}
MOBILITY_NEEDS = {"scheduled": 1, "dynamic": 2}   # 1 ProvidedByEvcc (scheduled), 2 by SECC
DC_CONNECTOR_EXTENDED = 2

STATUS = {
    "SessionSetupReq": "SessionSetup",
    "AuthorizationSetupReq": "AuthorizationSetup",
    "AuthorizationReq": "Authorization",
    "ServiceDiscoveryReq": "ServiceDiscovery",
    "ServiceDetailReq": "ServiceDetail",
    "ServiceSelectionReq": "ServiceSelection",
    "DC_ChargeParameterDiscoveryReq": "ChargeParameterDiscovery",
    "AC_ChargeParameterDiscoveryReq": "ChargeParameterDiscovery",
    "AC_ChargeLoopReq": "ChargingLoop",
    "ScheduleExchangeReq": "ScheduleExchange",
    "DC_CableCheckReq": "CableCheck",
    "DC_PreChargeReq": "PreCharge",
    "PowerDeliveryReq": "PowerDelivery",
    "DC_ChargeLoopReq": "ChargingLoop",
    "DC_WeldingDetectionReq": "WeldingDetection",
    "SessionStopReq": "SessionStop",
}


def r20(value: float, mod: Any = dc) -> Any:
    exp, mant = to_scaled(value, -3, 3)
    return mod.RationalNumberType(Exponent=exp, Value=mant)


def f20(value: Any) -> float:
    return from_scaled(value.Exponent, value.Value)


class Iso20Session(ProtocolSession):
    protocol = "ISO20_DC"
    families: ClassVar[dict[int, str]] = {COMMON: "iso20_CommonMessages", DC: "iso20_DC",
                                          AC: "iso20_AC"}
    NO_SESSION: ClassVar[bytes] = b"\x00" * 8

    def __init__(self, ctx: SeccContext, now: float, protocol: str = "ISO20_DC") -> None:
        super().__init__(ctx, now)
        self.protocol = protocol
        self.expect = frozenset({"SessionSetupReq"})
        self.service: str | None = None       # DC or DC_BPT
        self.control_mode: str | None = None  # dynamic | scheduled
        self.ev_min_voltage = 0.0
        self.ev_max_current = 0.0
        self.ev_max_power = 0.0
        self.offered_services: list[str] = []
        self.charging = False
        self.schedule_id = 1
        self.schedule_key: tuple[float, str] | None = None   # the limit the schedule was made with

    # -- dispatch ------------------------------------------------------------------------------

    def on_message(self, root: str, msg: Any, now: float) -> None:
        name = root[:-3]
        if root not in STATUS:
            log.warning("evse %d: -20 %s is not supported: FAILED", self.cfg.evse_id, root)
            self._answer(root, msg, "FAILED", now)
            self.end(f"unsupported {root}", False, now)
            return
        if root != "SessionSetupReq" and msg.Header.SessionID != self.session_id:
            self._answer(root, msg, "FAILED_UnknownSession", now)
            self.end(f"{root} with unknown SessionID {msg.Header.SessionID.hex()}", False, now)
            return
        allowed = self.expect | ({"SessionStopReq"} if self.has_session else set())
        if root not in allowed:
            self._answer(root, msg, "FAILED_SequenceError", now)
            self.end(f"{root} out of sequence (expected {sorted(self.expect)})", False, now)
            return
        self.set_status(STATUS[root])
        if self.fault is not None:
            self._answer(root, msg, "FAILED_ContactorError" if self.fault == "contactor"
                         else "FAILED", now)
            self.end(f"station fault: {self.fault}", False, now)
            return
        getattr(self, "_" + name)(msg, now)

    def _answer(self, root: str, msg: Any, code: str, now: float) -> None:
        """A response of the right type carrying `code` (used for every FAILED path)."""
        name = root[:-3]
        builder = getattr(self, "_res_" + name, None)
        if builder is None:
            return
        builder(code, now)

    # -- CommonMessages ------------------------------------------------------------------------

    def hdr(self, now: float, mod: Any = cm) -> Any:
        return mod.MessageHeaderType(SessionID=self.session_id, TimeStamp=self.timestamp(now))

    def _SessionSetup(self, msg: cm.SessionSetupReqType, now: float) -> None:
        self.evcc_id = msg.EVCCID
        old = msg.Header.SessionID
        paused = self.ctx.paused.pop(old, None) if old != b"\x00" * 8 else None
        if paused is not None and paused.protocol == self.protocol:
            self.session_id = paused.session_id
            self.service = paused.data.get("service")
            self.control_mode = paused.data.get("control_mode")
            code = "OK_OldSessionJoined"
            log.info("evse %d: EV joined its paused session %s", self.cfg.evse_id, old.hex())
        else:
            self.session_id = self.ctx.new_session_id()
            code = "OK_NewSessionEstablished"
        self.publish_state()
        self._res_SessionSetup(code, now)
        self.expect = frozenset({"AuthorizationSetupReq"})

    def _res_SessionSetup(self, code: str, now: float) -> None:
        res = cm.SessionSetupResType(Header=self.hdr(now), ResponseCode=code,
                                     EVSEID=self.cfg.evse_id_text)
        self.respond(COMMON, res, "SessionSetup", now)

    def _AuthorizationSetup(self, msg: cm.AuthorizationSetupReqType, now: float) -> None:
        self._res_AuthorizationSetup("OK", now)
        self.expect = frozenset({"AuthorizationReq"})

    def _res_AuthorizationSetup(self, code: str, now: float) -> None:
        res = cm.AuthorizationSetupResType(
            Header=self.hdr(now), ResponseCode=code, AuthorizationServices=["EIM"],
            CertificateInstallationService=False,
            EIM_ASResAuthorizationMode=cm.EIM_ASResAuthorizationModeType())
        self.respond(COMMON, res, "AuthorizationSetup", now)

    def _Authorization(self, msg: cm.AuthorizationReqType, now: float) -> None:
        if msg.SelectedAuthorizationService != "EIM" or msg.EIM_AReqAuthorizationMode is None:
            self._res_Authorization("WARNING_AuthorizationSelectionInvalid", now)
            return
        granted = self.cfg.free_charging or self.ctx.authorized is True
        if self.ctx.authorized is False:
            self._res_Authorization("WARNING_EIMAuthorizationFailure", now)
            self.end("EIM authorization rejected", False, now)
            return
        if granted:
            self._res_Authorization("OK", now)
            self.expect = frozenset({"ServiceDiscoveryReq"})
            return
        if not self._ongoing("Authorization", now, self.cfg.timing.ongoing_secc):
            self._res_Authorization("FAILED", now)
            self.end("authorization still pending after the ongoing timeout", False, now)
            return
        self._res_Authorization("OK", now, "Ongoing_WaitingForCustomerInteraction")

    def _res_Authorization(self, code: str, now: float, processing: str = "Finished") -> None:
        res = cm.AuthorizationResType(Header=self.hdr(now), ResponseCode=code,
                                      EVSEProcessing=processing)
        self.respond(COMMON, res, "Authorization", now)

    @property
    def is_ac(self) -> bool:
        return self.protocol == "ISO20_AC"

    def _services(self) -> list[str]:
        if self.is_ac:
            wanted = [s for s in self.cfg.energy_services if s in ("AC", "AC_BPT")]
            if self.station.limits is None or self.station.limits.ac_bpt is None:
                wanted = [s for s in wanted if s != "AC_BPT"]
            return wanted if self.station.ac is not None else []
        wanted = [s for s in self.cfg.energy_services if s in ("DC", "DC_BPT")]
        if self.protocol == "ISO20_DC":
            if self.station.dc_bpt is None:
                wanted = [s for s in wanted if s != "DC_BPT"]
            if self.station.dc is None:
                wanted = []
        return wanted

    def _ServiceDiscovery(self, msg: cm.ServiceDiscoveryReqType, now: float) -> None:
        self.offered_services = self._services()
        if not self.offered_services:
            self._res_ServiceDiscovery("FAILED", now)
            self.end("the station offers no service for this protocol", False, now)
            return
        self._res_ServiceDiscovery("OK", now)
        self.expect = frozenset({"ServiceDetailReq", "ServiceSelectionReq"})

    def _res_ServiceDiscovery(self, code: str, now: float) -> None:
        services = self.offered_services or ["DC"]
        res = cm.ServiceDiscoveryResType(
            Header=self.hdr(now), ResponseCode=code,
            ServiceRenegotiationSupported=self.cfg.service_renegotiation,
            EnergyTransferServiceList=cm.ServiceListType(Service=[
                cm.ServiceType(ServiceID=SERVICE_IDS[s], FreeService=True) for s in services]))
        self.respond(COMMON, res, "ServiceDiscovery", now)

    def _parameter_sets(self, service: str) -> list[cm.ParameterSetType]:
        sets = []
        for i, mode in enumerate(self.cfg.control_modes, 1):
            connector = 2 if service.startswith("AC") else DC_CONNECTOR_EXTENDED  # AC: 3-phase
            params = [
                cm.ParameterType(Name="Connector", intValue=connector),
                cm.ParameterType(Name="ControlMode", intValue=CONTROL_MODE[mode]),
                cm.ParameterType(Name="MobilityNeedsMode", intValue=MOBILITY_NEEDS[mode]),
                cm.ParameterType(Name="Pricing", intValue=0),
            ]
            if service.startswith("AC"):
                ac = self.station.ac
                params.append(cm.ParameterType(Name="EVSENominalVoltage", intValue=int(
                    ac.nominal_voltage if ac else 230)))
            if service.endswith("BPT"):
                params += [cm.ParameterType(Name="BPTChannel", intValue=1),
                           cm.ParameterType(Name="GeneratorMode", intValue=1)]
            sets.append(cm.ParameterSetType(ParameterSetID=i, Parameter=params))
        return sets

    def _ServiceDetail(self, msg: cm.ServiceDetailReqType, now: float) -> None:
        by_id = {SERVICE_IDS[s]: s for s in self.offered_services}
        if msg.ServiceID not in by_id:
            self._res_ServiceDetail("FAILED_ServiceIDInvalid", now, msg.ServiceID)
            self.end(f"ServiceDetail for service {msg.ServiceID} not offered", False, now)
            return
        self._res_ServiceDetail("OK", now, msg.ServiceID)

    def _res_ServiceDetail(self, code: str, now: float, service_id: int = 2) -> None:
        by_id = {v: k for k, v in SERVICE_IDS.items()}
        sets = self._parameter_sets(by_id.get(service_id, "DC"))
        res = cm.ServiceDetailResType(Header=self.hdr(now), ResponseCode=code,
                                      ServiceID=service_id,
                                      ServiceParameterList=cm.ServiceParameterListType(
                                          ParameterSet=sets))
        self.respond(COMMON, res, "ServiceDetail", now)

    def _ServiceSelection(self, msg: cm.ServiceSelectionReqType, now: float) -> None:
        sel = msg.SelectedEnergyTransferService
        by_id = {SERVICE_IDS[s]: s for s in self.offered_services}
        service = by_id.get(sel.ServiceID)
        n_sets = len(self.cfg.control_modes)
        if service is None or not 1 <= sel.ParameterSetID <= n_sets or msg.SelectedVASList:
            self._res_ServiceSelection("FAILED_ServiceSelectionInvalid", now)
            self.end(f"invalid selection {sel.ServiceID}/{sel.ParameterSetID}", False, now)
            return
        self.service = service
        self.control_mode = self.cfg.control_modes[sel.ParameterSetID - 1]
        self._res_ServiceSelection("OK", now)
        self.expect = frozenset({"AC_ChargeParameterDiscoveryReq" if self.is_ac
                                 else "DC_ChargeParameterDiscoveryReq"})

    def _res_ServiceSelection(self, code: str, now: float) -> None:
        self.respond(COMMON, cm.ServiceSelectionResType(Header=self.hdr(now), ResponseCode=code),
                     "ServiceSelection", now)

    # -- DC ------------------------------------------------------------------------------------

    def _DC_ChargeParameterDiscovery(self, msg: dc.DC_ChargeParameterDiscoveryReqType,
                                     now: float) -> None:
        mode = msg.DC_CPDReqEnergyTransferMode
        bpt = isinstance(mode, dc.BPT_DC_CPDReqEnergyTransferModeType)
        lim = self.station.dc
        if lim is None or bpt != (self.service == "DC_BPT"):
            self._res_DC_ChargeParameterDiscovery("FAILED_WrongChargeParameter", now)
            self.end("ChargeParameterDiscovery does not match the selected service", False, now)
            return
        self.ev_max_voltage = f20(mode.EVMaximumVoltage)
        self.ev_min_voltage = f20(mode.EVMinimumVoltage)
        self.ev_max_current = f20(mode.EVMaximumChargeCurrent)
        self.ev_max_power = f20(mode.EVMaximumChargePower)
        if self.ev_max_voltage < lim.min_voltage or self.ev_min_voltage > lim.max_voltage:
            self._res_DC_ChargeParameterDiscovery("FAILED_WrongChargeParameter", now)
            self.end(f"EV voltage range {self.ev_min_voltage}-{self.ev_max_voltage} V outside "
                     f"the station's {lim.min_voltage}-{lim.max_voltage} V", False, now)
            return
        self._res_DC_ChargeParameterDiscovery("OK", now)
        self.expect = frozenset({"ScheduleExchangeReq"})

    def _res_DC_ChargeParameterDiscovery(self, code: str, now: float) -> None:
        lim = self.station.dc
        maxi, maxp = self.dc_charge_caps(self.conversion_volts())   # smart charging included
        maxv, minv = (lim.max_voltage, lim.min_voltage) if lim else (0.0, 0.0)
        mini = min(lim.min_current if lim else 0.0, maxi)
        common = dict(EVSEMaximumChargePower=r20(maxp), EVSEMinimumChargePower=r20(0),
                      EVSEMaximumChargeCurrent=r20(maxi), EVSEMinimumChargeCurrent=r20(mini),
                      EVSEMaximumVoltage=r20(maxv), EVSEMinimumVoltage=r20(minv))
        bpt = self.station.dc_bpt
        mode: Any
        if self.service == "DC_BPT" and bpt is not None:
            # The discharge maxima are the hardware's: a session may be asked to discharge
            # later (a negative limit); the loop responses carry what is allowed now.
            mode = dc.BPT_DC_CPDResEnergyTransferModeType(
                **common, EVSEMaximumDischargePower=r20(bpt.evse_max_discharge_power),
                EVSEMinimumDischargePower=r20(bpt.evse_min_discharge_power),
                EVSEMaximumDischargeCurrent=r20(bpt.evse_max_discharge_current),
                EVSEMinimumDischargeCurrent=r20(bpt.evse_min_discharge_current))
        else:
            mode = dc.DC_CPDResEnergyTransferModeType(**common)
        res = dc.DC_ChargeParameterDiscoveryResType(Header=self.hdr(now, dc), ResponseCode=code,
                                                    DC_CPDResEnergyTransferMode=mode)
        self.respond(DC, res, "DC_ChargeParameterDiscovery", now)

    def _ScheduleExchange(self, msg: cm.ScheduleExchangeReqType, now: float) -> None:
        dynamic = msg.Dynamic_SEReqControlMode is not None
        if dynamic != (self.control_mode == "dynamic"):
            self._res_ScheduleExchange("FAILED", now)
            self.end(f"ScheduleExchange control mode does not match {self.control_mode}",
                     False, now)
            return
        self._res_ScheduleExchange("OK", now)
        # After a schedule renegotiation the power path is still up: straight to PowerDelivery.
        self.expect = frozenset({"PowerDeliveryReq"} if self.schedule_reneg or self.is_ac
                                else {"DC_CableCheckReq"})
        self.schedule_reneg = False

    schedule_reneg = False
    schedule_renegotiated = False

    def _res_ScheduleExchange(self, code: str, now: float) -> None:
        res = cm.ScheduleExchangeResType(Header=self.hdr(now), ResponseCode=code,
                                         EVSEProcessing="Finished")
        self.schedule_key = limit_key(self.station.charge_limit)
        if self.control_mode == "dynamic":
            res.Dynamic_SEResControlMode = cm.Dynamic_SEResControlModeType()
        else:
            power = self._ac_max_power() if self.is_ac else self.dc_charge_caps(
                self.conversion_volts())[1]
            back = self._schedule_discharge_w()

            def schedule(watts: float) -> cm.ChargingScheduleType:
                return cm.ChargingScheduleType(PowerSchedule=cm.PowerScheduleType(
                    TimeAnchor=self.timestamp(now),
                    PowerScheduleEntries=cm.PowerScheduleEntryListType(PowerScheduleEntry=[
                        cm.PowerScheduleEntryType(Duration=86400, Power=r20(watts, cm))])))

            # BPT: a DischargingSchedule (see _schedule_discharge_w); a negative smart-charging
            # limit makes the charging power 0, the EV discharges along it. Its power is
            # negative: -20
            # [V2G20-1034]/[V2G20-1035] (positive W/A is EVSE to EV, negative EV to EVSE) and
            # Table 114 NOTE 3 ("all power values in a DischargingSchedule ... negative or zero").
            res.Scheduled_SEResControlMode = cm.Scheduled_SEResControlModeType(ScheduleTuple=[
                cm.ScheduleTupleType(ScheduleTupleID=self.schedule_id,
                                     ChargingSchedule=schedule(max(power, 0.0)),
                                     DischargingSchedule=schedule(-back) if back else None)])
        self.respond(COMMON, res, "ScheduleExchange", now)

    def _bpt(self) -> bool:
        return self.service in ("DC_BPT", "AC_BPT")

    def _limit(self, volts: float) -> Allowance:
        """The smart-charging allowance (DC: `volts` the voltage; AC: nominal x 3 phases)."""
        return self.allowance(volts, self._bpt())

    def _ac_volts(self) -> float:
        ac = self.station.ac
        return (ac.nominal_voltage if ac else 230.0) * 3   # three-phase parameter set

    def _schedule_discharge_w(self) -> float:
        """Scheduled BPT: the power of the DischargingSchedule (0: none). In scheduled mode the
        EV discharges only within one ([V2G20-1547]; no entry means zero, [V2G20-1811]): a
        negative limit's |limit|, none under a limit >= 0, and without any limit the station's
        own discharge capability (the EV then decides the direction, as in dynamic mode)."""
        if not self._bpt():
            return 0.0
        if self.is_ac:
            a = self._limit(self._ac_volts())
            p = self.station.limits.ac_bpt if self.station.limits is not None else None
            station = (p.evse_max_discharge_power.l1 + p.evse_max_discharge_power.l2
                       + p.evse_max_discharge_power.l3) if p is not None else 0.0
        else:
            a = self._limit(self.conversion_volts())
            bpt = self.station.dc_bpt
            station = bpt.evse_max_discharge_power if bpt is not None else 0.0
        return max(min(a.discharge_power, station), 0.0)

    def _DC_CableCheck(self, msg: dc.DC_CableCheckReqType, now: float) -> None:
        code, processing, failure = self.cable_check_step(now, "DC_PreChargeReq")
        self._res_DC_CableCheck(code, now, processing)
        if failure:
            self.end(failure, False, now)

    def _res_DC_CableCheck(self, code: str, now: float, processing: str = "Finished") -> None:
        res = dc.DC_CableCheckResType(Header=self.hdr(now, dc), ResponseCode=code,
                                      EVSEProcessing=processing)
        self.respond(DC, res, "DC_CableCheck", now)

    def _DC_PreCharge(self, msg: dc.DC_PreChargeReqType, now: float) -> None:
        code, failure = self.precharge_step(f20(msg.EVTargetVoltage), self.cfg.precharge_current,
                                            now, self.ev_max_voltage)
        self._res_DC_PreCharge(code, now)
        if failure:
            self.end(failure, False, now)
            return
        self.expect = frozenset({"DC_PreChargeReq", "PowerDeliveryReq"})

    def _res_DC_PreCharge(self, code: str, now: float) -> None:
        res = dc.DC_PreChargeResType(Header=self.hdr(now, dc), ResponseCode=code,
                                     EVSEPresentVoltage=r20(self.station.present_voltage))
        self.respond(DC, res, "DC_PreCharge", now)

    def _PowerDelivery(self, msg: cm.PowerDeliveryReqType, now: float) -> None:
        progress = msg.ChargeProgress
        if progress == "Start":
            if self.station.fatal:
                self._res_PowerDelivery("FAILED_PowerDeliveryNotApplied", now)
                self.end(f"station {self.station.status_code}", False, now)
                return
            if not self.charging or not self.schedule_renegotiated:
                self.hlc_charging(True, "resume" if self.stop_action == "Pause" else None)
            self.charging = True
            self.schedule_renegotiated = False
            if self.is_ac:
                self.ac_setpoint(self._ac_max_power())
            self._res_PowerDelivery("OK", now)
            loop = "AC_ChargeLoopReq" if self.is_ac else "DC_ChargeLoopReq"
            self.expect = frozenset({loop, "PowerDeliveryReq"})
        elif progress == "Stop":
            self.charging = False
            self.power_off()
            if self.is_ac:
                self._res_PowerDelivery("OK", now)
                self.expect = frozenset({"SessionStopReq", "ServiceDiscoveryReq"})
                return
            self.expect = frozenset({"DC_WeldingDetectionReq", "SessionStopReq"})
            self.defer_until_current_low(
                lambda t: self._res_PowerDelivery("OK", t, received=now), now)
        elif progress == "Standby":
            self.power_off()
            self._res_PowerDelivery("OK", now)
            loop = "AC_ChargeLoopReq" if self.is_ac else "DC_ChargeLoopReq"
            self.expect = frozenset({"PowerDeliveryReq", loop})
        else:  # ScheduleRenegotiation
            self.schedule_reneg = True
            self.schedule_renegotiated = True   # power keeps flowing meanwhile
            self._res_PowerDelivery("OK", now)
            self.expect = frozenset({"ScheduleExchangeReq"})

    def _res_PowerDelivery(self, code: str, now: float, received: float | None = None) -> None:
        res = cm.PowerDeliveryResType(Header=self.hdr(now), ResponseCode=code,
                                      EVSEStatus=self._evse_status(cm))
        self.respond(COMMON, res, "PowerDelivery", now, received=received)

    def _notification(self, loop: bool = False) -> str | None:
        """Terminate; or, in a scheduled charge loop, ScheduleRenegotiation when the
        smart-charging limit changed since the schedule was sent (the EV answers with
        PowerDeliveryReq(ScheduleRenegotiation) and a new ScheduleExchange). Dynamic mode needs
        none: the loop responses carry the limits."""
        if self.stop_requested or self.station.fatal:
            return "Terminate"
        if loop and self.charging and self.control_mode == "scheduled" and \
                limit_key(self.station.charge_limit) != self.schedule_key:
            return "ScheduleRenegotiation"
        return None

    def _evse_status(self, mod: Any, loop: bool = False) -> Any:
        note = self._notification(loop)
        if note is None:
            return None
        delay = RENEGOTIATION_MAX_DELAY_S if note == "ScheduleRenegotiation" else 0
        return mod.EVSEStatusType(NotificationMaxDelay=delay, EVSENotification=note)

    def _DC_ChargeLoop(self, msg: dc.DC_ChargeLoopReqType, now: float) -> None:
        mode = msg.CLReqControlMode
        lim = self.station.dc
        dynamic = isinstance(mode, (dc.Dynamic_DC_CLReqControlModeType,
                                    dc.BPT_Dynamic_DC_CLReqControlModeType))
        scheduled = isinstance(mode, (dc.Scheduled_DC_CLReqControlModeType,
                                      dc.BPT_Scheduled_DC_CLReqControlModeType))
        if lim is None or (dynamic and self.control_mode != "dynamic") or (
                scheduled and self.control_mode != "scheduled") or not (dynamic or scheduled):
            self._res_DC_ChargeLoop("FAILED", now)
            self.end("charge loop control mode does not match the selection", False, now)
            return
        if not self.charging or self.stop_requested or self.station.fatal:
            self.power_off()
        elif self._discharge(mode):
            pass  # DC_BPT: energy back from the EV (setpoint sent by _discharge)
        elif isinstance(mode, (dc.Dynamic_DC_CLReqControlModeType,
                               dc.BPT_Dynamic_DC_CLReqControlModeType)):
            vmax = f20(mode.EVMaximumVoltage)
            volts = max(self.station.present_voltage, 1.0)
            maxi, maxp = self.dc_charge_caps(volts)    # station and smart-charging limits
            imax = min(f20(mode.EVMaximumChargeCurrent), maxi)
            pmax = min(f20(mode.EVMaximumChargePower), maxp)
            # A limit of 0 (or a negative one the EV cannot follow) keeps the voltage and the
            # session; only the current goes to 0.
            self.setpoint(vmax, min(vmax, lim.max_voltage), max(min(imax, pmax / volts), 0.0))
        elif isinstance(mode, (dc.Scheduled_DC_CLReqControlModeType,
                               dc.BPT_Scheduled_DC_CLReqControlModeType)):
            v = min(f20(mode.EVTargetVoltage), lim.max_voltage)
            self.setpoint(self.ev_max_voltage, v, self.dc_charge_current(
                f20(mode.EVTargetCurrent), v))
        self._meter = msg.MeterInfoRequested
        self._res_DC_ChargeLoop("OK", now)
        self.expect = frozenset({"DC_ChargeLoopReq", "PowerDeliveryReq"})

    _meter = False
    _told_no_v2x = False

    def _discharge(self, mode: Any) -> bool:
        """DC_BPT: discharge when the EV asks for it, within the EV's and the station's
        discharge limits; True when a discharge setpoint was sent.

        Scheduled: the EV's EVTargetCurrent is negative. Dynamic: the EVSE decides; this one
        takes energy back while the EV's EVTargetEnergyRequest is negative (it is above its
        target SoC), at the most both sides allow (a grid operator's request would be the
        other reason, not wired yet)."""
        bpt, lim = self.station.dc_bpt, self.station.dc
        if self.service != "DC_BPT" or bpt is None or lim is None:
            return False
        volts = max(self.station.present_voltage, 1.0)
        allow = self._limit(volts)
        if allow.limited and not allow.discharge:
            return False          # a limit >= 0: charging only (0: no flow at all)
        if isinstance(mode, dc.BPT_Scheduled_DC_CLReqControlModeType):
            amps = -f20(mode.EVTargetCurrent)
            floor = f20(mode.EVTargetVoltage)
        elif isinstance(mode, dc.BPT_Dynamic_DC_CLReqControlModeType):
            if allow.discharge:
                # Smart charging asks for discharge: the EVSE decides in dynamic mode, as far
                # as the EV lets energy out (EVMinimumEnergyRequest < 0, -20 8.3.5.3).
                if f20(mode.EVMinimumEnergyRequest) >= 0:
                    if not self._told_no_v2x:
                        log.info("evse %d: discharge asked for, but the EV allows no energy "
                                 "out (EVMinimumEnergyRequest >= 0): 0 A", self.cfg.evse_id)
                        self._told_no_v2x = True
                    return False      # the charge path gives 0 A: a negative limit never charges
            elif f20(mode.EVTargetEnergyRequest) >= 0:
                return False
            amps = min(f20(mode.EVMaximumDischargeCurrent),
                       f20(mode.EVMaximumDischargePower) / volts)
            floor = f20(mode.EVMinimumVoltage)
        else:
            return False
        if amps <= 0:
            return False
        if isinstance(mode, dc.BPT_Scheduled_DC_CLReqControlModeType) and \
                mode.EVMaximumDischargeCurrent is not None:
            amps = min(amps, f20(mode.EVMaximumDischargeCurrent))
        amps = min(amps, bpt.evse_max_discharge_current, bpt.evse_max_discharge_power / volts,
                   allow.discharge_current, allow.discharge_power / volts)
        # The voltage of a discharge setpoint is the floor the supply must not pull the
        # battery below; the supply regulates the current.
        self.setpoint(self.ev_max_voltage, max(floor, lim.min_voltage), amps, discharge=True)
        return True

    def _res_DC_ChargeLoop(self, code: str, now: float) -> None:
        lim = self.station.dc
        v, i = self.station.present_voltage, self.station.present_current
        sp = (self.last_setpoint or {}).get("dc", {})
        volts = self.conversion_volts(sp.get("voltage", 0.0))
        maxi, maxp = self.dc_charge_caps(volts)     # the station's and smart charging's
        maxv = lim.max_voltage if lim else 0.0
        mode: Any
        bpt = self.station.dc_bpt if self.service == "DC_BPT" else None
        if bpt is not None:
            allow = self._limit(volts)
            limits = dict(
                EVSEMaximumChargePower=r20(maxp), EVSEMinimumChargePower=r20(0),
                EVSEMaximumChargeCurrent=r20(maxi), EVSEMaximumVoltage=r20(maxv),
                EVSEMaximumDischargePower=r20(min(bpt.evse_max_discharge_power,
                                                  allow.discharge_power)),
                EVSEMinimumDischargePower=r20(min(bpt.evse_min_discharge_power,
                                                  allow.discharge_power)),
                EVSEMaximumDischargeCurrent=r20(min(bpt.evse_max_discharge_current,
                                                    allow.discharge_current)),
                EVSEMinimumVoltage=r20(lim.min_voltage if lim else 0.0))
            mode = (dc.BPT_Dynamic_DC_CLResControlModeType(**limits)
                    if self.control_mode == "dynamic"
                    else dc.BPT_Scheduled_DC_CLResControlModeType(**limits))
        elif self.control_mode == "dynamic":
            mode = dc.Dynamic_DC_CLResControlModeType(
                EVSEMaximumChargePower=r20(maxp), EVSEMinimumChargePower=r20(0),
                EVSEMaximumChargeCurrent=r20(maxi), EVSEMaximumVoltage=r20(maxv))
        elif self.station.charge_limit is not None:
            # Scheduled: the schedule is the EV's guide; the optional live maxima say at once
            # what a changed limit allows until the schedule is renegotiated.
            mode = dc.Scheduled_DC_CLResControlModeType(
                EVSEMaximumChargePower=r20(maxp), EVSEMaximumChargeCurrent=r20(maxi))
        else:
            mode = dc.Scheduled_DC_CLResControlModeType()
        res = dc.DC_ChargeLoopResType(
            Header=self.hdr(now, dc), ResponseCode=code, EVSEPresentCurrent=r20(i),
            EVSEPresentVoltage=r20(v),
            EVSEPowerLimitAchieved=v * i >= maxp - 1.0 if maxp else False,
            EVSECurrentLimitAchieved=sp.get("charge_current", 0.0) >= maxi > 0,
            EVSEVoltageLimitAchieved=sp.get("voltage", 0.0) >= maxv > 0,
            CLResControlMode=mode, EVSEStatus=self._evse_status(dc, loop=True))
        if self._meter:
            res.MeterInfo = dc.MeterInfoType(MeterID=self.station.meter_id,
                                             ChargedEnergyReadingWh=int(self.station.energy_wh))
        self.respond(DC, res, "DC_ChargeLoop", now)

    # -- AC ------------------------------------------------------------------------------------

    def _ac_max_power(self) -> float:
        """The charge power this EVSE may offer now: the station's phases and smart charging's
        limit (A per phase, or W)."""
        ac = self.station.ac
        if ac is None:
            return 0.0
        station = ac.nominal_voltage * (ac.max_current.l1 + ac.max_current.l2 + ac.max_current.l3)
        return max(min(station, self._limit(self._ac_volts()).charge_power), 0.0)

    def ac_setpoint(self, watts: float) -> None:
        """Negative `watts`: the EV feeds back (AC_BPT)."""
        ac = ({"discharge_active_power": round(-watts, 1)} if watts < 0
              else {"charge_active_power": round(watts, 1)})
        data: dict[str, Any] = {"evse_id": self.cfg.evse_id,
                                "ev_limits": {"maximum_voltage": 400.0}, "ac": ac}
        if data == self.last_setpoint and self.now - self.setpoint_sent_at < 1.0:
            return
        self.last_setpoint = data
        self.setpoint_sent_at = self.now
        self.power_on = watts != 0
        self.out.append(ApiRequest("power_electronics_setpoint", data))

    def _ac_discharge(self, mode: Any) -> float | None:
        """AC_BPT: the power to take back (W) while the EV's EVTargetEnergyRequest is negative
        (it is above its target SoC), within both sides' discharge limits; None: charge."""
        bpt = self.station.limits.ac_bpt if self.station.limits is not None else None
        if self.service != "AC_BPT" or bpt is None or not isinstance(
                mode, (acm.BPT_Dynamic_AC_CLReqControlModeType,
                       acm.BPT_Scheduled_AC_CLReqControlModeType)):
            return None
        allow = self._limit(self._ac_volts())
        if allow.limited and not allow.discharge:
            return None           # a limit >= 0: charging only (0: no flow at all)
        dynamic = isinstance(mode, acm.BPT_Dynamic_AC_CLReqControlModeType)
        if allow.discharge and dynamic:
            # Smart charging asks for feed-back; the EVSE decides in dynamic mode, as far as
            # the EV lets energy out (EVMinimumEnergyRequest < 0).
            if f20(mode.EVMinimumEnergyRequest) >= 0:
                return 0.0
        elif mode.EVTargetEnergyRequest is None or f20(mode.EVTargetEnergyRequest) >= 0:
            return 0.0 if allow.discharge else None
        p = bpt.evse_max_discharge_power
        station = p.l1 + p.l2 + p.l3
        ev = f20(mode.EVMaximumDischargePower) if mode.EVMaximumDischargePower is not None \
            else station
        return max(min(ev, station, allow.discharge_power), 0.0)

    def power_off(self) -> None:
        if self.is_ac:
            if self.power_on:
                self.ac_setpoint(0.0)
                self.power_on = False
            return
        super().power_off()

    def on_station(self, now: float) -> None:
        super().on_station(now)
        if not self.ended and self.is_ac and self.charging and \
                self.station.cp_state[:1] in ("C", "D"):
            self.arm_contactor_window(now)

    def _AC_ChargeParameterDiscovery(self, msg: acm.AC_ChargeParameterDiscoveryReqType,
                                     now: float) -> None:
        mode = msg.AC_CPDReqEnergyTransferMode
        bpt = isinstance(mode, acm.BPT_AC_CPDReqEnergyTransferModeType)
        if self.station.ac is None or bpt != (self.service == "AC_BPT"):
            self._res_AC_ChargeParameterDiscovery("FAILED_WrongChargeParameter", now)
            self.end("AC ChargeParameterDiscovery does not match the selection", False, now)
            return
        self.ev_max_power = f20(mode.EVMaximumChargePower)
        self._res_AC_ChargeParameterDiscovery("OK", now)
        self.expect = frozenset({"ScheduleExchangeReq"})

    def _res_AC_ChargeParameterDiscovery(self, code: str, now: float) -> None:
        common = dict(EVSEMaximumChargePower=r20(self._ac_max_power(), acm),
                      EVSEMinimumChargePower=r20(0, acm),
                      EVSENominalFrequency=r20(50, acm))
        mode: Any
        if self.service == "AC_BPT":
            mode = acm.BPT_AC_CPDResEnergyTransferModeType(
                **common, EVSEMaximumDischargePower=r20(self._ac_max_power(), acm),
                EVSEMinimumDischargePower=r20(0, acm))
        else:
            mode = acm.AC_CPDResEnergyTransferModeType(**common)
        res = acm.AC_ChargeParameterDiscoveryResType(Header=self.hdr(now, acm),
                                                     ResponseCode=code,
                                                     AC_CPDResEnergyTransferMode=mode)
        self.respond(AC, res, "AC_ChargeParameterDiscovery", now)

    def _AC_ChargeLoop(self, msg: acm.AC_ChargeLoopReqType, now: float) -> None:
        mode = msg.CLReqControlMode
        dynamic = isinstance(mode, (acm.Dynamic_AC_CLReqControlModeType,
                                    acm.BPT_Dynamic_AC_CLReqControlModeType))
        scheduled = isinstance(mode, (acm.Scheduled_AC_CLReqControlModeType,
                                      acm.BPT_Scheduled_AC_CLReqControlModeType))
        if (dynamic and self.control_mode != "dynamic") or (
                scheduled and self.control_mode != "scheduled") or not (dynamic or scheduled):
            self._res_AC_ChargeLoop("FAILED", now)
            self.end("charge loop control mode does not match the selection", False, now)
            return
        target = 0.0
        if not self.charging or self.stop_requested or self.station.fatal:
            self.power_off()
        elif (back := self._ac_discharge(mode)) is not None:
            target = -back
            self.ac_setpoint(target)
        elif self._limit(self._ac_volts()).discharge:
            self.ac_setpoint(0.0)   # a negative limit never charges
        else:
            target = self._ac_max_power()
            if isinstance(mode, (acm.Dynamic_AC_CLReqControlModeType,
                                 acm.BPT_Dynamic_AC_CLReqControlModeType)):
                target = min(target, f20(mode.EVMaximumChargePower))
            elif mode.EVMaximumChargePower is not None:   # type: ignore[union-attr]
                target = min(target, f20(mode.EVMaximumChargePower))  # type: ignore[union-attr]
            self.ac_setpoint(target)
        self._target_w = target
        self._meter = msg.MeterInfoRequested
        self._res_AC_ChargeLoop("OK", now)
        self.expect = frozenset({"AC_ChargeLoopReq", "PowerDeliveryReq"})

    _target_w = 0.0

    def _res_AC_ChargeLoop(self, code: str, now: float) -> None:
        mode: Any
        target = r20(self._target_w, acm)
        if self.service == "AC_BPT":
            mode = (acm.BPT_Dynamic_AC_CLResControlModeType(EVSETargetActivePower=target)
                    if self.control_mode == "dynamic"
                    else acm.BPT_Scheduled_AC_CLResControlModeType(EVSETargetActivePower=target))
        elif self.control_mode == "dynamic":
            mode = acm.Dynamic_AC_CLResControlModeType(EVSETargetActivePower=target)
        else:
            mode = acm.Scheduled_AC_CLResControlModeType(EVSETargetActivePower=target)
        res = acm.AC_ChargeLoopResType(Header=self.hdr(now, acm), ResponseCode=code,
                                       EVSEStatus=self._evse_status(acm, loop=True),
                                       CLResControlMode=mode)
        if self._meter:
            res.MeterInfo = acm.MeterInfoType(MeterID=self.station.meter_id,
                                              ChargedEnergyReadingWh=int(self.station.energy_wh))
        self.respond(AC, res, "AC_ChargeLoop", now)

    def _DC_WeldingDetection(self, msg: dc.DC_WeldingDetectionReqType, now: float) -> None:
        self._res_DC_WeldingDetection("OK", now)
        self.expect = frozenset({"DC_WeldingDetectionReq", "SessionStopReq"})

    def _res_DC_WeldingDetection(self, code: str, now: float) -> None:
        res = dc.DC_WeldingDetectionResType(Header=self.hdr(now, dc), ResponseCode=code,
                                            EVSEPresentVoltage=r20(self.station.present_voltage))
        self.respond(DC, res, "DC_WeldingDetection", now)

    def _SessionStop(self, msg: cm.SessionStopReqType, now: float) -> None:
        what = msg.ChargingSession
        if msg.EVTerminationCode:
            log.info("evse %d: EV terminates: %s %s", self.cfg.evse_id, msg.EVTerminationCode,
                     msg.EVTerminationExplanation or "")
        if what == "ServiceRenegotiation":
            if not self.cfg.service_renegotiation:
                self._res_SessionStop("FAILED_NoServiceRenegotiationSupported", now)
                self.end("service renegotiation not supported", False, now)
                return
            self.power_off()
            self.charging = False
            self.stop_action = "ServiceRenegotiation"
            # A new service may need a new power path: cable check and pre-charge again.
            self.cable_check = None
            self.cable_check_asked = False
            self.precharge_since = None
            self.ongoing_since.clear()
            self._res_SessionStop("OK", now)
            self.expect = frozenset({"ServiceDiscoveryReq"})
            return
        self._res_SessionStop("OK", now)
        if what == "Pause":
            self.ctx.paused[self.session_id] = PausedSession(
                self.protocol, self.session_id, self.evcc_id,
                {"service": self.service, "control_mode": self.control_mode})
            self.end("paused by the EV", True, now, paused=True)
        else:
            self.end("terminated by the EV", True, now)

    def _res_SessionStop(self, code: str, now: float) -> None:
        self.respond(COMMON, cm.SessionStopResType(Header=self.hdr(now), ResponseCode=code),
                     "SessionStop", now)
