"""ISO 15118-2 from the EV's side: EIM (ExternalPayment), DC or AC, pause and resume."""

from __future__ import annotations

from typing import Any, ClassVar

from josev.evcc.common.core import EvccCore, EvSession
from josev.exi.generated import iso2
from josev.secc.iso2.session import EXI, fv, pv


class Iso2EvSession(EvSession):
    protocol = "ISO2"
    families: ClassVar[dict[int, str]] = {EXI: "iso2"}

    def __init__(self, core: EvccCore, now: float) -> None:
        super().__init__(core, now)
        self.stopping: str | None = None
        self.precharge_started: float | None = None
        self.mac = bytes(int(x, 16) for x in self.cfg.mac.split(":"))
        self.mode = "AC_three_phase_core" if self.cfg.ac else "DC_extended"
        self.evse_max_current = 0.0
        self.pmax = float("inf")          # W: the SAScheduleTuple's PMax (the EV keeps to it)
        self.renegotiated = False         # a schedule renegotiation happened (power path up)
        self.progress_kind = "Start"

    def status(self, ready: bool = True) -> iso2.DC_EVStatusType:
        return iso2.DC_EVStatusType(EVReady=ready, EVErrorCode="NO_ERROR",
                                    EVRESSSOC=int(self.ev.soc))

    def send_body(self, body: Any, name: str, now: float) -> None:
        msg = iso2.V2G_Message(Header=iso2.MessageHeaderType(SessionID=self.session_id),
                               Body=iso2.BodyType(BodyElement=body))
        self.send(EXI, msg, name, now)

    def begin(self, now: float) -> None:
        self.request("SessionSetup", now)

    def request(self, name: str, now: float) -> None:
        getattr(self, "_req_" + name)(now)

    # -- requests ------------------------------------------------------------------------------

    def _req_SessionSetup(self, now: float) -> None:
        self.progress(now, "SessionSetup")
        self.send_body(iso2.SessionSetupReqType(EVCCID=self.mac), "SessionSetup", now)

    def _req_ServiceDiscovery(self, now: float) -> None:
        self.send_body(iso2.ServiceDiscoveryReqType(), "ServiceDiscovery", now)

    def _req_PaymentServiceSelection(self, now: float) -> None:
        self.send_body(iso2.PaymentServiceSelectionReqType(
            SelectedPaymentOption="ExternalPayment",
            SelectedServiceList=iso2.SelectedServiceListType(
                SelectedService=[iso2.SelectedServiceType(ServiceID=1)])),
            "PaymentServiceSelection", now)

    def _req_Authorization(self, now: float) -> None:
        self.progress(now, "Authorization")
        self.send_body(iso2.AuthorizationReqType(), "Authorization", now)

    def _req_ChargeParameterDiscovery(self, now: float) -> None:
        c, ev = self.cfg, self.ev
        self.progress(now, "ChargeParameterDiscovery")
        param: Any
        if c.ac:
            param = iso2.AC_EVChargeParameterType(
                EAmount=pv(ev.energy_request_wh(), "Wh"), EVMaxVoltage=pv(c.ac_voltage, "V"),
                EVMaxCurrent=pv(c.ac_max_current, "A"), EVMinCurrent=pv(6.0, "A"))
        else:
            param = iso2.DC_EVChargeParameterType(
                DC_EVStatus=self.status(), EVMaximumCurrentLimit=pv(c.max_current, "A"),
                EVMaximumPowerLimit=pv(c.max_power, "W"),
                EVMaximumVoltageLimit=pv(c.max_voltage, "V"),
                EVEnergyCapacity=pv(c.capacity_wh, "Wh"),
                EVEnergyRequest=pv(ev.energy_request_wh(), "Wh"),
                FullSOC=100, BulkSOC=int(c.target_soc))
        self.send_body(iso2.ChargeParameterDiscoveryReqType(
            MaxEntriesSAScheduleTuple=12, RequestedEnergyTransferMode=self.mode,
            EVChargeParameter=param), "ChargeParameterDiscovery", now)

    def _req_CableCheck(self, now: float) -> None:
        self.progress(now, "CableCheck")
        self.send_body(iso2.CableCheckReqType(DC_EVStatus=self.status()), "CableCheck", now)

    def _req_PreCharge(self, now: float) -> None:
        if self.precharge_started is None:
            self.precharge_started = now
            t = self.timing
            self.out.append(self.timers.set("precharge", now + t.s(t.pre_charge_evcc)))
        self.progress(now, "PreCharge")
        self.send_body(iso2.PreChargeReqType(DC_EVStatus=self.status(),
                                             EVTargetVoltage=pv(self.ev.ocv, "V"),
                                             EVTargetCurrent=pv(2.0, "A")), "PreCharge", now)

    def _req_PowerDelivery(self, now: float) -> None:
        start = self.stopping is None
        progress = "Start" if start else "Stop"
        if self.stopping == "schedule":
            progress, start = "Renegotiate", False
        self.progress_kind = progress
        self.progress(now, "PowerDelivery")
        param = None if self.cfg.ac else iso2.DC_EVPowerDeliveryParameterType(
            DC_EVStatus=self.status(), BulkChargingComplete=False,
            ChargingComplete=progress == "Stop")
        self.send_body(iso2.PowerDeliveryReqType(
            ChargeProgress=progress, SAScheduleTupleID=1,
            EVPowerDeliveryParameter=param), "PowerDelivery", now)
        if self.cfg.ac and start:
            self.cp("C")   # AC: C within 250 ms of PowerDeliveryReq(Start)

    def _req_CurrentDemand(self, now: float) -> None:
        ev, c = self.ev, self.cfg
        self.send_body(iso2.CurrentDemandReqType(
            DC_EVStatus=self.status(), EVTargetCurrent=pv(ev.target_current(), "A"),
            EVMaximumVoltageLimit=pv(c.max_voltage, "V"),
            EVMaximumCurrentLimit=pv(c.max_current, "A"),
            EVMaximumPowerLimit=pv(c.max_power, "W"), BulkChargingComplete=False,
            ChargingComplete=ev.full, EVTargetVoltage=pv(ev.target_voltage(), "V")),
            "CurrentDemand", now)

    def _req_ChargingStatus(self, now: float) -> None:
        self.send_body(iso2.ChargingStatusReqType(), "ChargingStatus", now)

    def _req_WeldingDetection(self, now: float) -> None:
        self.progress(now, "WeldingDetection")
        self.send_body(iso2.WeldingDetectionReqType(DC_EVStatus=self.status(False)),
                       "WeldingDetection", now)

    def _req_SessionStop(self, now: float) -> None:
        self.progress(now, "SessionStop")
        what = "Pause" if self.stopping == "pause" else "Terminate"
        self.send_body(iso2.SessionStopReqType(ChargingSession=what), "SessionStop", now)

    # -- responses -----------------------------------------------------------------------------

    def on_response(self, root: str, msg: Any, now: float) -> None:
        body = msg.Body.BodyElement if root == "V2G_Message" else None
        name = type(body).__name__[:-4] if body is not None else root
        if body is None or name != (self.pending or "") + "Res":
            self.end(f"{name} while waiting for {self.pending}Res", False, now)
            return
        if body.ResponseCode.startswith("FAILED"):
            self.end(f"{name}: {body.ResponseCode}", False, now)
            return
        if name == "SessionSetupRes":
            self.session_id = msg.Header.SessionID
        getattr(self, "_on_" + name[:-3])(body, now)

    def _on_SessionSetup(self, body: Any, now: float) -> None:
        self.request("ServiceDiscovery", now)

    def _on_ServiceDiscovery(self, body: iso2.ServiceDiscoveryResType, now: float) -> None:
        if "ExternalPayment" not in body.PaymentOptionList.PaymentOption:
            self.end("the SECC offers no ExternalPayment", False, now)
            return
        modes = body.ChargeService.SupportedEnergyTransferMode.EnergyTransferMode
        if self.mode not in modes:
            self.end(f"the SECC does not offer {self.mode} ({modes})", False, now)
            return
        self.request("PaymentServiceSelection", now)

    def _on_PaymentServiceSelection(self, body: Any, now: float) -> None:
        self.request("Authorization", now)

    def _on_Authorization(self, body: iso2.AuthorizationResType, now: float) -> None:
        if body.EVSEProcessing != "Finished":
            if self.ongoing("Authorization", now, self.timing.ongoing_evcc):
                self.later("Authorization", self.cfg.poll_interval, now)
            return
        self.request("ChargeParameterDiscovery", now)

    def _on_ChargeParameterDiscovery(self, body: iso2.ChargeParameterDiscoveryResType,
                                     now: float) -> None:
        if body.EVSEProcessing != "Finished":
            if self.ongoing("ChargeParameterDiscovery", now, self.timing.ongoing_evcc):
                self.later("ChargeParameterDiscovery", self.cfg.poll_interval, now)
            return
        param = body.EVSEChargeParameter
        sched = body.SASchedules
        entries = sched.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry if isinstance(
            sched, iso2.SAScheduleListType) and sched.SAScheduleTuple else []
        self.pmax = fv(entries[0].PMax) if entries else float("inf")
        if isinstance(param, iso2.AC_EVSEChargeParameterType):
            self.evse_max_current = fv(param.EVSEMaxCurrent)
            self.request("PowerDelivery", now)
            return
        if self.renegotiated and self.precharge_started is not None:
            self.request("PowerDelivery", now)
            return
        self.cp("C")
        t = self.timing
        self.out.append(self.timers.set("cable_check", now + t.s(t.cable_check_evcc)))
        self.request("CableCheck", now)

    def _on_CableCheck(self, body: iso2.CableCheckResType, now: float) -> None:
        self.after_cable_check(body.EVSEProcessing, "CableCheck", "PreCharge", now)

    def _on_PreCharge(self, body: iso2.PreChargeResType, now: float) -> None:
        self.after_precharge(fv(body.EVSEPresentVoltage), "PreCharge", now)

    def _on_PowerDelivery(self, body: Any, now: float) -> None:
        if self.progress_kind == "Renegotiate":   # a new schedule: parameters again
            self.stopping = None
            self.request("ChargeParameterDiscovery", now)
            return
        if self.stopping is None:
            self.progress(now, "ChargingLoop")
            self.request("ChargingStatus" if self.cfg.ac else "CurrentDemand", now)
            return
        self.cp("B")
        if self.cfg.welding_detection and not self.cfg.ac:
            self.request("WeldingDetection", now)
        else:
            self.request("SessionStop", now)

    def _loop_decision(self, stop_note: bool, now: float, loop: str,
                       renegotiate: bool = False) -> None:
        ev, c = self.ev, self.cfg
        if stop_note:
            self.stopping = "terminate"
        elif renegotiate:
            # EVSENotification ReNegotiation: a new schedule (PMax) from the SECC.
            self.stopping = "schedule"
            self.renegotiated = True
            self.request("PowerDelivery", now)
            return
        elif c.unplug_at_soc is not None and ev.soc >= c.unplug_at_soc:
            self.out.extend(self.core.unplug(now))
            self.ended = True
            return
        elif c.pause_at_soc is not None and ev.soc >= c.pause_at_soc and not ev.paused_once:
            ev.paused_once = True
            self.stopping = "pause"
        elif c.schedule_renegotiate_at_soc is not None and \
                ev.soc >= c.schedule_renegotiate_at_soc and not ev.schedule_renegotiated:
            ev.schedule_renegotiated = True
            self.renegotiated = True
            self.stopping = "schedule"
            self.request("PowerDelivery", now)
            return
        elif ev.full:
            self.stopping = "target"
        if self.stopping is not None:
            ev.stop_flow(now)
            self.request("PowerDelivery", now)
        else:
            self.later(loop, c.loop_interval, now)

    def _on_CurrentDemand(self, body: iso2.CurrentDemandResType, now: float) -> None:
        self.ev.measure(fv(body.EVSEPresentVoltage), fv(body.EVSEPresentCurrent), now)
        self.progress(now, "ChargingLoop")
        st = body.DC_EVSEStatus
        stop = st.EVSENotification == "StopCharging" or st.EVSEStatusCode in (
            "EVSE_Shutdown", "EVSE_EmergencyShutdown", "EVSE_Malfunction")
        self._loop_decision(stop, now, "CurrentDemand", st.EVSENotification == "ReNegotiation")

    def _on_ChargingStatus(self, body: iso2.ChargingStatusResType, now: float) -> None:
        c = self.cfg
        amps = min(c.ac_max_current, fv(body.EVSEMaxCurrent) if body.EVSEMaxCurrent else 0.0,
                   self.pmax / (c.ac_voltage * c.ac_phases))
        # The EV's charger draws what the EVSE allows (the live EVSEMaxCurrent and the
        # schedule's PMax); the battery sees it as DC power.
        self.ev.measure(c.ac_voltage * c.ac_phases, amps, now)
        self.progress(now, "ChargingLoop")
        note = body.AC_EVSEStatus.EVSENotification
        self._loop_decision(note == "StopCharging", now, "ChargingStatus",
                            note == "ReNegotiation")

    def _on_WeldingDetection(self, body: Any, now: float) -> None:
        self.request("SessionStop", now)

    def _on_SessionStop(self, body: Any, now: float) -> None:
        self.progress(now, "SessionStop")
        pause = self.stopping == "pause"
        self.end("paused" if pause else f"charging complete ({self.stopping})", True, now,
                 paused=pause)

    def on_timer(self, name: str, now: float) -> None:
        if name == "cable_check":
            self.end("cable check not finished within the EV's cable-check time", False, now)
        elif name == "precharge":
            self.end("pre-charge did not reach the battery voltage in time", False, now)
