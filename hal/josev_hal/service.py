"""The josev-hal service: the station's side of the Josev API, a control loop, the sim channel.

Tasks (all in one asyncio loop): the control loop steps every EVSE controller every
`loop_period_s` and never waits on the broker (updates go through a queue); a publisher drains
that queue; a meter task pushes meter_values; one task per card reader turns taps into
authorization requests; the simulator control channel (sim/ topics) when simulating; the
systemd watchdog. Request handlers answer from the controllers' state at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import aiomqtt
from pydantic import ValidationError

from josev import sdnotify
from josev.api import ApiClient, ApiError, models
from josev.tasks import cancel_and_wait
from josev_hal import __version__
from josev_hal.config import HalConfig
from josev_hal.cp.base import CpMode
from josev_hal.devices import Built, build
from josev_hal.executor import DaemonExecutor
from josev_hal.logs import LogUploader, RecentRecords
from josev_hal.meter.base import MeterError, MeterReading
from josev_hal.rfid.base import CardReader
from josev_hal.sim import control as sim_control
from josev_hal.sim import protocol as simp
from josev_hal.station import EvseController, Outgoing
from josev_hal.tpm.base import CsrError, Subject

log = logging.getLogger("josev_hal")

Clock = Callable[[], float]


class UnknownEvse(LookupError):
    """A request named an EVSE this station does not have."""


class HalService:
    def __init__(
        self, cfg: HalConfig, *, password: str | None = None, clock: Clock = time.monotonic,
        built: Built | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.built = built or build(cfg)
        now = clock()
        self.controllers: dict[int, EvseController] = {
            e.evse_id: EvseController(e, cfg, self.built.devices[e.evse_id], now)
            for e in cfg.evses
        }
        m = cfg.mqtt
        self.client = ApiClient(
            identities={"cs"}, host=m.host, port=m.port, username=m.username, password=password,
            client_id=m.client_id,
        )
        self._password = password
        self.simulated = cfg.backend == "simulator"
        self._out: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=10000)
        self._tasks: list[asyncio.Task[Any]] = []
        self._errors: dict[str, float] = {}
        self.ready = asyncio.Event()
        self.steps = 0
        self.last_display: models.DisplayAndPersonalMsgUpdate | None = None
        self.transactions: dict[str, models.TransactionStatusUpdate] = {}
        self.recent_logs = RecentRecords()
        self.logs = LogUploader(cfg.logs, cfg.station.identity, self._send_log_status,
                                self.recent_logs)
        self._register()

    # -- helpers ---------------------------------------------------------------------------------

    def evse(self, evse_id: int) -> EvseController:
        try:
            return self.controllers[evse_id]
        except KeyError:
            raise UnknownEvse(
                f"no EVSE {evse_id} (this station has {sorted(self.controllers)})"
            ) from None

    def _heard(self) -> None:
        now = self.clock()
        for c in self.controllers.values():
            c.heard(now)

    def _log_error(self, key: str, exc: BaseException) -> None:
        """Log a repeating failure at most once every 10 s, never crash the loop."""
        now = self.clock()
        if now - self._errors.get(key, -1e9) >= 10.0:
            self._errors[key] = now
            log.error("%s: %s: %s", key, type(exc).__name__, exc, exc_info=exc)

    # -- request handlers -----------------------------------------------------------------------

    def _register(self) -> None:
        c = self.client
        handlers: dict[str, Callable[[Any], Coroutine[Any, Any, models.ApiModel]]] = {
            "device_model": self.on_device_model,
            "cs_status_and_limits": self.on_cs_status_and_limits,
            "cs_parameters": self.on_cs_parameters,
            "cp_pwm": self.on_cp_pwm,
            "cs_contactor_status": self.on_cs_contactor_status,
            "cs_connector": self.on_cs_connector,
            "change_availability": self.on_change_availability,
            "reset": self.on_reset,
            "cable_check": self.on_cable_check,
            "power_electronics_setpoint": self.on_setpoint,
            "meter_values": self.on_meter_values,
            "process_authorized_token": self.on_process_authorized_token,
            "stop_charging": self.on_stop_charging,
            "generate_csr": self.on_generate_csr,
            "upload_logs": self.logs.request,
        }
        for name, handler in handlers.items():
            c.on_request(name, self._heard_then(handler))
        c.on_update("slac_status", self._update(self._on_slac))
        c.on_update("hlc_charging", self._update(self._on_hlc))
        c.on_update("iso15118_state_info", self._update(self._on_iso_state))
        c.on_update("transaction_status", self._update(self._on_transaction))
        c.on_update("certificate_installation_status", self._update(self._on_cert_status))
        c.on_update("display_and_personal_msg", self._update(self._on_display))
        c.on_update("authorization", self._update(self._on_authorization_update))
        c.on_update("notify_event", self._update(self._on_notify_event))
        c.on_update("websocket_status", self._update(self._on_websocket))
        c.on_update("service_status", self._update(self._on_service_status))

    def _heard_then(
        self, handler: Callable[[Any], Coroutine[Any, Any, models.ApiModel]]
    ) -> Callable[[Any], Coroutine[Any, Any, models.ApiModel]]:
        async def wrapped(req: Any) -> models.ApiModel:
            self._heard()
            return await handler(req)

        return wrapped

    def _update(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        def wrapped(upd: Any) -> None:
            self._heard()
            try:
                fn(upd)
            except UnknownEvse as exc:
                log.warning("update ignored: %s", exc)

        return wrapped

    async def on_device_model(self, req: models.DeviceModelRequest) -> models.ApiModel:
        st = self.cfg.station
        evses = []
        for e in self.cfg.evses:
            if e.kind == "dc":
                power_kw, phases = e.power.max_power / 1000.0, 0
            else:
                power_kw = e.ac.nominal_voltage * e.ac.max_current * e.ac.phases / 1000.0
                phases = e.ac.phases
            evses.append(models.DeviceModelEvse(
                ocpp_id=e.evse_id, iso15118_id=e.iso15118_id, power_kw=round(power_kw, 1),
                supply_phases=phases,
                connectors=[
                    models.DeviceModelConnector(id=c.id, connector_type=c.connector_type)
                    for c in e.connectors
                ],
            ))
        return models.DeviceModelResponse(
            model=st.model, vendor=st.vendor, identity=st.identity, ocpp_csms_url=st.ocpp_csms_url,
            security_profile=st.security_profile, basic_auth_password=st.basic_auth_password,
            serial_number=st.serial_number, firmware_version=st.firmware_version,
            sim_iccid=st.sim_iccid, sim_imsi=st.sim_imsi, evses=evses, components=[],
        )

    def status_and_limits(self) -> list[models.EvseStatusAndLimits]:
        return [c.status_and_limits() for c in self.controllers.values()]

    async def on_cs_status_and_limits(
        self, req: models.CsStatusAndLimitsRequest
    ) -> models.ApiModel:
        return models.CsStatusAndLimitsResponse(evses=self.status_and_limits())

    async def on_cs_parameters(self, req: models.CsParametersRequest) -> models.ApiModel:
        params = []
        for e in self.cfg.evses:
            if e.kind == "dc":
                svc = models.ServiceParameters(connector_type="DC_extended",
                                               nominal_voltage=e.power.max_voltage)
                bpt = None
                if self.controllers[e.evse_id].bpt:
                    bpt = svc.model_copy(update={"bpt_channel": "unified",
                                                 "generator_mode": "grid_following"})
                services = models.ConnectorServices(dc=svc, dc_bpt=bpt)
            else:
                kind: Literal["AC_three_phase_core", "AC_single_phase_core"] = (
                    "AC_three_phase_core" if e.ac.phases == 3 else "AC_single_phase_core")
                svc = models.ServiceParameters(connector_type=kind,
                                               nominal_voltage=e.ac.nominal_voltage)
                ac_bpt = None
                if self.controllers[e.evse_id].bpt:
                    ac_bpt = svc.model_copy(update={"bpt_channel": "unified",
                                                    "generator_mode": "grid_following"})
                services = models.ConnectorServices(ac=svc, ac_bpt=ac_bpt)
            params.append(models.EvseParameters(
                evse_id=e.evse_id, supports_eim=e.supports_eim,
                network_interface=e.network_interface,
                connectors=[models.ParameterConnector(id=c.id, services=services)
                            for c in e.connectors],
            ))
        return models.CsParametersResponse(
            sw_version=__version__, hw_version=self.cfg.station.hw_version,
            number_of_evses=len(self.cfg.evses), parameters=params,
        )

    async def on_cp_pwm(self, req: models.CpPwmRequest) -> models.ApiModel:
        return self.evse(req.evse_id).cp_pwm(req, self.clock())

    async def on_cs_contactor_status(
        self, req: models.CsContactorStatusRequest
    ) -> models.ApiModel:
        u = self.evse(req.evse_id).contactor_update()
        return models.CsContactorStatusResponse(evse_id=u.evse_id, status=u.status, info=u.info)

    async def on_cs_connector(self, req: models.CsConnectorRequest) -> models.ApiModel:
        ctl = self.evse(req.evse_id)
        resp = ctl.connector_action(req)
        if req.action == "status" or resp.status == "error" or resp.info is not None:
            return resp
        # The lock motor takes a moment: answer once its switch confirms (at most 1 s).
        want = "locked" if req.action == "lock" else "unlocked"
        for _ in range(100):
            if resp.status == want:
                return resp
            await asyncio.sleep(0.01)
            resp = ctl.connector_status(req.connector_id)
        return models.CsConnectorResponse(
            evse_id=req.evse_id, connector_id=req.connector_id, status="error",
            info=f"the lock did not report {want} within 1 s",
        )

    async def on_change_availability(
        self, req: models.ChangeAvailabilityRequest
    ) -> models.ApiModel:
        operative = req.operational_status == "operative"
        if req.evse_id is None:
            targets = list(self.controllers.values())
        else:
            ctl = self.controllers.get(req.evse_id)
            if ctl is None or (req.connector_id is not None
                               and req.connector_id not in {c.id for c in ctl.cfg.connectors}):
                log.warning("change_availability for unknown EVSE/connector %s/%s",
                            req.evse_id, req.connector_id)
                return models.ChangeAvailabilityResponse(status="rejected")
            targets = [ctl]
        for ctl in targets:
            ctl.set_operative(operative)
        return models.ChangeAvailabilityResponse(status="accepted")

    async def on_reset(self, req: models.ResetRequest) -> models.ApiModel:
        now = self.clock()
        if req.evse_id is None:
            targets = list(self.controllers.values())
        elif req.evse_id in self.controllers:
            targets = [self.controllers[req.evse_id]]
        else:
            return models.ResetResponse(status="rejected")
        if any(t.power_path_closed or t.estop for t in targets):
            return models.ResetResponse(status="rejected")
        ok = all([t.reset(now) for t in targets])
        return models.ResetResponse(status="accepted" if ok else "rejected")

    async def on_cable_check(self, req: models.CableCheckRequest) -> models.ApiModel:
        return self.evse(req.evse_id).cable_check(req, self.clock())

    async def on_setpoint(self, req: models.PowerElectronicsSetpointRequest) -> models.ApiModel:
        return self.evse(req.evse_id).setpoint(req, self.clock())

    async def on_meter_values(self, req: models.MeterValuesRequest) -> models.ApiModel:
        if req.evse_id is not None:
            ctl = self.evse(req.evse_id)
            reading = await ctl.dev.meter.read()
            return meter_model(models.MeterValuesResponse, reading, req.evse_id)
        readings = [await c.dev.meter.read() for c in self.controllers.values()]
        return meter_model(models.MeterValuesResponse, combine(readings), None)

    async def on_process_authorized_token(
        self, req: models.ProcessAuthorizedTokenRequest
    ) -> models.ApiModel:
        status: Literal["accepted", "discarded"]
        if req.evse_id is not None:
            status = self.evse(req.evse_id).process_authorized_token()
        else:
            ok = [c.process_authorized_token() for c in self.controllers.values()]
            status = "accepted" if "accepted" in ok else "discarded"
        return models.ProcessAuthorizedTokenResponse(status=status)

    async def on_stop_charging(self, req: models.StopChargingRequest) -> models.ApiModel:
        return self.evse(req.evse_id).stop_charging(self.clock())

    async def on_generate_csr(self, req: models.GenerateCsrRequest) -> models.ApiModel:
        dc = "CPO" if req.certificate_type in ("v2g_certificate", "v2g20_certificate") else None
        subject = Subject(req.common_name, req.organization_name, req.country_name, dc)
        try:
            csr = await asyncio.to_thread(
                self.built.keystore.generate_csr, req.certificate_type, subject, req.algorithm
            )
        except CsrError as exc:
            log.warning("generate_csr %s rejected: %s", req.certificate_type, exc)
            return models.GenerateCsrResponse(status="rejected")
        log.info("generate_csr %s: CSR made for CN=%s", req.certificate_type, req.common_name)
        return models.GenerateCsrResponse(status="accepted", csr=csr)

    async def _send_log_status(self, upd: models.LogStatusUpdate) -> None:
        log.info("log_status %s (request %s)", upd.status, upd.request_id)
        await self.client.update("log_status", upd)

    # -- updates from Josev --------------------------------------------------------------------

    def _on_slac(self, upd: models.SlacStatusUpdate) -> None:
        log.info("evse %d: SLAC %s (run %s)", upd.evse_id, upd.status, upd.run_id)
        self.evse(upd.evse_id).on_slac(upd)

    def _on_hlc(self, upd: models.HlcChargingUpdate) -> None:
        log.info("evse %d: hlc_charging %s %s", upd.evse_id, upd.status, upd.action or "")
        self.evse(upd.evse_id).on_hlc_charging(upd)

    def _on_iso_state(self, upd: models.Iso15118StateInfoUpdate) -> None:
        log.info("evse %d: ISO 15118 %s", upd.evse_id, upd.session_status)
        self.evse(upd.evse_id).on_iso15118_state(upd)

    def _on_transaction(self, upd: models.TransactionStatusUpdate) -> None:
        log.info("transaction %s %s on evse %s", upd.transaction_id, upd.status, upd.evse_id)
        if upd.status == "ended":
            self.transactions.pop(upd.transaction_id, None)
        else:
            self.transactions[upd.transaction_id] = upd

    def _on_cert_status(self, upd: models.CertificateInstallationStatusUpdate) -> None:
        path = self.built.keystore.installation_status(upd.certificate_type, upd.status)
        log.info("certificate %s %s (key %s)", upd.certificate_type, upd.status, path)

    def _on_display(self, upd: models.DisplayAndPersonalMsgUpdate) -> None:
        self.last_display = upd
        log.info("display (%s): %s", upd.display_msg_trigger_reason, upd.content)
        # The simulated station's "screen": the sim/station state carries the text.
        for evse_id, w in self.built.world.evses.items():
            if upd.evse_id is None or upd.evse_id == evse_id:
                w.display = None if upd.display_msg_trigger_reason == "ended" else upd.content

    def _on_authorization_update(self, upd: models.AuthorizationUpdate) -> None:
        log.info("evse %d: authorization %s (%s)", upd.evse_id, upd.status, upd.token_type)

    def _on_notify_event(self, upd: models.NotifyEventUpdate) -> None:
        log.info("event %d from Josev: %s %s", upd.event_id, upd.tech_code, upd.tech_info)

    def _on_websocket(self, upd: models.WebsocketStatusUpdate) -> None:
        log.info("CSMS websocket %s", upd.status)

    def _on_service_status(self, upd: models.ServiceStatusUpdate) -> None:
        log.info("service %s is %s", upd.service, upd.status)

    # -- tasks -------------------------------------------------------------------------------------

    def step(self, now: float) -> list[Outgoing]:
        """One control step of the whole station (the world too when simulating)."""
        if self.simulated:
            # A cooperating EV under AC HLC draws (or, BPT, feeds back) what the station
            # agreed to over ISO 15118, never more than the station allows.
            for evse_id, ctl in self.controllers.items():
                if not ctl.dc:
                    w = self.built.world.evses[evse_id]
                    w.hlc_current = ctl.hlc_ac_current()
                    w.hlc_max_current = ctl.allowed_current()
            self.built.world.step(now)
        out: list[Outgoing] = []
        limits = False
        for ctl in self.controllers.values():
            try:
                for o in ctl.step(now):
                    if o.name == "limits":
                        limits = True
                    else:
                        out.append(o)
            except Exception as exc:  # a device failing must not stop the other EVSEs
                self._log_error(f"evse {ctl.evse_id} control step", exc)
        if limits:
            out.append(Outgoing(
                "cs_status_and_limits",
                models.CsStatusAndLimitsUpdate(evses=self.status_and_limits()),
            ))
        self.steps += 1
        return out

    async def _control_loop(self) -> None:
        period = self.cfg.loop_period_s
        next_t = self.clock()
        while True:
            for o in self.step(self.clock()):
                if self._out.full():
                    self._out.get_nowait()
                self._out.put_nowait(o)
            next_t += period
            delay = next_t - self.clock()
            if delay < -0.1:  # fell far behind (paused process): do not try to catch up
                next_t = self.clock()
            await asyncio.sleep(max(0.0, delay))

    async def _publisher(self) -> None:
        while True:
            o = await self._out.get()
            try:
                await self.client.update(o.name, o.model)
            except (ApiError, ValueError) as exc:
                self._log_error(f"publish {o.name}", exc)

    async def _meter_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.meter_update_s)
            for ctl in self.controllers.values():
                try:
                    reading = await ctl.dev.meter.read()
                    upd = meter_model(models.MeterValuesUpdate, reading, ctl.evse_id)
                    await self.client.update("meter_values", upd)
                except (MeterError, ApiError, ValidationError, OSError) as exc:
                    self._log_error(f"evse {ctl.evse_id} meter", exc)

    async def _reader_loop(self, evse_id: int, reader: CardReader) -> None:
        """Serve one reader; a reader that fails is restarted, it never takes the service down."""
        while True:
            try:
                await self._serve_reader(evse_id, reader)
                return  # the reader was closed
            except Exception as exc:
                self._log_error(f"evse {evse_id} card reader", exc)
                await asyncio.sleep(2.0)

    async def _serve_reader(self, evse_id: int, reader: CardReader) -> None:
        token_type = self.controllers[evse_id].cfg.rfid.token_type
        async for tap in reader.taps():
            log.info("evse %d: card %s presented on %s", evse_id, tap.uid, tap.reader)
            req = models.AuthorizationRequest(
                evse_id=evse_id, id_token=tap.uid[:36], token_type=token_type
            )
            try:
                resp = await self.client.request("authorization", req, timeout=10.0)
                log.info("evse %d: card %s: %s", evse_id, tap.uid, resp.status)
            except ApiError as exc:
                log.warning("evse %d: authorization for card %s failed: %s", evse_id, tap.uid,
                            exc)

    async def _sim_channel(self) -> None:
        """The simulator control channel: sim/ev and sim/control in, sim/station out."""
        prefix = self.cfg.sim_topic_prefix
        m = self.cfg.mqtt
        delay = 0.1
        while True:
            try:
                async with aiomqtt.Client(
                    m.host, m.port, username=m.username, password=self._password,
                    identifier=f"{m.client_id}-sim", timeout=2.0,
                ) as mqtt:
                    await mqtt.subscribe(f"{prefix}/{simp.EV_TOPIC}", qos=1)
                    await mqtt.subscribe(f"{prefix}/{simp.CONTROL_TOPIC}", qos=1)
                    delay = 0.1
                    pub = asyncio.create_task(self._sim_publish(mqtt, prefix))
                    try:
                        async for message in mqtt.messages:
                            self._sim_command(str(message.topic), message.payload)
                    finally:
                        pub.cancel()
            except aiomqtt.MqttError as exc:
                log.info("sim channel: broker unreachable (%s); retry in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _sim_command(self, topic: str, payload: Any) -> None:
        raw = payload if isinstance(payload, bytes | bytearray | str) else b""
        try:
            cmd: simp._Msg
            if topic.endswith("/" + simp.EV_TOPIC):
                cmd = simp.EV_COMMANDS.validate_json(raw)
            else:
                cmd = simp.CONTROL_COMMANDS.validate_json(raw)
            taps: dict[int, list[str]] = {}
            sim_control.apply(self.built.world, cmd, taps)
        except (ValidationError, ValueError) as exc:
            log.warning("sim channel: bad command on %s: %s", topic, str(exc).splitlines()[0])
            return
        for evse_id, uids in taps.items():
            for uid in uids:
                self.built.sim_readers[evse_id].tap(uid)

    async def _sim_publish(self, mqtt: aiomqtt.Client, prefix: str) -> None:
        last: dict[int, str] = {}
        last_at = 0.0
        while True:
            now = self.clock()
            periodic = now - last_at >= 0.5
            for evse_id in self.built.world.evses:
                state = sim_control.state_of(self.built.world, evse_id)
                key = state.model_dump_json(exclude={"time", "energy_wh", "dc_voltage",
                                                     "dc_current"})
                key += f"{round(state.dc_voltage / 10)}{round(state.dc_current)}"
                if periodic or last.get(evse_id) != key:
                    last[evse_id] = key
                    await mqtt.publish(f"{prefix}/{simp.STATION_TOPIC}",
                                       state.model_dump_json(), qos=0)
            if periodic:
                last_at = now
            await asyncio.sleep(0.02)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until `stop` is set (or forever); READY=1 once connected and serving."""
        stop = stop or asyncio.Event()
        if self.cfg.realtime_priority is not None:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.cfg.realtime_priority))
                log.info("running SCHED_FIFO priority %d", self.cfg.realtime_priority)
            except OSError as exc:
                log.warning("SCHED_FIFO %d refused (%s): safety reaction times are not "
                            "guaranteed under load", self.cfg.realtime_priority, exc.strerror)
        # Blocking calls (aiomqtt's connect, TPM, serial readers) must not decide when the
        # process may exit: see executor.py.
        asyncio.get_running_loop().set_default_executor(DaemonExecutor("hal-worker"))
        logging.getLogger().addHandler(self.recent_logs)
        self.client.start()
        try:
            spawn = self._tasks.append
            spawn(asyncio.create_task(self._control_loop(), name="hal:control"))
            spawn(asyncio.create_task(self._publisher(), name="hal:publish"))
            spawn(asyncio.create_task(self._meter_loop(), name="hal:meter"))
            for evse_id, readers in self.built.readers.items():
                for reader in [self.built.sim_readers[evse_id], *readers]:
                    spawn(asyncio.create_task(self._reader_loop(evse_id, reader),
                                              name=f"hal:reader:{evse_id}"))
            if self.simulated:
                spawn(asyncio.create_task(self._sim_channel(), name="hal:sim"))
            spawn(asyncio.create_task(self._watchdog(), name="hal:watchdog"))
            waiter = asyncio.create_task(self.client.wait_connected(None))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done:
                await self._notify("READY=1")
                await self._notify(f"STATUS=serving {len(self.controllers)} EVSE(s)")
                self.ready.set()
                log.info("josev-hal ready: %d EVSE(s), %s backend", len(self.controllers),
                         self.cfg.backend)
            else:
                waiter.cancel()
            await stopper
        finally:
            await self._stop()

    async def _stop(self) -> None:
        """Orderly and bounded: the power path down first (the supervisor's own ramp-down, with
        the control loop still running), then the tasks, the broker clients and the devices,
        each step with a time limit and a log line naming whatever did not finish in time."""
        started = time.monotonic()
        log.info("josev-hal stopping: power path down, pilot F")
        for ctl in self.controllers.values():
            ctl.stopping = True
        control = next((t for t in self._tasks if t.get_name() == "hal:control"), None)
        if control is not None and not control.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    while any(c.power_path_closed for c in self.controllers.values()):  # noqa: ASYNC110 - the control loop opens them
                        await asyncio.sleep(self.cfg.loop_period_s)
        if any(c.power_path_closed for c in self.controllers.values()):
            log.error("shutdown: the contactors did not report open within 0.5 s")
        else:
            log.info("shutdown: power path open, supply off, pilot F")
        self._shutdown()  # whatever the loop did: supply off, contactors open, pilot F
        await self._notify("STOPPING=1")
        await self.logs.close()
        await cancel_and_wait(self._tasks, 1.0, "tasks")
        self._tasks.clear()
        # Each of these ends on its own normally; a bound and, past it, cancellation.
        await cancel_and_wait([asyncio.create_task(self.client.close(), name="hal:mqtt-close")],
                              2.0, "the broker connection", grace=1.5)
        await cancel_and_wait([asyncio.create_task(self.close_devices(),
                                                   name="hal:close-devices")],
                              2.0, "the devices", grace=1.5)
        logging.getLogger().removeHandler(self.recent_logs)
        log.info("josev-hal stopped (%.2f s)", time.monotonic() - started)

    async def _notify(self, state: str) -> None:
        """sd_notify off the event loop: a datagram socket whose reader lags (the kernel queues
        only net.unix.max_dgram_qlen datagrams, 10 here) blocks the sender, and the control
        loop must never wait on systemd. A send stuck for a second is abandoned."""
        try:
            await asyncio.wait_for(asyncio.to_thread(sdnotify.notify, state), 1.0)
        except TimeoutError:
            self._log_error("sd_notify", TimeoutError(f"{state.split('=')[0]} not delivered"))

    async def _watchdog(self) -> None:
        """WATCHDOG=1 from the event loop (a blocked loop stops the pings), sent off-loop."""
        interval = sdnotify.watchdog_interval()
        if interval is None:
            return
        while True:
            await self._notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    def _shutdown(self) -> None:
        """Leave the hardware safe: supply off, contactors open, pilot F."""
        for ctl in self.controllers.values():
            dev = ctl.dev
            try:
                if dev.supply is not None:
                    dev.supply.set_output(False, 0.0, 0.0, self.clock())
                dev.contactors.command(False)
                dev.cp.set_output(CpMode.STATE_F, 0.0)
            except Exception as exc:
                log.error("evse %d: shutdown step failed: %s", ctl.evse_id, exc)

    async def close_devices(self) -> None:
        """Release buses, threads and file descriptors (after the hardware is safe)."""
        for ctl in self.controllers.values():
            dev = ctl.dev
            closers = [dev.cp.close, dev.contactors.close]
            if dev.supply is not None:
                closers.append(dev.supply.close)
            if dev.isolation is not None:
                closers.append(dev.isolation.close)
            for close in closers:
                try:
                    close()
                except Exception as exc:
                    log.error("evse %d: closing a device failed: %s", ctl.evse_id, exc)
            try:
                await dev.meter.close()
            except Exception as exc:
                log.error("evse %d: closing the meter failed: %s", ctl.evse_id, exc)
        for readers in self.built.readers.values():
            for reader in readers:
                await reader.close()


def combine(readings: list[MeterReading]) -> MeterReading:
    """The whole station: currents and energies add up, voltages are the first meter's."""
    if len(readings) == 1:
        return readings[0]
    first = readings[0]
    return MeterReading(
        voltage=first.voltage,
        current=(sum(r.current[0] for r in readings), sum(r.current[1] for r in readings),
                 sum(r.current[2] for r in readings)),
        power_factor=min(r.power_factor for r in readings),
        frequency=first.frequency,
        energy_import_wh=sum(r.energy_import_wh for r in readings),
        energy_export_wh=sum(r.energy_export_wh or 0.0 for r in readings),
        reactive_import_varh=sum(r.reactive_import_varh for r in readings),
    )


def meter_model(
    cls: type[models.MeterValuesResponse], r: MeterReading, evse_id: int | None
) -> models.MeterValuesResponse:
    signed = [
        models.SignedMeterValue(
            measurand=s.measurand, signed_meter_data=s.signed_meter_data,
            signing_method=s.signing_method, encoding_method=s.encoding_method,
            public_key=s.public_key,
        )
        for s in r.signed
    ] or None
    return cls(
        evse_id=evse_id,
        timestamp=dt.datetime.now(dt.UTC),
        voltage=models.PhaseValues(l1=r.voltage[0], l2=r.voltage[1], l3=r.voltage[2]),
        current=models.PhaseValues(l1=r.current[0], l2=r.current[1], l3=r.current[2]),
        power_factor=min(max(r.power_factor, 0.0), 1.0),
        dc_current=r.dc_current,
        dc_voltage=r.dc_voltage,
        frequency=r.frequency,
        total_active_energy_imported=max(r.energy_import_wh, 0.0),
        total_active_energy_exported=r.energy_export_wh,
        total_reactive_energy_imported=max(r.reactive_import_varh, 0.0),
        total_reactive_energy_exported=r.reactive_export_varh,
        signed_meter_values=signed,
    )
