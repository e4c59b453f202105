"""One EVSE's controller: API requests in, device commands out, through the safety supervisor.

Sans-I/O in the house style: every method takes `now`; `step(now)` samples the devices (whose
backends never block), asks the supervisor what may be done, drives the devices and returns the
API updates that are due (`Outgoing`). The asyncio service (service.py) calls `step` every few
milliseconds and publishes what it returns without ever making the control loop wait.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from dataclasses import dataclass
from typing import Any, Literal

from josev.api import models
from josev_hal.config import EvseConfig, HalConfig
from josev_hal.contactor.base import (
    ConnectorLock,
    ContactorBank,
    ContactorMonitor,
    ContactorStatus,
)
from josev_hal.cp.base import ControlPilot, CpMode
from josev_hal.cp.iec61851 import CpLetter, Debouncer, api_state, cable_rating, classify
from josev_hal.cp.iec61851 import duty_for_current as duty_for
from josev_hal.isolation.base import IsolationLevel, IsolationMonitor
from josev_hal.meter.base import EnergyMeter
from josev_hal.power.base import DcSupply, SupplyMeasurement
from josev_hal.supervisor import Command, Demand, Inputs, Limits, SafetySupervisor, TripReason

log = logging.getLogger(__name__)

_event_ids = itertools.count(1)


@dataclass
class EvseDevices:
    cp: ControlPilot
    contactors: ContactorBank
    meter: EnergyMeter
    isolation: IsolationMonitor | None = None
    supply: DcSupply | None = None
    lock: ConnectorLock | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An API update the controller wants published (name as in josev-api.md)."""

    name: str
    model: models.ApiModel


@dataclass
class _Setpoint:
    voltage: float
    current: float
    precharge: bool


@dataclass
class _CableCheck:
    started_at: float
    imd_started: bool = False
    level: IsolationLevel | None = None  # set when finished


@dataclass
class EvseState:
    """What the brain asked for, kept until a new request, a session end or a trip clears it."""

    cp_mode: CpMode = CpMode.STEADY
    duty: float = 100.0
    hlc: bool = False
    operative: bool = True
    pending_inoperative: bool = False
    setpoint: _Setpoint | None = None
    cable_check: _CableCheck | None = None
    isolation: IsolationLevel | None = None
    ac_current_limit: float | None = None
    session_status: str = "Idle"
    slac: str | None = None
    lock_requested: bool = False
    stop_requested: bool = False



def _now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EvseController:
    def __init__(
        self, cfg: EvseConfig, hal: HalConfig, devices: EvseDevices, now: float
    ) -> None:
        self.cfg = cfg
        self.hal = hal
        self.dev = devices
        self.evse_id = cfg.evse_id
        self.connector = cfg.connectors[0]
        self.dc = cfg.kind == "dc"
        p, ac, sup = cfg.power, cfg.ac, hal.supervisor
        config_max = cfg.max_current if cfg.max_current is not None else float("inf")
        # BPT (discharge) only where it is configured and the supply can sink current.
        self.bpt = self.dc and p.max_discharge_current > 0 and p.max_discharge_power > 0
        if self.bpt and (devices.supply is None or not devices.supply.bidirectional):
            log.warning("evse %d: discharge limits configured but the %s supply is not "
                        "bidirectional: no BPT", cfg.evse_id, hal.backend_of(p.backend))
            self.bpt = False
        # AC BPT: the EV's own inverter feeds back; the station permits it up to this per phase.
        ac_back = ac.max_discharge_current if not self.dc else 0.0
        if ac_back > 0:
            self.bpt = True
        if self.dc:
            back_i, back_p = ((p.max_discharge_current, p.max_discharge_power) if self.bpt
                              else (0.0, 0.0))
        else:
            back_i, back_p = ac_back, ac_back * ac.nominal_voltage * ac.phases
        self.limits = Limits(
            dc=self.dc,
            config_max_current=config_max if self.dc else min(config_max, ac.max_current),
            supply_max_current=p.max_current if self.dc else ac.max_current,
            supply_max_voltage=p.max_voltage if self.dc else ac.nominal_voltage,
            max_power=p.max_power if self.dc else ac.nominal_voltage * ac.phases * ac.max_current,
            precharge_max_current=p.precharge_max_current,
            cable_check_voltage=min(sup.cable_check_voltage, p.max_voltage),
            brain_timeout_s=sup.brain_timeout_s,
            ramp_down_max_s=sup.ramp_down_max_s,
            safe_current_a=sup.safe_current_a,
            trip_hold_s=sup.trip_hold_s,
            max_discharge_current=back_i,
            max_discharge_power=back_p,
        )
        self.supervisor = SafetySupervisor(self.limits, now)
        self.monitor = ContactorMonitor(
            cfg.contactor.close_timeout_s, cfg.contactor.open_timeout_s
        )
        self.debouncer = Debouncer(cfg.cp.debounce_s)
        self.state = EvseState()
        self.cp_letter: CpLetter | None = None
        self.cp_levels: tuple[float, float | None] = (0.0, None)
        self.pp_ohm: float | None = None
        self.supply = SupplyMeasurement(0.0, 0.0)
        self.contactor_status = ContactorStatus.OPENED
        self.estop = False
        self.rcd = False
        self.sensor_fault: str | None = None
        self.isolation_fault = False
        self._imd_monitoring = False
        self.locked = False  # what the lock's switch (or, without one, its command) says
        self._lock_cmd: bool | None = None
        self.last_cmd: Command | None = None
        self._applied_cp: tuple[CpMode, float] | None = None
        self._applied_supply: tuple[bool, float, float] | None = None
        self._sent: dict[str, Any] = {}
        self._last_limits_push = -1e9
        self._tripped_seen: TripReason | None = None
        self._faults_seen: tuple[str, ...] = ()
        self.stopping = False  # the service is stopping: power down through the supervisor
        devices.cp.set_output(CpMode.STEADY, 100.0)
        devices.contactors.command(False)

    # -- derived values --------------------------------------------------------------------------

    def cable_max_current(self) -> float:
        """A socket reads the cable's PP resistor; a captive cable has its configured rating."""
        if self.connector.connector_type.startswith("s"):
            return cable_rating(self.pp_ohm, single_phase=self.cfg.ac.phases == 1)
        return self.connector.cable_max_current

    def allowed_current(self, voltage: float | None = None) -> float:
        return self.supervisor.max_current(self._inputs(), voltage)

    @property
    def power_path_closed(self) -> bool:
        return self.monitor.commanded or self.contactor_status is not ContactorStatus.OPENED

    def available(self) -> bool:
        """False while the station itself keeps the EVSE out of service (not Josev's doing)."""
        return not self.estop and self.supervisor.tripped is not TripReason.CONTACTOR_WELDED

    def status_code(self) -> models.StatusCode:
        if self.estop:
            return "evse_emergency_shutdown"
        tripped = self.supervisor.tripped
        if tripped is not None and tripped is not TripReason.CP_LOST:
            return "evse_malfunction"
        if self.supply.faults or self.contactor_status is ContactorStatus.ERROR or (
            self.sensor_fault is not None
        ):
            return "evse_malfunction"
        if not self.state.operative:
            return "evse_shutdown"
        if self.state.cable_check is not None and self.state.cable_check.level is None:
            return "evse_isolation_monitoring_active"
        return "evse_ready"

    # -- the control step ------------------------------------------------------------------------

    def _inputs(self) -> Inputs:
        return Inputs(
            cp=self.cp_letter,
            estop=self.estop,
            current=self.supply.current if self.dc else 0.0,
            contactor=self.contactor_status,
            welded=self.monitor.welded,
            isolation_ok=self.state.isolation in ("valid", "warning"),
            rcd=self.rcd,
            cable_max_current=self.cable_max_current(),
            hlc=self.state.hlc,
            supply_fault=bool(self.supply.faults),
            sensor_fault=self.sensor_fault is not None,
            lock_ok=self.dev.lock is None or self.locked,
            isolation_fault=self.isolation_fault,
        )

    def step(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        dev = self.dev
        # 1. Sample inputs. A sensor that cannot be read is a fault the supervisor acts on:
        # the outputs below still run, so the path is made safe rather than left as it was.
        try:
            self._sample(now)
            self.sensor_fault = None
        except Exception as exc:
            if self.sensor_fault is None:
                log.error("evse %d: input failed: %s: %s", self.evse_id, type(exc).__name__, exc)
            self.sensor_fault = f"{type(exc).__name__}: {exc}"
        # 2. Ask the supervisor.
        cmd = self.supervisor.step(self._inputs(), self._demand(), now)
        self.last_cmd = cmd
        if cmd.tripped is not None and self._tripped_seen is None:
            self._on_trip(cmd.tripped, now, out)
        self._tripped_seen = cmd.tripped
        # 3. Drive the devices (only on change: the hardware keeps its state).
        if (cmd.cp_mode, cmd.duty) != self._applied_cp:
            dev.cp.set_output(cmd.cp_mode, cmd.duty)
            self._applied_cp = (cmd.cp_mode, cmd.duty)
        if self.monitor.command(cmd.close, now):
            dev.contactors.command(cmd.close)
            log.info("evse %d: contactors %s", self.evse_id, "close" if cmd.close else "open")
        if dev.supply is not None:
            target = (cmd.supply_on, cmd.voltage, cmd.current)
            if target != self._applied_supply:
                dev.supply.set_output(cmd.supply_on, cmd.voltage, cmd.current, now)
                self._applied_supply = target
        if dev.lock is not None:
            # Locked while the brain asked for it or the pilot offers charging; released only
            # with the power path open.
            want = self.state.lock_requested or cmd.cp_mode is CpMode.PWM
            if not want and self.power_path_closed:
                want = True
            if want != self._lock_cmd:
                dev.lock.command(want)
                self._lock_cmd = want
        if self.state.pending_inoperative and not self.power_path_closed:
            self.state.pending_inoperative = False
            self.state.operative = False
        # 4. Updates that are due.
        self._collect_updates(now, out)
        return out

    def _sample(self, now: float) -> None:
        dev = self.dev
        reading = dev.cp.read(now)
        pwm_on = self._applied_cp is not None and self._applied_cp[0] is CpMode.PWM
        letter = classify(reading.high_v, reading.low_v, pwm_on)
        self.cp_levels = (reading.high_v, reading.low_v)
        self.pp_ohm = reading.pp_ohm
        changed = self.debouncer.update(letter, now)
        if changed is not None:
            self._on_cp_change(self.cp_letter, changed, now)
            self.cp_letter = changed
        self.estop = dev.contactors.estop_pressed(now)
        self.rcd = dev.contactors.rcd_tripped(now)
        self.contactor_status = self.monitor.status(dev.contactors.feedback(now), now)
        if dev.lock is not None:
            switch = dev.lock.feedback(now)
            self.locked = bool(self._lock_cmd) if switch is None else switch
        if dev.supply is not None:
            dev.supply.poll(now)
            self.supply = dev.supply.measure(now)
        self._poll_cable_check(now)
        self._poll_isolation(now)

    def _demand(self) -> Demand:
        s = self.state
        if self.stopping:
            return Demand(False, "power", False, 0.0, 0.0, CpMode.STATE_F, 0.0)
        cp_mode, duty = s.cp_mode, s.duty
        if not s.operative:
            cp_mode, duty = CpMode.STATE_F, 0.0
        if self.dc:
            cc = s.cable_check
            if cc is not None and cc.level is None:
                volts = self.limits.cable_check_voltage
                return Demand(True, "cable_check", True, volts, self.limits.precharge_max_current,
                              cp_mode, duty)
            sp = s.setpoint
            if sp is not None and not s.stop_requested:
                on = sp.voltage > 0.0
                return Demand(True, "power", on, sp.voltage, sp.current, cp_mode, duty)
            keep = cc is not None and cc.level in ("valid", "warning") and not s.stop_requested
            return Demand(keep, "power", False, 0.0, 0.0, cp_mode, duty)
        close = (
            cp_mode is CpMode.PWM
            and not s.stop_requested
            and s.operative
            and (s.hlc or (s.ac_current_limit is None or s.ac_current_limit > 0))
        )
        return Demand(close, "power", False, 0.0, 0.0, cp_mode, duty)

    def _on_cp_change(self, old: CpLetter | None, new: CpLetter, now: float) -> None:
        log.info("evse %d: CP %s -> %s", self.evse_id, old.value if old else "-", new.value)
        if new in (CpLetter.A, CpLetter.E, CpLetter.INVALID):
            self._end_session("cp " + new.value)
        if new is CpLetter.A:
            self.state.stop_requested = False

    def _end_session(self, why: str) -> None:
        s = self.state
        if s.setpoint or s.cable_check or s.isolation:
            log.info("evse %d: session power path reset (%s)", self.evse_id, why)
        s.setpoint = None
        s.cable_check = None
        s.isolation = None
        s.ac_current_limit = None
        self._imd_monitoring = False
        self.isolation_fault = False
        if self.dev.isolation is not None:
            self.dev.isolation.stop(0.0)

    def _on_trip(self, reason: TripReason, now: float, out: list[Outgoing]) -> None:
        log.warning("evse %d: safety trip %s: supply off, contactors open, CP F",
                    self.evse_id, reason.value)
        self._end_session("trip " + reason.value)
        s = self.state
        s.cp_mode, s.duty, s.hlc = CpMode.STEADY, 100.0, False
        out.append(self._event("SafetyTrip", f"{reason.value}: power path shut down"))

    def _poll_cable_check(self, now: float) -> None:
        cc = self.state.cable_check
        imd = self.dev.isolation
        if cc is None or cc.level is not None:
            return
        if imd is None:
            cc.level = "no_imd"
            return
        if not cc.imd_started:
            # Measure once the contactors are closed and the test voltage is on the cable.
            target = self.limits.cable_check_voltage
            if self.contactor_status is ContactorStatus.CLOSED and self.supply.voltage >= (
                0.9 * target
            ):
                imd.start(target, now)
                cc.imd_started = True
            elif now - cc.started_at > 30.0:  # under the 38 s CableCheck performance time
                cc.level = "invalid"
                log.warning("evse %d: cable check: test voltage never reached", self.evse_id)
            return
        result = imd.poll(now)
        if result.ongoing:
            return
        cc.level = result.level
        self.state.isolation = result.level
        log.info("evse %d: cable check finished: %s (%s Ohm)", self.evse_id, result.level,
                 result.resistance_ohm)
        if result.level in ("valid", "warning"):
            self._imd_monitoring = True  # IEC 61851-23: the IMD keeps watching while charging
        else:
            imd.stop(now)

    def _poll_isolation(self, now: float) -> None:
        """Continuous monitoring after a passed cable check: a fault trips, a warning is kept."""
        imd = self.dev.isolation
        cc = self.state.cable_check
        if imd is None or not self._imd_monitoring or (cc is not None and cc.level is None):
            return
        result = imd.poll(now)
        if result.ongoing or result.level in ("invalid", "no_imd"):
            return  # no test voltage on the cable at the moment: nothing measured
        if result.level == "fault" and not self.isolation_fault:
            log.error("evse %d: isolation fault while charging (%s Ohm)", self.evse_id,
                      result.resistance_ohm)
            self.isolation_fault = True
            self.state.isolation = "fault"
        elif result.level == "warning" and self.state.isolation == "valid":
            log.warning("evse %d: isolation warning (%s Ohm)", self.evse_id,
                        result.resistance_ohm)
            self.state.isolation = "warning"

    # -- updates -----------------------------------------------------------------------------

    def _event(self, code: str, info: str) -> Outgoing:
        return Outgoing(
            "notify_event",
            models.NotifyEventUpdate(
                event_id=next(_event_ids) % (2**31 - 1),
                timestamp=_now_utc(),
                tech_code=code[:50],
                tech_info=info[:500],
                evse_id=self.evse_id,
            ),
        )

    def cp_status(self) -> models.CpStatusUpdate:
        letter = self.cp_letter or CpLetter.INVALID
        mode, duty = self._applied_cp or (CpMode.STEADY, 100.0)
        pwm = mode is CpMode.PWM and 0.0 < duty < 100.0
        high, low = self.cp_levels
        return models.CpStatusUpdate(
            evse_id=self.evse_id,
            connector_id=self.connector.id,
            state=api_state(letter, pwm),
            max_voltage=max(-15.0, min(15.0, high)),
            min_voltage=None if low is None else max(-15.0, min(15.0, low)),
            duty_cycle=duty if pwm else (100.0 if mode is CpMode.STEADY else 0.0),
        )

    def contactor_update(self) -> models.CsContactorStatusUpdate:
        info = None
        if self.monitor.welded:
            info = "contactor welded: feedback stays closed after opening"
        elif self.monitor.failed_to_close:
            info = "contactor did not close: no feedback"
        return models.CsContactorStatusUpdate(
            evse_id=self.evse_id, status=self.contactor_status.value, info=info
        )

    def status_and_limits(self) -> models.EvseStatusAndLimits:
        code = self.status_code()
        if self.dc:
            p = self.cfg.power
            volts = max(self.supply.voltage, 0.0)
            dc = models.DcLimits(
                present_voltage=round(volts, 1),
                present_current=round(self.supply.current, 1),  # negative: discharging
                max_current=round(self.allowed_current(), 1),
                min_current=p.min_current,
                max_voltage=p.max_voltage,
                min_voltage=p.min_voltage,
                max_power=p.max_power,
                current_reg_tolerance=p.current_reg_tolerance,
                peak_current_ripple=p.peak_current_ripple,
                isolation_status=self.state.isolation,
            )
            bpt = None
            if self.bpt:
                bpt = models.DcBptLimits(
                    evse_max_discharge_power=p.max_discharge_power,
                    evse_min_discharge_power=p.min_discharge_power,
                    evse_max_discharge_current=round(
                        self.supervisor.max_discharge_current(self._inputs()), 1),
                    evse_min_discharge_current=p.min_discharge_current,
                )
            return models.EvseStatusAndLimits(evse_id=self.evse_id, status_code=code, dc=dc,
                                              dc_bpt=bpt)
        cap = round(self.allowed_current(), 1)
        phases = self.cfg.ac.phases
        ac = models.AcLimits(
            max_current=models.PhaseValues(
                l1=cap, l2=cap if phases > 1 else 0.0, l3=cap if phases > 2 else 0.0
            ),
            nominal_voltage=self.cfg.ac.nominal_voltage,
            rcd_error=self.rcd,
        )
        ac_bpt = None
        if self.bpt:
            w = round(self.supervisor.max_discharge_current(self._inputs())
                      * self.cfg.ac.nominal_voltage, 1)
            ac_bpt = models.AcBptLimits(
                evse_max_discharge_power=models.PhaseValues(
                    l1=w, l2=w if phases > 1 else 0.0, l3=w if phases > 2 else 0.0),
                evse_min_discharge_power=models.PhaseValues(l1=0.0, l2=0.0, l3=0.0))
        return models.EvseStatusAndLimits(evse_id=self.evse_id, status_code=code, ac=ac,
                                          ac_bpt=ac_bpt)

    def _collect_updates(self, now: float, out: list[Outgoing]) -> None:
        cp = self.cp_status()
        cp_key = (cp.state, cp.duty_cycle)
        if self.cp_letter is not None and self._sent.get("cp") != cp_key:
            self._sent["cp"] = cp_key
            out.append(Outgoing("cp_status", cp))
        cont = self.contactor_update()
        if self._sent.get("contactor") != (cont.status, cont.info):
            if "contactor" in self._sent or cont.status != "opened":
                out.append(Outgoing("cs_contactor_status", cont))
            self._sent["contactor"] = (cont.status, cont.info)
        if self.estop != self._sent.get("estop", False):
            self._sent["estop"] = self.estop
            out.append(self._event("EmergencyStop", "pressed" if self.estop else "released"))
        # The CS changing its own availability (e-stop, welded contacts) is told to Josev.
        available = self.available()
        if available != self._sent.get("available", True):
            self._sent["available"] = available
            out.append(Outgoing("change_availability", models.ChangeAvailabilityUpdate(
                operational_status="operative" if available else "inoperative",
                evse_id=self.evse_id)))
        if self.supply.faults != self._faults_seen:
            new = [f for f in self.supply.faults if f not in self._faults_seen]
            self._faults_seen = self.supply.faults
            for fault in new:
                out.append(self._event("PowerModuleFault", fault))
        limits = self.status_and_limits()
        key = limits.model_dump(exclude={"dc": {"present_voltage", "present_current"}})
        present = (limits.dc.present_voltage, limits.dc.present_current) if limits.dc else None
        old_present = self._sent.get("present")
        moved = present is not None and (
            old_present is None
            or abs(present[0] - old_present[0]) >= 1.0
            or abs(present[1] - old_present[1]) >= 1.0
        )
        if self._sent.get("limits") != key or (moved and now - self._last_limits_push >= 0.25):
            self._sent["limits"] = key
            self._sent["present"] = present
            self._last_limits_push = now
            out.append(Outgoing("limits", limits))  # merged by the service into one update

    # -- API requests ------------------------------------------------------------------------

    def heard(self, now: float) -> None:
        self.supervisor.heard_from_brain(now)

    def cp_pwm(self, req: models.CpPwmRequest, now: float) -> models.CpPwmResponse:
        s = self.state
        if self.supervisor.tripped is not None:
            return models.CpPwmResponse(
                evse_id=self.evse_id, status="error",
                info=f"safety trip {self.supervisor.tripped.value}: pilot held at F",
            )
        info = None
        if req.fault_state:
            s.cp_mode, s.duty = CpMode.STATE_F, 0.0
        elif req.error_state:
            s.cp_mode, s.duty = CpMode.STATE_E, 0.0
        elif req.hlc:
            s.cp_mode, s.duty = CpMode.PWM, 5.0
        elif req.current is None or req.current == 0:
            s.cp_mode, s.duty = CpMode.STEADY, 100.0
        else:
            cap = min(self.allowed_current(), 80.0)
            if cap < 6.0:
                return models.CpPwmResponse(
                    evse_id=self.evse_id, status="invalid",
                    info=f"{req.current} A refused: the station allows only {cap:.1f} A now",
                )
            amps = min(req.current, cap)
            if amps < req.current:
                info = f"clamped to {amps:.1f} A (cable, configuration or supply limit)"
                log.info("evse %d: cp_pwm %s", self.evse_id, info)
            s.cp_mode, s.duty = CpMode.PWM, duty_for(amps)
        # The pilot says which kind of session this is: 5 % HLC, anything else not (any more).
        s.hlc = req.hlc and not req.error_state and not req.fault_state
        s.stop_requested = False
        return models.CpPwmResponse(evse_id=self.evse_id, status="valid", info=info)

    def cable_check(self, req: models.CableCheckRequest, now: float) -> models.CableCheckResponse:
        s = self.state
        if not self.dc:
            return models.CableCheckResponse(
                evse_id=self.evse_id, cable_check_status="finished", isolation_level="no_imd"
            )
        if req.cable_check_action == "start":
            if self.supervisor.tripped is not None or self.cp_letter not in (CpLetter.C,
                                                                               CpLetter.D):
                why = self.supervisor.tripped or f"CP {self.cp_letter}"
                log.warning("evse %d: cable check refused: %s", self.evse_id, why)
                return models.CableCheckResponse(
                    evse_id=self.evse_id, cable_check_status="finished", isolation_level="invalid"
                )
            s.cable_check = _CableCheck(started_at=now)
            s.isolation = None
            s.setpoint = None
            s.stop_requested = False
            return models.CableCheckResponse(evse_id=self.evse_id, cable_check_status="ongoing")
        cc = s.cable_check
        if cc is None:
            level = s.isolation or "invalid"
            return models.CableCheckResponse(
                evse_id=self.evse_id, cable_check_status="finished", isolation_level=level
            )
        if cc.level is None:
            return models.CableCheckResponse(evse_id=self.evse_id, cable_check_status="ongoing")
        return models.CableCheckResponse(
            evse_id=self.evse_id, cable_check_status="finished", isolation_level=cc.level
        )

    def setpoint(
        self, req: models.PowerElectronicsSetpointRequest, now: float
    ) -> models.PowerElectronicsSetpointResponse:
        s = self.state

        def answer(ok: bool, why: str = "") -> models.PowerElectronicsSetpointResponse:
            if not ok:
                log.warning("evse %d: setpoint rejected: %s", self.evse_id, why)
            return models.PowerElectronicsSetpointResponse(
                evse_id=self.evse_id, status="accepted" if ok else "rejected"
            )

        if self.supervisor.tripped is not None:
            return answer(False, f"safety trip {self.supervisor.tripped.value}")
        if not s.operative:
            return answer(False, "EVSE inoperative")
        if req.ac is not None:
            if self.dc:
                return answer(False, "AC setpoint on a DC EVSE")
            a = req.ac
            if (a.discharge_current or 0) > 0 or (a.discharge_active_power or 0) > 0:
                if not self.bpt:
                    return answer(False, "discharge is not supported by this station (no BPT)")
                if (a.charge_current or 0) > 0 or (a.charge_active_power or 0) > 0:
                    return answer(False, "both charge and discharge asked for")
                back = a.discharge_current if a.discharge_current is not None else float("inf")
                if a.discharge_active_power is not None:
                    back = min(back, a.discharge_active_power / (
                        self.cfg.ac.nominal_voltage * self.cfg.ac.phases))
                cap = self.supervisor.max_discharge_current(self._inputs())
                s.ac_current_limit = -min(back, cap)
                return answer(True)
            amps = req.ac.charge_current
            if amps is None and req.ac.charge_active_power is not None:
                amps = req.ac.charge_active_power / (
                    self.cfg.ac.nominal_voltage * self.cfg.ac.phases
                )
            s.ac_current_limit = None if amps is None else min(max(amps, 0.0),
                                                                 self.allowed_current())
            return answer(True)
        if req.dc is None:
            return answer(False, "neither ac nor dc setpoint given")
        if not self.dc:
            return answer(False, "DC setpoint on an AC EVSE")
        d = req.dc
        discharge = (d.discharge_current or 0) > 0 or (d.discharge_power or 0) > 0
        if discharge:
            if not self.bpt:
                return answer(False, "discharge is not supported by this station (no BPT)")
            if (d.charge_current or 0) > 0 or (d.charge_power or 0) > 0:
                return answer(False, "both charge and discharge asked for")
            if req.is_precharge:
                return answer(False, "no discharge during pre-charge")
        if d.voltage > 0 and s.isolation not in ("valid", "warning"):
            return answer(False, "no positive isolation result in this session")
        if d.voltage > 0 and self.cp_letter not in (CpLetter.C, CpLetter.D):
            return answer(False, f"CP is {self.cp_letter}, not C/D")
        volts = min(d.voltage, req.ev_limits.maximum_voltage, self.cfg.power.max_voltage)
        if discharge:
            s.setpoint = _Setpoint(voltage=max(volts, 0.0),
                                   current=-self._discharge_amps(d, volts), precharge=False)
            s.cable_check = None if s.cable_check and s.cable_check.level else s.cable_check
            s.stop_requested = False
            return answer(True)
        amps = d.charge_current if d.charge_current is not None else float("inf")
        if d.charge_power is not None and volts > 1.0:
            amps = min(amps, d.charge_power / volts)
        if amps == float("inf"):
            amps = 0.0
        if req.is_precharge:
            amps = min(amps, self.cfg.power.precharge_max_current)
        cap = self.allowed_current(volts)
        if amps > cap:
            clamp = (round(amps, 1), round(cap, 1))
            if self._sent.get("clamp") != clamp:  # one line per new clamp, not per setpoint
                log.info("evse %d: setpoint %.1f A clamped to %.1f A", self.evse_id, amps, cap)
                self._sent["clamp"] = clamp
            amps = cap
        s.setpoint = _Setpoint(voltage=max(volts, 0.0), current=max(amps, 0.0),
                               precharge=bool(req.is_precharge))
        s.cable_check = None if s.cable_check and s.cable_check.level else s.cable_check
        s.stop_requested = False
        return answer(True)

    def hlc_ac_current(self) -> float | None:
        """AC under HLC: the phase current the station has agreed to (negative: the EV feeds
        back, BPT), within the limits now; None before any setpoint."""
        limit = self.state.ac_current_limit
        if self.dc or limit is None or not self.state.hlc:
            return None
        if limit >= 0:
            return min(limit, self.allowed_current())
        return -min(-limit, self.supervisor.max_discharge_current(self._inputs()))

    def _discharge_amps(self, d: models.DcSetpoint, volts: float) -> float:
        """The discharge current asked for, clamped to the station's discharge limits."""
        present = max(self.supply.voltage, volts, 1.0)  # the power limit at the cable's voltage
        amps = d.discharge_current if d.discharge_current is not None else float("inf")
        if d.discharge_power is not None:
            amps = min(amps, d.discharge_power / present)
        if amps == float("inf"):
            amps = 0.0
        cap = self.supervisor.max_discharge_current(self._inputs(), present)
        if amps > cap:
            clamp = (round(-amps, 1), round(-cap, 1))
            if self._sent.get("clamp") != clamp:
                log.info("evse %d: discharge %.1f A clamped to %.1f A", self.evse_id, amps, cap)
                self._sent["clamp"] = clamp
            amps = cap
        return max(amps, 0.0)

    def stop_charging(self, now: float) -> models.StopChargingResponse:
        self.state.stop_requested = True
        self.state.setpoint = None
        if not self.dc and self.state.cp_mode is CpMode.PWM and not self.state.hlc:
            self.state.cp_mode, self.state.duty = CpMode.STEADY, 100.0
        return models.StopChargingResponse(evse_id=self.evse_id, status="accepted")

    def connector_action(self, req: models.CsConnectorRequest) -> models.CsConnectorResponse:
        if req.connector_id not in {c.id for c in self.cfg.connectors}:
            return models.CsConnectorResponse(
                evse_id=self.evse_id, connector_id=req.connector_id, status="error",
                info=f"no connector {req.connector_id} on EVSE {self.evse_id}",
            )
        if req.action == "lock":
            if self.pp_ohm is None and self.connector.connector_type.startswith("s"):
                return models.CsConnectorResponse(
                    evse_id=self.evse_id, connector_id=req.connector_id, status="error",
                    info="no cable in the socket",
                )
            self.state.lock_requested = True
        elif req.action == "unlock":
            if self.power_path_closed:
                return models.CsConnectorResponse(
                    evse_id=self.evse_id, connector_id=req.connector_id, status="locked",
                    info="refused: contactors are closed",
                )
            self.state.lock_requested = False
        return self.connector_status(req.connector_id)

    def connector_status(self, connector_id: int) -> models.CsConnectorResponse:
        """The lock as its switch reports it; without a lock device, as last asked."""
        locked = self.locked if self.dev.lock is not None else self.state.lock_requested
        return models.CsConnectorResponse(
            evse_id=self.evse_id, connector_id=connector_id,
            status="locked" if locked else "unlocked",
        )

    def set_operative(self, operative: bool) -> None:
        s = self.state
        if operative:
            s.operative, s.pending_inoperative = True, False
        elif self.power_path_closed:
            s.pending_inoperative = True  # takes effect when the session has ended (OCPP G03)
        else:
            s.operative = False

    def reset(self, now: float) -> bool:
        """Bring the EVSE back to its start state; refused while power flows or e-stop held."""
        if self.power_path_closed:
            return False
        if not self.supervisor.reset(now, self.estop):
            return False
        self.monitor.welded = False
        self._end_session("reset")
        self.state = EvseState(operative=self.state.operative)
        return True

    def process_authorized_token(self) -> Literal["accepted", "discarded"]:
        if not self.state.operative or self.supervisor.tripped is not None or self.estop:
            return "discarded"
        return "accepted"

    # -- API updates from Josev ------------------------------------------------------------------

    def on_hlc_charging(self, upd: models.HlcChargingUpdate) -> None:
        if upd.status:
            self.state.hlc = True
            self.state.stop_requested = upd.action == "pause"
        else:
            self.state.stop_requested = True
            self.state.setpoint = None

    def on_iso15118_state(self, upd: models.Iso15118StateInfoUpdate) -> None:
        self.state.session_status = upd.session_status
        if upd.session_status in ("WeldingDetection", "SessionStop"):
            self.state.setpoint = None
            self.state.stop_requested = True
        elif upd.session_status == "Idle":
            self._end_session("iso15118 idle")
        elif upd.session_status in ("SessionSetup", "SupportedAppProtocol"):
            self.state.hlc = True
            self.state.stop_requested = False

    def on_slac(self, upd: models.SlacStatusUpdate) -> None:
        self.state.slac = upd.status
        if upd.status == "matched":
            self.state.hlc = True
