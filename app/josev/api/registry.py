"""Which messages exist, of which type, on which topics: the table behind validation and schemas.

Topics are `sender/receiver`. A request's response travels on the reversed topic; an update uses
the same topic a response would (shared/josev-api.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from josev.api import models as m

MessageType = Literal["request", "response", "update"]
ENVELOPE_TYPES = ("request", "response", "update", "error")

JOSEV_CS = "josev/cs"
CS_JOSEV = "cs/josev"
ISO_OCPP = "iso15118/ocpp"
OCPP_ISO = "ocpp/iso15118"
SMART_ISO = "smart_charging/iso15118"
TOPICS = (JOSEV_CS, CS_JOSEV, ISO_OCPP, OCPP_ISO, SMART_ISO)

# Identities: who a client may speak as. "josev" is the brain towards the station: every Josev
# service (iso15118, ocpp, ...) speaks as "josev" on josev/cs as well as under its own name.
PARTICIPANTS = ("josev", "cs", "iso15118", "ocpp", "smart_charging")


@dataclass(frozen=True, slots=True)
class MessageSpec:
    name: str
    msg_type: MessageType
    model: type[m.ApiModel]
    topics: tuple[str, ...]


def reverse(topic: str) -> str:
    sender, receiver = topic.split("/", 1)
    return f"{receiver}/{sender}"


def sender_of(topic: str) -> str:
    return topic.split("/", 1)[0]


def receiver_of(topic: str) -> str:
    return topic.split("/", 1)[1]


_SPECS: list[MessageSpec] = []


def _req(
    name: str,
    req: type[m.ApiModel],
    resp: type[m.ApiModel],
    *topics: str,
    update: type[m.ApiModel] | None = None,
    update_topics: tuple[str, ...] | None = None,
) -> None:
    """Declare a request on `topics`, its response on the reversed topics, and maybe an update."""
    _SPECS.append(MessageSpec(name, "request", req, topics))
    _SPECS.append(MessageSpec(name, "response", resp, tuple(reverse(t) for t in topics)))
    if update is not None:
        ut = update_topics if update_topics is not None else tuple(reverse(t) for t in topics)
        _SPECS.append(MessageSpec(name, "update", update, ut))


def _upd(name: str, model: type[m.ApiModel], *topics: str) -> None:
    _SPECS.append(MessageSpec(name, "update", model, topics))


# Station setup and limits
_req("device_model", m.DeviceModelRequest, m.DeviceModelResponse, JOSEV_CS)
_req(
    "cs_status_and_limits",
    m.CsStatusAndLimitsRequest,
    m.CsStatusAndLimitsResponse,
    JOSEV_CS,
    update=m.CsStatusAndLimitsUpdate,
)
_req("cs_parameters", m.CsParametersRequest, m.CsParametersResponse, JOSEV_CS)
_req(
    "service_status",
    m.ServiceStatusRequest,
    m.ServiceStatusResponse,
    CS_JOSEV,
    update=m.ServiceStatusUpdate,
)
# Control pilot, SLAC, contactor, connector
_upd("cp_status", m.CpStatusUpdate, CS_JOSEV)
_req("cp_pwm", m.CpPwmRequest, m.CpPwmResponse, JOSEV_CS)
_upd("slac_status", m.SlacStatusUpdate, JOSEV_CS)
_upd("hlc_charging", m.HlcChargingUpdate, JOSEV_CS, ISO_OCPP)
_req(
    "cs_contactor_status",
    m.CsContactorStatusRequest,
    m.CsContactorStatusResponse,
    JOSEV_CS,
    update=m.CsContactorStatusUpdate,
)
_req("cs_connector", m.CsConnectorRequest, m.CsConnectorResponse, JOSEV_CS)
_req(
    "change_availability",
    m.ChangeAvailabilityRequest,
    m.ChangeAvailabilityResponse,
    JOSEV_CS,
    update=m.ChangeAvailabilityUpdate,
)
_req("reset", m.ResetRequest, m.ResetResponse, JOSEV_CS)
# DC power path
_req("cable_check", m.CableCheckRequest, m.CableCheckResponse, JOSEV_CS)
_req(
    "power_electronics_setpoint",
    m.PowerElectronicsSetpointRequest,
    m.PowerElectronicsSetpointResponse,
    JOSEV_CS,
)
# Metering and authorization
_req(
    "meter_values",
    m.MeterValuesRequest,
    m.MeterValuesResponse,
    JOSEV_CS,
    update=m.MeterValuesUpdate,
)
_req(
    "authorization",
    m.AuthorizationRequest,
    m.AuthorizationResponse,
    CS_JOSEV,
    update=m.AuthorizationUpdate,
)
_req(
    "process_authorized_token",
    m.ProcessAuthorizedTokenRequest,
    m.ProcessAuthorizedTokenResponse,
    JOSEV_CS,
)
_req("stop_charging", m.StopChargingRequest, m.StopChargingResponse, JOSEV_CS, OCPP_ISO)
_upd("transaction_status", m.TransactionStatusUpdate, JOSEV_CS)
# OCPP and CSMS related
_req(
    "websocket_status",
    m.WebsocketStatusRequest,
    m.WebsocketStatusResponse,
    CS_JOSEV,
    update=m.WebsocketStatusUpdate,
)
_upd("display_and_personal_msg", m.DisplayAndPersonalMsgUpdate, JOSEV_CS)
_upd("notify_event", m.NotifyEventUpdate, JOSEV_CS, CS_JOSEV)
_req("update_firmware", m.UpdateFirmwareRequest, m.UpdateFirmwareResponse, JOSEV_CS)
_upd("firmware_status", m.FirmwareStatusUpdate, CS_JOSEV)
_req("upload_logs", m.UploadLogsRequest, m.UploadLogsResponse, JOSEV_CS)
_upd("log_status", m.LogStatusUpdate, CS_JOSEV)
# TPM and certificates
_req("generate_csr", m.GenerateCsrRequest, m.GenerateCsrResponse, JOSEV_CS)
_upd("certificate_installation_status", m.CertificateInstallationStatusUpdate, JOSEV_CS)
# ISO 15118 specific
_upd("iso15118_state_info", m.Iso15118StateInfoUpdate, ISO_OCPP, JOSEV_CS)
_req(
    "iso15118_authorization",
    m.Iso15118AuthorizationRequest,
    m.Iso15118AuthorizationResponse,
    ISO_OCPP,
)
_req(
    "iso15118_get_ev_certificate",
    m.Iso15118GetEvCertificateRequest,
    m.Iso15118GetEvCertificateResponse,
    ISO_OCPP,
)
_upd("iso15118_charge_limit", m.Iso15118ChargeLimitUpdate, SMART_ISO)

SPECS: dict[tuple[str, str], MessageSpec] = {(s.name, s.msg_type): s for s in _SPECS}
NAMES: frozenset[str] = frozenset(s.name for s in _SPECS)
assert len(SPECS) == len(_SPECS), "duplicate message declaration"


def spec(name: str, type_: str) -> MessageSpec | None:
    return SPECS.get((name, type_))
