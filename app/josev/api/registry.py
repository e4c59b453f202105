"""Which messages exist, of which type, on which topics: the table behind validation and schemas.

Topics are `sender/receiver`. A request's response travels on the reversed topic; an update uses
the same topic a response would (shared/josev-api.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from josev.api.models import ApiModel

API_VERSION = "1.0.0"

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
    """`model_name`: the class of the data, looked up in a model set (josev.api.models, the
    pydantic definition, or josev.lean.generated.api compiled from it) so that this table does
    not import pydantic."""

    name: str
    msg_type: MessageType
    model_name: str
    topics: tuple[str, ...]

    @property
    def model(self) -> type[ApiModel]:
        """The pydantic class (imports pydantic)."""
        from josev.api import models

        cls: type[ApiModel] = getattr(models, self.model_name)
        return cls

    def model_in(self, models: Any) -> Any:
        """The class in a given model set (a module)."""
        return getattr(models, self.model_name)


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
    req: str,
    resp: str,
    *topics: str,
    update: str | None = None,
    update_topics: tuple[str, ...] | None = None,
) -> None:
    """Declare a request on `topics`, its response on the reversed topics, and maybe an update."""
    _SPECS.append(MessageSpec(name, "request", req, topics))
    _SPECS.append(MessageSpec(name, "response", resp, tuple(reverse(t) for t in topics)))
    if update is not None:
        ut = update_topics if update_topics is not None else tuple(reverse(t) for t in topics)
        _SPECS.append(MessageSpec(name, "update", update, ut))


def _upd(name: str, model: str, *topics: str) -> None:
    _SPECS.append(MessageSpec(name, "update", model, topics))


# Station setup and limits
_req("device_model", "DeviceModelRequest", "DeviceModelResponse", JOSEV_CS)
_req(
    "cs_status_and_limits",
    "CsStatusAndLimitsRequest",
    "CsStatusAndLimitsResponse",
    JOSEV_CS,
    update="CsStatusAndLimitsUpdate",
)
_req("cs_parameters", "CsParametersRequest", "CsParametersResponse", JOSEV_CS)
_req(
    "service_status",
    "ServiceStatusRequest",
    "ServiceStatusResponse",
    CS_JOSEV,
    update="ServiceStatusUpdate",
)
# Control pilot, SLAC, contactor, connector
_upd("cp_status", "CpStatusUpdate", CS_JOSEV)
_req("cp_pwm", "CpPwmRequest", "CpPwmResponse", JOSEV_CS)
_upd("slac_status", "SlacStatusUpdate", JOSEV_CS)
_upd("hlc_charging", "HlcChargingUpdate", JOSEV_CS, ISO_OCPP)
_req(
    "cs_contactor_status",
    "CsContactorStatusRequest",
    "CsContactorStatusResponse",
    JOSEV_CS,
    update="CsContactorStatusUpdate",
)
_req("cs_connector", "CsConnectorRequest", "CsConnectorResponse", JOSEV_CS)
_req(
    "change_availability",
    "ChangeAvailabilityRequest",
    "ChangeAvailabilityResponse",
    JOSEV_CS,
    update="ChangeAvailabilityUpdate",
)
_req("reset", "ResetRequest", "ResetResponse", JOSEV_CS)
# DC power path
_req("cable_check", "CableCheckRequest", "CableCheckResponse", JOSEV_CS)
_req(
    "power_electronics_setpoint",
    "PowerElectronicsSetpointRequest",
    "PowerElectronicsSetpointResponse",
    JOSEV_CS,
)
# Metering and authorization
_req(
    "meter_values",
    "MeterValuesRequest",
    "MeterValuesResponse",
    JOSEV_CS,
    update="MeterValuesUpdate",
)
_req(
    "authorization",
    "AuthorizationRequest",
    "AuthorizationResponse",
    CS_JOSEV,
    update="AuthorizationUpdate",
)
_req(
    "process_authorized_token",
    "ProcessAuthorizedTokenRequest",
    "ProcessAuthorizedTokenResponse",
    JOSEV_CS,
)
_req("stop_charging", "StopChargingRequest", "StopChargingResponse", JOSEV_CS, OCPP_ISO)
_upd("transaction_status", "TransactionStatusUpdate", JOSEV_CS)
# OCPP and CSMS related
_req(
    "websocket_status",
    "WebsocketStatusRequest",
    "WebsocketStatusResponse",
    CS_JOSEV,
    update="WebsocketStatusUpdate",
)
_upd("display_and_personal_msg", "DisplayAndPersonalMsgUpdate", JOSEV_CS)
_upd("notify_event", "NotifyEventUpdate", JOSEV_CS, CS_JOSEV)
_req("update_firmware", "UpdateFirmwareRequest", "UpdateFirmwareResponse", JOSEV_CS)
_upd("firmware_status", "FirmwareStatusUpdate", CS_JOSEV)
_req("upload_logs", "UploadLogsRequest", "UploadLogsResponse", JOSEV_CS)
_upd("log_status", "LogStatusUpdate", CS_JOSEV)
# TPM and certificates
_req("generate_csr", "GenerateCsrRequest", "GenerateCsrResponse", JOSEV_CS)
_upd("certificate_installation_status", "CertificateInstallationStatusUpdate", JOSEV_CS)
# ISO 15118 specific
_upd("iso15118_state_info", "Iso15118StateInfoUpdate", ISO_OCPP, JOSEV_CS)
_req(
    "iso15118_authorization",
    "Iso15118AuthorizationRequest",
    "Iso15118AuthorizationResponse",
    ISO_OCPP,
)
_req(
    "iso15118_get_ev_certificate",
    "Iso15118GetEvCertificateRequest",
    "Iso15118GetEvCertificateResponse",
    ISO_OCPP,
)
_upd("iso15118_charge_limit", "Iso15118ChargeLimitUpdate", SMART_ISO)

SPECS: dict[tuple[str, str], MessageSpec] = {(s.name, s.msg_type): s for s in _SPECS}
NAMES: frozenset[str] = frozenset(s.name for s in _SPECS)
assert len(SPECS) == len(_SPECS), "duplicate message declaration"


def spec(name: str, type_: str) -> MessageSpec | None:
    return SPECS.get((name, type_))
