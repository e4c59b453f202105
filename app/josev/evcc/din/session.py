"""DIN SPEC 70121 DC from the EV's side, EIM (ExternalPayment).

Besides the message timeouts, the EV keeps DIN's Table 77 timers: cable check (40 s), pre-charge
(7 s) and ReadyToCharge (150 s to PowerDeliveryReq(Start); counted here from the V2G session,
the simulator's core starting at the TCP connection). When one runs out the EV goes back to CP B
at once if it is in C, then ends the session ([V2G-DC-380] for the cable check).
"""

from __future__ import annotations

from typing import Any, ClassVar

from josev.evcc.common.core import EvccCore, EvSession
from josev.exi.generated import din
from josev.secc.din.session import EXI, fv, pv


class DinEvSession(EvSession):
    protocol = "DIN"
    families: ClassVar[dict[int, str]] = {EXI: "din"}

    def __init__(self, core: EvccCore, now: float) -> None:
        super().__init__(core, now)
        self.stopping: str | None = None
        self.precharge_started: float | None = None
        self.mac = bytes(int(x, 16) for x in self.cfg.mac.split(":"))
        self.cp_state = "B"

    def cp(self, state: str) -> None:
        self.cp_state = state
        super().cp(state)

    def status(self, ready: bool = True) -> din.DC_EVStatusType:
        return din.DC_EVStatusType(EVReady=ready, EVErrorCode="NO_ERROR",
                                   EVRESSSOC=int(self.ev.soc))

    def send_body(self, body: Any, name: str, now: float) -> None:
        sid = self.session_id if self.session_id != b"\x00" else b"\x00"
        msg = din.V2G_Message(Header=din.MessageHeaderType(SessionID=sid),
                              Body=din.BodyType(BodyElement=body))
        self.send(EXI, msg, name, now)

    def begin(self, now: float) -> None:
        t = self.timing
        self.out.append(self.timers.set("ready_to_charge", now + t.s(t.ready_to_charge_evcc)))
        self.request("SessionSetup", now)

    def request(self, name: str, now: float) -> None:
        getattr(self, "_req_" + name)(now)

    # -- requests ------------------------------------------------------------------------------

    def _req_SessionSetup(self, now: float) -> None:
        self.progress(now, "SessionSetup")
        self.send_body(din.SessionSetupReqType(EVCCID=self.mac), "SessionSetup", now)

    def _req_ServiceDiscovery(self, now: float) -> None:
        self.send_body(din.ServiceDiscoveryReqType(ServiceCategory="EVCharging"),
                       "ServiceDiscovery", now)

    def _req_ServicePaymentSelection(self, now: float) -> None:
        self.send_body(din.ServicePaymentSelectionReqType(
            SelectedPaymentOption="ExternalPayment",
            SelectedServiceList=din.SelectedServiceListType(
                SelectedService=[din.SelectedServiceType(ServiceID=1)])),
            "ServicePaymentSelection", now)

    def _req_ContractAuthentication(self, now: float) -> None:
        self.progress(now, "Authorization")
        self.send_body(din.ContractAuthenticationReqType(), "ContractAuthentication", now)

    def _req_ChargeParameterDiscovery(self, now: float) -> None:
        c = self.cfg
        self.progress(now, "ChargeParameterDiscovery")
        self.send_body(din.ChargeParameterDiscoveryReqType(
            EVRequestedEnergyTransferType="DC_extended",
            EVChargeParameter=din.DC_EVChargeParameterType(
                DC_EVStatus=self.status(), EVMaximumCurrentLimit=pv(c.max_current, "A"),
                EVMaximumPowerLimit=pv(c.max_power, "W"),
                EVMaximumVoltageLimit=pv(c.max_voltage, "V"),
                EVEnergyCapacity=pv(c.capacity_wh, "Wh"),
                EVEnergyRequest=pv(self.ev.energy_request_wh(), "Wh"),
                FullSOC=100, BulkSOC=int(c.target_soc))),
            "ChargeParameterDiscovery", now)

    def _req_CableCheck(self, now: float) -> None:
        self.progress(now, "CableCheck")
        self.send_body(din.CableCheckReqType(DC_EVStatus=self.status()), "CableCheck", now)

    def _req_PreCharge(self, now: float) -> None:
        if self.precharge_started is None:
            self.precharge_started = now
            t = self.timing
            self.out.append(self.timers.set("precharge", now + t.s(t.pre_charge_evcc)))
        self.progress(now, "PreCharge")
        self.send_body(din.PreChargeReqType(DC_EVStatus=self.status(),
                                            EVTargetVoltage=pv(self.ev.ocv, "V"),
                                            EVTargetCurrent=pv(2.0, "A")), "PreCharge", now)

    def _req_PowerDelivery(self, now: float) -> None:
        start = self.stopping is None
        if start:
            self.stop_timer("ready_to_charge")   # the message timeout covers the answer
        self.progress(now, "PowerDelivery")
        self.send_body(din.PowerDeliveryReqType(
            ReadyToChargeState=start,
            EVPowerDeliveryParameter=din.DC_EVPowerDeliveryParameterType(
                DC_EVStatus=self.status(), BulkChargingComplete=False,
                ChargingComplete=not start)), "PowerDelivery", now)

    def _req_CurrentDemand(self, now: float) -> None:
        ev, c = self.ev, self.cfg
        self.send_body(din.CurrentDemandReqType(
            DC_EVStatus=self.status(), EVTargetCurrent=pv(ev.target_current(), "A"),
            EVMaximumVoltageLimit=pv(c.max_voltage, "V"),
            EVMaximumCurrentLimit=pv(c.max_current, "A"),
            EVMaximumPowerLimit=pv(c.max_power, "W"), BulkChargingComplete=False,
            ChargingComplete=ev.full, EVTargetVoltage=pv(ev.target_voltage(), "V")),
            "CurrentDemand", now)

    def _req_WeldingDetection(self, now: float) -> None:
        self.progress(now, "WeldingDetection")
        self.send_body(din.WeldingDetectionReqType(DC_EVStatus=self.status(False)),
                       "WeldingDetection", now)

    def _req_SessionStop(self, now: float) -> None:
        self.progress(now, "SessionStop")
        self.send_body(din.SessionStopType(), "SessionStop", now)

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

    def _on_ServiceDiscovery(self, body: din.ServiceDiscoveryResType, now: float) -> None:
        if "ExternalPayment" not in body.PaymentOptions.PaymentOption:
            self.end("the SECC offers no ExternalPayment", False, now)
            return
        self.request("ServicePaymentSelection", now)

    def _on_ServicePaymentSelection(self, body: Any, now: float) -> None:
        self.request("ContractAuthentication", now)

    def _on_ContractAuthentication(self, body: din.ContractAuthenticationResType,
                                   now: float) -> None:
        if body.EVSEProcessing != "Finished":
            if self.ongoing("Authorization", now, self.timing.ongoing_evcc):
                self.later("ContractAuthentication", self.cfg.poll_interval, now)
            return
        self.request("ChargeParameterDiscovery", now)

    def _on_ChargeParameterDiscovery(self, body: din.ChargeParameterDiscoveryResType,
                                     now: float) -> None:
        if body.EVSEProcessing != "Finished":
            if self.ongoing("ChargeParameterDiscovery", now, self.timing.ongoing_evcc):
                self.later("ChargeParameterDiscovery", self.cfg.poll_interval, now)
            return
        self.cp("C")
        t = self.timing
        self.out.append(self.timers.set("cable_check", now + t.s(t.cable_check_evcc)))
        self.request("CableCheck", now)

    def _on_CableCheck(self, body: din.CableCheckResType, now: float) -> None:
        self.after_cable_check(body.EVSEProcessing, "CableCheck", "PreCharge", now)

    def _on_PreCharge(self, body: din.PreChargeResType, now: float) -> None:
        self.after_precharge(fv(body.EVSEPresentVoltage), "PreCharge", now)

    def _on_PowerDelivery(self, body: Any, now: float) -> None:
        if self.stopping is None:
            self.progress(now, "ChargingLoop")
            self.request("CurrentDemand", now)
            return
        self.cp("B")
        if self.cfg.welding_detection:
            self.request("WeldingDetection", now)
        else:
            self.request("SessionStop", now)

    def _on_CurrentDemand(self, body: din.CurrentDemandResType, now: float) -> None:
        ev = self.ev
        ev.measure(fv(body.EVSEPresentVoltage), fv(body.EVSEPresentCurrent), now)
        self.progress(now, "ChargingLoop")
        c = self.cfg
        if body.DC_EVSEStatus.EVSENotification == "StopCharging" or \
                body.DC_EVSEStatus.EVSEStatusCode in ("EVSE_Shutdown", "EVSE_EmergencyShutdown",
                                                      "EVSE_Malfunction"):
            self.stopping = "terminate"
        elif c.unplug_at_soc is not None and ev.soc >= c.unplug_at_soc:
            self.out.extend(self.core.unplug(now))
            self.ended = True
            return
        elif ev.full:
            self.stopping = "target"
        if self.stopping is not None:
            ev.stop_flow(now)
            self.request("PowerDelivery", now)
        else:
            self.later("CurrentDemand", c.loop_interval, now)

    def _on_WeldingDetection(self, body: Any, now: float) -> None:
        self.request("SessionStop", now)

    def _on_SessionStop(self, body: Any, now: float) -> None:
        self.progress(now, "SessionStop")
        self.end(f"charging complete ({self.stopping})", True, now)

    def on_timer(self, name: str, now: float) -> None:
        reason = {
            "cable_check": "cable check not finished within the EV's cable-check time",
            "precharge": "pre-charge did not reach the battery voltage in time",
            "ready_to_charge": "no PowerDeliveryReq(Start) within V2G_EVCC_ReadyToCharge_Timeout "
                               f"({self.timing.s(self.timing.ready_to_charge_evcc):.0f} s)",
        }.get(name)
        if reason is None:
            return
        if self.cp_state != "B":
            self.cp("B")            # without delay, before the session ends
        self.end(reason, False, now)
