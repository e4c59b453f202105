"""ISO 15118-20 DC (and DC_BPT) from the EV's side, EIM, dynamic or scheduled control mode."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from josev.evcc.common.core import EvccCore, EvSession
from josev.exi.generated import iso20_AC as acm
from josev.exi.generated import iso20_CommonMessages as cm
from josev.exi.generated import iso20_DC as dc
from josev.secc.iso20.session import AC, COMMON, CONTROL_MODE, DC, SERVICE_IDS, f20, r20

log = logging.getLogger("josev.evcc")


def first_power(schedule: cm.ChargingScheduleType | None) -> float | None:
    """The first PowerScheduleEntry's power (W) of a schedule; None without one."""
    if schedule is None:
        return None
    entries = schedule.PowerSchedule.PowerScheduleEntries.PowerScheduleEntry
    return f20(entries[0].Power) if entries else None


def discharge_allowance_w(schedule: cm.ChargingScheduleType | None) -> float:
    """What a DischargingSchedule lets the EV give back (W, >= 0).

    -20 [V2G20-1035]: negative W is energy from the EV to the EVSE, and Table 114 NOTE 3: all
    power values in a DischargingSchedule are negative or zero. A positive value there is not a
    discharge allowance under that rule: it is logged and read as none (0 W)."""
    power = first_power(schedule)
    if power is None:
        return 0.0
    if power > 0:
        log.warning("EV: DischargingSchedule power %+.0f W is positive; -20 [V2G20-1035] has "
                    "discharge power negative: no discharge", power)
        return 0.0
    return -power


class Iso20EvSession(EvSession):
    protocol = "ISO20_DC"
    families: ClassVar[dict[int, str]] = {COMMON: "iso20_CommonMessages", DC: "iso20_DC",
                                          AC: "iso20_AC"}

    def __init__(self, core: EvccCore, now: float, protocol: str = "ISO20_DC") -> None:
        super().__init__(core, now)
        self.protocol = protocol
        self.is_ac = protocol == "ISO20_AC"
        kind = "AC" if self.is_ac else "DC"
        self.service = f"{kind}_BPT" if self.cfg.bpt else kind
        self.parameter_set: int | None = None
        self.stopping: str | None = None       # why the EV stops: target, terminate, pause
        self.precharge_started: float | None = None
        self.standby_until: float | None = None
        self.progress_kind = "Start"
        self.renegotiated = False    # a schedule renegotiation happened (power path up)
        # Scheduled mode: the chosen schedule's first entries (W); the EV keeps to them.
        self.schedule_w = float("inf")
        self.schedule_back_w = 0.0   # > 0: a DischargingSchedule asks for energy back (BPT)

    def hdr(self, now: float, mod: Any = cm) -> Any:
        sid = self.session_id if len(self.session_id) == 8 else b"\x00" * 8
        return mod.MessageHeaderType(SessionID=sid, TimeStamp=int(self.core.epoch + now))

    def begin(self, now: float) -> None:
        self.request("SessionSetup", now)

    # -- requests ------------------------------------------------------------------------------

    def request(self, name: str, now: float) -> None:
        getattr(self, "_req_" + name)(now)

    def _req_SessionSetup(self, now: float) -> None:
        self.progress(now, "SessionSetup")
        self.send(COMMON, cm.SessionSetupReqType(Header=self.hdr(now),
                                                 EVCCID=self.cfg.evcc_id), "SessionSetup", now)

    def _req_AuthorizationSetup(self, now: float) -> None:
        self.send(COMMON, cm.AuthorizationSetupReqType(Header=self.hdr(now)),
                  "AuthorizationSetup", now)

    def _req_Authorization(self, now: float) -> None:
        self.progress(now, "Authorization")
        self.send(COMMON, cm.AuthorizationReqType(
            Header=self.hdr(now), SelectedAuthorizationService="EIM",
            EIM_AReqAuthorizationMode=cm.EIM_AReqAuthorizationModeType()), "Authorization", now)

    def _req_ServiceDiscovery(self, now: float) -> None:
        self.send(COMMON, cm.ServiceDiscoveryReqType(Header=self.hdr(now)),
                  "ServiceDiscovery", now)

    def _req_ServiceDetail(self, now: float) -> None:
        self.send(COMMON, cm.ServiceDetailReqType(Header=self.hdr(now),
                                                  ServiceID=SERVICE_IDS[self.service]),
                  "ServiceDetail", now)

    def _req_ServiceSelection(self, now: float) -> None:
        assert self.parameter_set is not None
        self.send(COMMON, cm.ServiceSelectionReqType(
            Header=self.hdr(now), SelectedEnergyTransferService=cm.SelectedServiceType(
                ServiceID=SERVICE_IDS[self.service], ParameterSetID=self.parameter_set)),
            "ServiceSelection", now)

    def _limits(self) -> dict[str, Any]:
        c = self.cfg
        return dict(EVMaximumChargePower=r20(c.max_power), EVMinimumChargePower=r20(0),
                    EVMaximumChargeCurrent=r20(c.max_current), EVMinimumChargeCurrent=r20(0),
                    EVMaximumVoltage=r20(c.max_voltage), EVMinimumVoltage=r20(c.min_voltage),
                    TargetSOC=int(c.target_soc))

    def _req_DC_ChargeParameterDiscovery(self, now: float) -> None:
        self.progress(now, "ChargeParameterDiscovery")
        mode: Any
        if self.service == "DC_BPT":
            c = self.cfg
            mode = dc.BPT_DC_CPDReqEnergyTransferModeType(
                **self._limits(), EVMaximumDischargePower=r20(c.max_power),
                EVMinimumDischargePower=r20(0), EVMaximumDischargeCurrent=r20(c.max_current),
                EVMinimumDischargeCurrent=r20(0))
        else:
            mode = dc.DC_CPDReqEnergyTransferModeType(**self._limits())
        self.send(DC, dc.DC_ChargeParameterDiscoveryReqType(
            Header=self.hdr(now, dc), DC_CPDReqEnergyTransferMode=mode),
            "DC_ChargeParameterDiscovery", now)

    def _req_ScheduleExchange(self, now: float) -> None:
        req = cm.ScheduleExchangeReqType(Header=self.hdr(now), MaximumSupportingPoints=1024)
        ev = self.ev
        if self.cfg.control_mode == "dynamic":
            req.Dynamic_SEReqControlMode = cm.Dynamic_SEReqControlModeType(
                DepartureTime=3600, MinimumSOC=0, TargetSOC=int(self.cfg.target_soc),
                EVTargetEnergyRequest=r20(ev.energy_request_wh(), cm),
                EVMaximumEnergyRequest=r20(ev.max_energy_request_wh(), cm),
                EVMinimumEnergyRequest=r20(0, cm))
        else:
            req.Scheduled_SEReqControlMode = cm.Scheduled_SEReqControlModeType(
                EVTargetEnergyRequest=r20(ev.energy_request_wh(), cm))
        self.send(COMMON, req, "ScheduleExchange", now)

    def _req_DC_CableCheck(self, now: float) -> None:
        self.progress(now, "CableCheck")
        self.send(DC, dc.DC_CableCheckReqType(Header=self.hdr(now, dc)), "DC_CableCheck", now)

    def _req_DC_PreCharge(self, now: float) -> None:
        if self.precharge_started is None:
            self.precharge_started = now
            t = self.timing
            self.out.append(self.timers.set("precharge", now + t.s(t.pre_charge_evcc)))
        self.progress(now, "PreCharge")
        self.send(DC, dc.DC_PreChargeReqType(
            Header=self.hdr(now, dc), EVProcessing="Ongoing",
            EVPresentVoltage=r20(self.ev.ocv), EVTargetVoltage=r20(self.ev.ocv)),
            "DC_PreCharge", now)

    def _req_PowerDelivery(self, now: float) -> None:
        progress = "Start" if self.stopping is None else "Stop"
        if self.stopping is None and self.standby_until is not None and \
                now < self.standby_until:
            progress = "Standby"
        if self.stopping == "schedule":
            progress = "ScheduleRenegotiation"
        self.progress_kind = progress
        req = cm.PowerDeliveryReqType(Header=self.hdr(now), EVProcessing="Finished",
                                      ChargeProgress=progress)
        if progress != "ScheduleRenegotiation":
            # [V2G20-1546]: Start, Standby, Stop (and Pause) carry the EV's power profile
            # (scheduled: also the chosen schedule tuple); [V2G20-1414]: a renegotiation none.
            power = 0.0 if progress == "Stop" else self._profile_power()
            profile = cm.EVPowerProfileType(
                TimeAnchor=int(self.core.epoch + now),
                EVPowerProfileEntries=cm.EVPowerProfileEntryListType(EVPowerProfileEntry=[
                    cm.PowerScheduleEntryType(Duration=3600, Power=r20(power, cm))]))
            if self.cfg.control_mode == "scheduled":
                profile.Scheduled_EVPPTControlMode = cm.Scheduled_EVPPTControlModeType(
                    SelectedScheduleTupleID=1)
            else:
                profile.Dynamic_EVPPTControlMode = cm.Dynamic_EVPPTControlModeType()
            req.EVPowerProfile = profile
            if self.service.endswith("BPT"):   # what the EV plans, by the profile's sign
                req.BPT_ChannelSelection = "Discharge" if power < 0 else "Charge"
        self.progress(now, "PowerDelivery")
        self.send(COMMON, req, "PowerDelivery", now)

    def _profile_power(self) -> float:
        """The EVPowerProfile's power (W): the EV's maximum; in scheduled mode within the
        selected schedule ([V2G20-1559]: never beyond the PowerSchedule/DischargingSchedule, which
        an SECC may check) and negative while it follows a DischargingSchedule ([V2G20-1035];
        8.3.5.3.9 NOTE 2: profile powers are positive or negative)."""
        top = self._ac_power() if self.is_ac else self.cfg.max_power
        if self.cfg.control_mode != "scheduled":
            return top
        if self._follows_discharge() or self.ev.v2g:
            return -min(top, self.schedule_back_w)
        return max(min(top, self.schedule_w), 0.0)

    def _follows_discharge(self) -> bool:
        """A BPT EV in a schedule with no charging power and a DischargingSchedule gives energy
        back along it."""
        return self.service.endswith("BPT") and self.schedule_back_w > 0 and \
            self.schedule_w <= 0

    def _req_DC_ChargeLoop(self, now: float) -> None:
        ev, c = self.ev, self.cfg
        mode: Any
        discharge = dict(EVMaximumDischargePower=r20(c.max_power), EVMinimumDischargePower=r20(0),
                         EVMaximumDischargeCurrent=r20(c.max_current))
        if self.service == "DC_BPT" and c.control_mode == "dynamic":
            # The EVSE decides the power; a negative energy request asks it to take energy
            # back (V2G down to the target SoC).
            mode = dc.BPT_Dynamic_DC_CLReqControlModeType(
                EVTargetEnergyRequest=r20(ev.energy_request_wh()),
                EVMaximumEnergyRequest=r20(ev.max_energy_request_wh()),
                EVMinimumEnergyRequest=r20(ev.min_energy_request_wh()),
                EVMaximumChargePower=r20(c.max_power), EVMinimumChargePower=r20(0),
                EVMaximumChargeCurrent=r20(ev.max_charge_current()),
                EVMaximumVoltage=r20(c.max_voltage), EVMinimumVoltage=r20(c.min_voltage),
                **discharge)
        elif self.service == "DC_BPT":
            # Scheduled: the EV names its current, negative to discharge.
            amps = self._scheduled_current()
            mode = dc.BPT_Scheduled_DC_CLReqControlModeType(
                EVTargetCurrent=r20(amps),
                EVTargetVoltage=r20(self._volts_for(amps)), **discharge)
        elif c.control_mode == "dynamic":
            mode = dc.Dynamic_DC_CLReqControlModeType(
                EVTargetEnergyRequest=r20(ev.energy_request_wh()),
                EVMaximumEnergyRequest=r20(ev.max_energy_request_wh()),
                EVMinimumEnergyRequest=r20(0), EVMaximumChargePower=r20(c.max_power),
                EVMinimumChargePower=r20(0), EVMaximumChargeCurrent=r20(ev.max_charge_current()),
                EVMaximumVoltage=r20(c.max_voltage), EVMinimumVoltage=r20(c.min_voltage))
        else:
            amps = self._scheduled_current()
            mode = dc.Scheduled_DC_CLReqControlModeType(
                EVTargetCurrent=r20(amps), EVTargetVoltage=r20(self._volts_for(amps)))
        req = dc.DC_ChargeLoopReqType(
            Header=self.hdr(now, dc), MeterInfoRequested=False,
            EVPresentVoltage=r20(ev.ocv), CLReqControlMode=mode,
            DisplayParameters=dc.DisplayParametersType(PresentSOC=int(ev.soc),
                                                       TargetSOC=int(c.target_soc),
                                                       ChargingComplete=ev.full))
        self.send(DC, req, "DC_ChargeLoop", now)

    def _scheduled_current(self) -> float:
        """Scheduled mode: the EV's own wish within the schedule's power; a DischargingSchedule
        with no charging power asks a cooperating BPT EV for energy back along it."""
        ev, c = self.ev, self.cfg
        volts = max(ev.ocv, 1.0)
        if self._follows_discharge():
            return -min(c.max_current, c.max_power / volts, self.schedule_back_w / volts)
        amps = ev.target_current()
        if amps > 0:
            amps = min(amps, max(self.schedule_w, 0.0) / volts)
        elif amps < 0:   # V2G: within the DischargingSchedule, none without one ([V2G20-1547])
            amps = max(amps, -self.schedule_back_w / volts)
        return amps

    def _volts_for(self, amps: float) -> float:
        c = self.cfg
        return max(c.min_voltage, min(c.max_voltage, self.ev.ocv + amps * c.resistance))

    def _req_DC_WeldingDetection(self, now: float) -> None:
        self.progress(now, "WeldingDetection")
        self.send(DC, dc.DC_WeldingDetectionReqType(Header=self.hdr(now, dc),
                                                    EVProcessing="Finished"),
                  "DC_WeldingDetection", now)

    def _req_SessionStop(self, now: float) -> None:
        what = {"pause": "Pause", "renegotiate": "ServiceRenegotiation"}.get(
            self.stopping or "", "Terminate")
        self.progress(now, "SessionStop")
        self.send(COMMON, cm.SessionStopReqType(Header=self.hdr(now), ChargingSession=what),
                  "SessionStop", now)

    # -- responses -----------------------------------------------------------------------------

    def on_response(self, root: str, msg: Any, now: float) -> None:
        expected = (self.pending or "") + "Res"
        if root != expected:
            self.end(f"{root} while waiting for {expected}", False, now)
            return
        code = msg.ResponseCode
        if code.startswith("FAILED") or code.startswith("WARNING"):
            self.end(f"{root}: {code}", False, now)
            return
        getattr(self, "_on_" + root[:-3])(msg, now)

    def _on_SessionSetup(self, msg: cm.SessionSetupResType, now: float) -> None:
        self.session_id = msg.Header.SessionID
        self.request("AuthorizationSetup", now)

    def _on_AuthorizationSetup(self, msg: cm.AuthorizationSetupResType, now: float) -> None:
        if "EIM" not in msg.AuthorizationServices:
            self.end("the SECC offers no EIM", False, now)
            return
        self.request("Authorization", now)

    def _on_Authorization(self, msg: cm.AuthorizationResType, now: float) -> None:
        if msg.EVSEProcessing != "Finished":
            if self.ongoing("Authorization", now, self.timing.ongoing_evcc):
                self.later("Authorization", self.cfg.poll_interval, now)
            return
        self.request("ServiceDiscovery", now)

    def _on_ServiceDiscovery(self, msg: cm.ServiceDiscoveryResType, now: float) -> None:
        ids = {s.ServiceID for s in msg.EnergyTransferServiceList.Service}
        if SERVICE_IDS[self.service] not in ids:
            self.end(f"the SECC does not offer {self.service}", False, now)
            return
        self.request("ServiceDetail", now)

    def _on_ServiceDetail(self, msg: cm.ServiceDetailResType, now: float) -> None:
        want = CONTROL_MODE[self.cfg.control_mode]
        for ps in msg.ServiceParameterList.ParameterSet:
            if any(p.Name == "ControlMode" and p.intValue == want for p in ps.Parameter):
                self.parameter_set = ps.ParameterSetID
                break
        if self.parameter_set is None:
            self.end(f"no parameter set with control mode {self.cfg.control_mode}", False, now)
            return
        self.request("ServiceSelection", now)

    def _on_ServiceSelection(self, msg: cm.ServiceSelectionResType, now: float) -> None:
        self.request("AC_ChargeParameterDiscovery" if self.is_ac
                     else "DC_ChargeParameterDiscovery", now)

    # -- AC ------------------------------------------------------------------------------------

    def _ac_power(self) -> float:
        c = self.cfg
        return c.ac_max_current * c.ac_voltage * c.ac_phases

    def _req_AC_ChargeParameterDiscovery(self, now: float) -> None:
        self.progress(now, "ChargeParameterDiscovery")
        mode: Any
        common = dict(EVMaximumChargePower=r20(self._ac_power(), acm),
                      EVMinimumChargePower=r20(0, acm))
        if self.service == "AC_BPT":
            mode = acm.BPT_AC_CPDReqEnergyTransferModeType(
                **common, EVMaximumDischargePower=r20(self._ac_power(), acm),
                EVMinimumDischargePower=r20(0, acm))
        else:
            mode = acm.AC_CPDReqEnergyTransferModeType(**common)
        self.send(AC, acm.AC_ChargeParameterDiscoveryReqType(
            Header=self.hdr(now, acm), AC_CPDReqEnergyTransferMode=mode),
            "AC_ChargeParameterDiscovery", now)

    def _on_AC_ChargeParameterDiscovery(self, msg: Any, now: float) -> None:
        self.request("ScheduleExchange", now)

    def _req_AC_ChargeLoop(self, now: float) -> None:
        ev = self.ev
        present = r20(ev.voltage * ev.current, acm)
        mode: Any
        power = r20(self._ac_power(), acm)
        if self.service == "AC_BPT" and self.cfg.control_mode == "dynamic":
            # A negative energy request asks the EVSE to take energy back (V2G).
            mode = acm.BPT_Dynamic_AC_CLReqControlModeType(
                EVTargetEnergyRequest=r20(ev.energy_request_wh(), acm),
                EVMaximumEnergyRequest=r20(ev.max_energy_request_wh(), acm),
                EVMinimumEnergyRequest=r20(ev.min_energy_request_wh(), acm),
                EVMaximumChargePower=power, EVMinimumChargePower=r20(0, acm),
                EVPresentActivePower=present, EVPresentReactivePower=r20(0, acm),
                EVMaximumDischargePower=power, EVMinimumDischargePower=r20(0, acm))
        elif self.service == "AC_BPT":
            # Following a DischargingSchedule (no charging power in it): this EV offers the
            # energy above its minimum SoC.
            back = self._follows_discharge()
            mode = acm.BPT_Scheduled_AC_CLReqControlModeType(
                EVPresentActivePower=present,
                EVTargetEnergyRequest=r20(ev.min_energy_request_wh() if back
                                          else ev.energy_request_wh(), acm),
                EVMaximumChargePower=power, EVMaximumDischargePower=power,
                EVMinimumDischargePower=r20(0, acm))
        elif self.cfg.control_mode == "dynamic":
            mode = acm.Dynamic_AC_CLReqControlModeType(
                EVTargetEnergyRequest=r20(ev.energy_request_wh(), acm),
                EVMaximumEnergyRequest=r20(ev.max_energy_request_wh(), acm),
                EVMinimumEnergyRequest=r20(0, acm),
                EVMaximumChargePower=r20(self._ac_power(), acm),
                EVMinimumChargePower=r20(0, acm), EVPresentActivePower=present,
                EVPresentReactivePower=r20(0, acm))
        else:
            mode = acm.Scheduled_AC_CLReqControlModeType(
                EVMaximumChargePower=r20(self._ac_power(), acm), EVPresentActivePower=present)
        self.send(AC, acm.AC_ChargeLoopReqType(
            Header=self.hdr(now, acm), MeterInfoRequested=False, CLReqControlMode=mode,
            DisplayParameters=acm.DisplayParametersType(PresentSOC=int(ev.soc),
                                                        TargetSOC=int(self.cfg.target_soc),
                                                        ChargingComplete=ev.full)),
            "AC_ChargeLoop", now)

    def _on_AC_ChargeLoop(self, msg: acm.AC_ChargeLoopResType, now: float) -> None:
        c = self.cfg
        target = msg.CLResControlMode.EVSETargetActivePower   # type: ignore[union-attr]
        watts = min(f20(target) if target is not None else self._ac_power(), self._ac_power(),
                    self.schedule_w)
        back = self.schedule_back_w if self.cfg.control_mode == "scheduled" else self._ac_power()
        # AC_BPT: negative, the EV feeds back (scheduled: within its DischargingSchedule).
        watts = max(watts, -min(self._ac_power(), back))
        volts = c.ac_voltage * c.ac_phases
        self.ev.measure(volts, watts / volts, now)
        self.progress(now, "ChargingLoop")
        note = msg.EVSEStatus.EVSENotification if msg.EVSEStatus is not None else None
        self._loop_decision(note == "Terminate", now, "AC_ChargeLoop",
                            note == "ScheduleRenegotiation")

    def _on_DC_ChargeParameterDiscovery(self, msg: Any, now: float) -> None:
        mode = msg.DC_CPDResEnergyTransferMode
        vmax = f20(mode.EVSEMaximumVoltage)
        if vmax < self.ev.ocv:
            self.end(f"the station's maximum voltage {vmax:.1f} V is below the battery "
                     f"voltage {self.ev.ocv:.1f} V", False, now)
            return
        self.request("ScheduleExchange", now)

    def _on_ScheduleExchange(self, msg: cm.ScheduleExchangeResType, now: float) -> None:
        if msg.EVSEProcessing != "Finished":
            if self.ongoing("ScheduleExchange", now, self.timing.ongoing_evcc):
                self.later("ScheduleExchange", self.cfg.poll_interval, now)
            return
        sched = msg.Scheduled_SEResControlMode
        if sched is not None and sched.ScheduleTuple:
            chosen = sched.ScheduleTuple[0]
            charge = first_power(chosen.ChargingSchedule)
            self.schedule_w = float("inf") if charge is None else charge
            self.schedule_back_w = discharge_allowance_w(chosen.DischargingSchedule)
        if self.is_ac or (self.renegotiated and self.precharge_started is not None):
            self.request("PowerDelivery", now)
            if self.is_ac:
                self.cp("C")   # AC: C within 250 ms of PowerDeliveryReq(Start)
            return
        self.cp("C")
        t = self.timing
        self.out.append(self.timers.set("cable_check", now + t.s(t.cable_check_evcc)))
        self.request("DC_CableCheck", now)

    def _on_DC_CableCheck(self, msg: dc.DC_CableCheckResType, now: float) -> None:
        self.after_cable_check(msg.EVSEProcessing, "DC_CableCheck", "DC_PreCharge", now)

    def _on_DC_PreCharge(self, msg: dc.DC_PreChargeResType, now: float) -> None:
        self.after_precharge(f20(msg.EVSEPresentVoltage), "DC_PreCharge", now)

    def _on_PowerDelivery(self, msg: cm.PowerDeliveryResType, now: float) -> None:
        if self.progress_kind == "ScheduleRenegotiation":
            self.stopping = None
            self.request("ScheduleExchange", now)
            return
        if self.progress_kind == "Standby":
            self.progress(now, "Standby")
            loop = "AC_ChargeLoop" if self.is_ac else "DC_ChargeLoop"
            self.later(loop, self.cfg.loop_interval, now)
            return
        if self.stopping is None:
            self.progress(now, "ChargingLoop")
            self.request("AC_ChargeLoop" if self.is_ac else "DC_ChargeLoop", now)
            return
        self.cp("B")
        if self.cfg.welding_detection and not self.is_ac:
            self.request("DC_WeldingDetection", now)
        else:
            self.request("SessionStop", now)

    def _on_DC_ChargeLoop(self, msg: dc.DC_ChargeLoopResType, now: float) -> None:
        ev = self.ev
        ev.measure(f20(msg.EVSEPresentVoltage), f20(msg.EVSEPresentCurrent), now)
        self.progress(now, "ChargingLoop")
        note = msg.EVSEStatus.EVSENotification if msg.EVSEStatus is not None else None
        self._loop_decision(note == "Terminate", now, "DC_ChargeLoop",
                            note == "ScheduleRenegotiation")

    def _loop_decision(self, terminate: bool, now: float, loop: str,
                       renegotiate: bool = False) -> None:
        ev, c = self.ev, self.cfg
        if renegotiate and not terminate and self.standby_until is None:
            # EVSENotification ScheduleRenegotiation: a new schedule (the station's limit
            # changed); power keeps flowing meanwhile.
            self.stopping = "schedule"
            self.renegotiated = True
            self.request("PowerDelivery", now)
            return
        if self.standby_until is not None:
            if now >= self.standby_until:       # standby over: ask for power again
                self.standby_until = None
                self.request("PowerDelivery", now)
            else:
                self.later(loop, c.loop_interval, now)
            return
        if terminate:
            self.stopping = "terminate"
        elif c.standby_at_soc is not None and ev.soc >= c.standby_at_soc and \
                not ev.standby_done:
            ev.standby_done = True
            ev.stop_flow(now)
            self.standby_until = now + c.standby_for
            self.request("PowerDelivery", now)
            return
        elif c.renegotiate_at_soc is not None and ev.soc >= c.renegotiate_at_soc and \
                not ev.renegotiated:
            ev.renegotiated = True
            self.stopping = "renegotiate"
        elif c.schedule_renegotiate_at_soc is not None and \
                ev.soc >= c.schedule_renegotiate_at_soc and not ev.schedule_renegotiated:
            ev.schedule_renegotiated = True
            self.renegotiated = True
            self.stopping = "schedule"
        elif c.unplug_at_soc is not None and ev.soc >= c.unplug_at_soc:
            self.out.extend(self.core.unplug(now))
            self.ended = True
            return
        elif c.pause_at_soc is not None and ev.soc >= c.pause_at_soc and not ev.paused_once:
            ev.paused_once = True
            self.stopping = "pause"
        elif ev.full:
            self.stopping = "target"
        if self.stopping is not None:
            ev.stop_flow(now)
            self.request("PowerDelivery", now)
        else:
            self.later(loop, c.loop_interval, now)

    def _on_DC_WeldingDetection(self, msg: dc.DC_WeldingDetectionResType, now: float) -> None:
        self.request("SessionStop", now)

    def _on_SessionStop(self, msg: cm.SessionStopResType, now: float) -> None:
        if self.stopping == "renegotiate":   # the session goes on: a new service selection
            self.stopping = None
            self.parameter_set = None
            self.precharge_started = None
            self.matched_since = None
            self.request("ServiceDiscovery", now)
            return
        self.progress(now, "SessionStop")
        pause = self.stopping == "pause"
        self.end("paused" if pause else f"charging complete ({self.stopping})", True, now,
                 paused=pause)

    def on_timer(self, name: str, now: float) -> None:
        if name == "cable_check":
            self.end("cable check not finished within the EV's cable-check time", False, now)
        elif name == "precharge":
            self.end("pre-charge did not reach the battery voltage in time", False, now)
