"""Pydantic models for every message of the Josev API (shared/josev-api.md).

One class per message name and type, named <CamelName><Request|Response|Update>. Field names,
enums, ranges and optionality follow the contract; extra fields are rejected so that a typo on
either side is an error, not a silently dropped value. Where the contract leaves a range open,
the OCPP 2.0.1 limit is used and noted on the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from josev.api import rules
from josev.api.registry import API_VERSION as API_VERSION


class ApiModel(BaseModel):
    """Strict base: unknown fields are errors, floats must be finite, and no type is coerced
    (`"230"` or `true` for a voltage is a sender's bug and gets an error, not a guess).

    Cross-field rules live in josev.api.rules and are listed in `__rules__`, so that the
    pydantic-free validators compiled from these classes (josev.lean) run the same code."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, strict=True)
    __rules__: ClassVar[tuple[Callable[[Any], None], ...]] = ()

    @model_validator(mode="after")
    def _rules(self) -> ApiModel:
        for rule in type(self).__rules__:
            rule(self)
        return self


class Empty(ApiModel):
    """A request that carries no data (`{}`)."""


# Common value types ------------------------------------------------------------------------------

EvseId = Annotated[int, Field(ge=1, le=1000, description="OCPP EVSE id (1-based)")]
ConnectorId = Annotated[int, Field(ge=1, le=100, description="OCPP connector id (1-based)")]
# Physical values: plain finite floats. Limits that are physically impossible for a charging
# station are refused so that a unit mix-up (mV for V) fails loudly.
Volt = Annotated[float, Field(ge=-2000.0, le=2000.0)]
Ampere = Annotated[float, Field(ge=-2000.0, le=2000.0)]
Watt = Annotated[float, Field(ge=-2_000_000.0, le=2_000_000.0)]
IdToken = Annotated[str, Field(max_length=36)]  # OCPP IdTokenType.idToken string[0..36]
Text = Annotated[str, Field(max_length=2500)]
# RFC 3339 with an offset, parsed by one function that josev.lean shares; written with Z for UTC.
AwareDatetime = Annotated[
    datetime,
    BeforeValidator(rules.parse_timestamp),
    PlainSerializer(rules.format_timestamp, return_type=str, when_used="json"),
]

ConnectorEnum = Literal[
    "cCCS1",
    "cCCS2",
    "cG105",
    "cTesla",
    "cType1",
    "cType2",
    "s309-1P-16A",
    "s309-1P-32A",
    "s309-3P-16A",
    "s309-3P-32A",
    "sBS1361",
    "sCEE-7-7",
    "sType2",
    "sType3",
    "Other1PhMax16A",
    "Other1PhOver16A",
    "Other3Ph",
    "Pan",
    "wInductive",
    "wResonant",
    "Undetermined",
    "Unknown",
]
AcceptedRejected = Literal["accepted", "rejected"]
TokenType = Literal["ISO14443", "ISO15693", "key_code", "local", "no_authorization", "mac_address"]
TokenTypeExt = Literal[
    "ISO14443",
    "ISO15693",
    "key_code",
    "local",
    "no_authorization",
    "mac_address",
    "e_maid",
    "central",
]
AuthorizationStatus = Literal["accepted", "rejected", "deauthorized"]
CertificateType = Literal["charging_station_certificate", "v2g_certificate", "v2g20_certificate"]


class PhaseValues(ApiModel):
    l1: float
    l2: float
    l3: float


# Station setup and limits ------------------------------------------------------------------------


class DeviceModelConnector(ApiModel):
    id: ConnectorId
    connector_type: ConnectorEnum


class DeviceModelEvse(ApiModel):
    ocpp_id: EvseId
    iso15118_id: Annotated[str, Field(min_length=1, max_length=37)]  # EVSEID, e.g. DE*ABC*E1
    power_kw: Annotated[float, Field(ge=0, le=2000)]
    supply_phases: Annotated[int, Field(ge=0, le=3)]  # 0 = DC, as OCPP
    connectors: Annotated[list[DeviceModelConnector], Field(min_length=1)]


class DeviceModelVariable(ApiModel):
    name: Annotated[str, Field(max_length=50)]
    value: Text
    instance: Annotated[str, Field(max_length=50)] | None = None
    unit: Annotated[str, Field(max_length=16)] | None = None
    mutability: Literal["ReadOnly", "WriteOnly", "ReadWrite"] | None = None
    constant: bool | None = None
    data_type: (
        Literal[
            "string",
            "decimal",
            "integer",
            "dateTime",
            "boolean",
            "OptionList",
            "SequenceList",
            "MemberList",
        ]
        | None
    ) = None
    values_list: Annotated[str, Field(max_length=1000)] | None = None


class DeviceModelComponent(ApiModel):
    name: Annotated[str, Field(max_length=50)]
    instance: Annotated[str, Field(max_length=50)] | None = None
    evse_id: EvseId | None = None
    connector_id: ConnectorId | None = None
    variables: list[DeviceModelVariable]


class DeviceModelRequest(Empty):
    pass


class DeviceModelResponse(ApiModel):
    model: Annotated[str, Field(max_length=20)]  # OCPP ChargingStationType.model
    vendor: Annotated[str, Field(max_length=50)]
    identity: Annotated[str, Field(min_length=1, max_length=48)]
    ocpp_csms_url: Annotated[str, Field(max_length=512)]
    security_profile: Annotated[int, Field(ge=1, le=3)]
    basic_auth_password: Annotated[str, Field(min_length=16, max_length=40)] | None = None
    serial_number: Annotated[str, Field(max_length=25)]
    firmware_version: Annotated[str, Field(max_length=50)]
    sim_iccid: Annotated[str, Field(max_length=20)] | None = None
    sim_imsi: Annotated[str, Field(max_length=20)] | None = None
    evses: Annotated[list[DeviceModelEvse], Field(min_length=1)]
    components: list[DeviceModelComponent]


StatusCode = Literal[
    "evse_not_ready",
    "evse_ready",
    "evse_shutdown",
    "evse_utility_interrupt_event",
    "evse_isolation_monitoring_active",
    "evse_emergency_shutdown",
    "evse_malfunction",
]
IsolationLevel = Literal["invalid", "valid", "warning", "fault", "no_imd"]


class AcLimits(ApiModel):
    max_current: PhaseValues
    nominal_voltage: Volt
    rcd_error: bool


class AcBptLimits(ApiModel):
    evse_max_discharge_power: PhaseValues
    evse_min_discharge_power: PhaseValues


class DcLimits(ApiModel):
    present_voltage: Volt
    present_current: Ampere
    max_current: Ampere
    min_current: Ampere
    max_voltage: Volt
    min_voltage: Volt
    max_power: Watt
    current_reg_tolerance: Ampere | None = None
    peak_current_ripple: Ampere
    energy_to_be_delivered: Annotated[float, Field(ge=0, le=1e9)] | None = None  # Wh
    isolation_status: IsolationLevel | None = None
    evse_power_ramp_limit: Watt | None = None  # W/s


class DcBptLimits(ApiModel):
    evse_max_discharge_power: Watt
    evse_min_discharge_power: Watt
    evse_max_discharge_current: Ampere
    evse_min_discharge_current: Ampere


class EvseStatusAndLimits(ApiModel):
    evse_id: EvseId
    status_code: StatusCode
    ac: AcLimits | None = None
    ac_bpt: AcBptLimits | None = None
    dc: DcLimits | None = None
    dc_bpt: DcBptLimits | None = None


class CsStatusAndLimitsRequest(Empty):
    pass


class CsStatusAndLimitsResponse(ApiModel):
    evses: Annotated[list[EvseStatusAndLimits], Field(min_length=1)]


class CsStatusAndLimitsUpdate(CsStatusAndLimitsResponse):
    pass


class ServiceParameters(ApiModel):
    connector_type: Literal[
        "AC_single_phase_core",
        "AC_three_phase_core",
        "DC_core",
        "DC_extended",
        "DC_combo_core",
        "DC_unique",
    ]
    control_mode: Literal["scheduled", "dynamic"] | None = None
    nominal_voltage: Volt
    bpt_channel: Literal["unified", "separated"] | None = None
    generator_mode: Literal["grid_following", "grid_forming"] | None = None
    grid_island_detection_mode: Literal["active", "passive"] | None = None


class ConnectorServices(ApiModel):
    ac: ServiceParameters | None = None
    ac_bpt: ServiceParameters | None = None
    dc: ServiceParameters | None = None
    dc_bpt: ServiceParameters | None = None

    __rules__ = (rules.connector_offers_a_service,)


class ParameterConnector(ApiModel):
    id: ConnectorId
    services: ConnectorServices


class EvseParameters(ApiModel):
    evse_id: EvseId
    supports_eim: bool
    network_interface: Annotated[str, Field(min_length=1, max_length=15)]  # IFNAMSIZ - 1
    connectors: Annotated[list[ParameterConnector], Field(min_length=1)]


class CsParametersRequest(Empty):
    pass


class CsParametersResponse(ApiModel):
    sw_version: Annotated[str, Field(max_length=50)]
    hw_version: Annotated[str, Field(max_length=50)]
    number_of_evses: Annotated[int, Field(ge=1, le=1000)]
    parameters: Annotated[list[EvseParameters], Field(min_length=1)]


ServiceName = Literal["slac", "iso15118", "ocpp", "gridcode", "smart_charging"]


class ServiceStatusRequest(ApiModel):
    service: ServiceName


class ServiceStatusResponse(ApiModel):
    service: ServiceName
    software_version: Annotated[str, Field(max_length=50)]
    api_version: Annotated[str, Field(max_length=20)]
    status: Literal["ready", "starting", "stopping", "error", "busy"]


class ServiceStatusUpdate(ServiceStatusResponse):
    pass


# Control pilot, SLAC, contactor, connector -------------------------------------------------------

CpState = Literal["A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2", "E", "F"]


class CpStatusUpdate(ApiModel):
    evse_id: EvseId
    connector_id: ConnectorId
    state: CpState
    max_voltage: Annotated[float, Field(ge=-15, le=15)] | None = None
    min_voltage: Annotated[float, Field(ge=-15, le=15)] | None = None
    duty_cycle: Annotated[float, Field(ge=0, le=100)] | None = None


class CpPwmRequest(ApiModel):
    evse_id: EvseId
    hlc: bool
    current: Annotated[float, Field(ge=0, le=80)] | None = None
    error_state: bool
    fault_state: bool

    __rules__ = (rules.cp_pwm_current,)


class CpPwmResponse(ApiModel):
    evse_id: EvseId
    status: Literal["valid", "invalid", "error"]
    info: Text | None = None


class SlacStatusUpdate(ApiModel):
    evse_id: EvseId
    run_id: Annotated[str, Field(min_length=1, max_length=32)]  # 8-byte RunID as hex
    status: Literal["matching", "failed", "matched", "unmatched", "basic_charging"]


class HlcChargingUpdate(ApiModel):
    evse_id: EvseId
    status: bool
    action: Literal["pause", "resume"] | None = None


class CsContactorStatusRequest(ApiModel):
    evse_id: EvseId


class CsContactorStatusResponse(ApiModel):
    evse_id: EvseId
    status: Literal["closed", "opened", "error"]
    info: Text | None = None


class CsContactorStatusUpdate(CsContactorStatusResponse):
    pass


class CsConnectorRequest(ApiModel):
    evse_id: EvseId
    connector_id: ConnectorId
    action: Literal["lock", "unlock", "status"]


class CsConnectorResponse(ApiModel):
    evse_id: EvseId
    connector_id: ConnectorId
    status: Literal["locked", "unlocked", "error", "unknown"]
    info: Text | None = None


class ChangeAvailabilityRequest(ApiModel):
    operational_status: Literal["operative", "inoperative"]
    evse_id: EvseId | None = None
    connector_id: ConnectorId | None = None

    __rules__ = (rules.connector_needs_evse,)


class ChangeAvailabilityResponse(ApiModel):
    status: AcceptedRejected


class ChangeAvailabilityUpdate(ChangeAvailabilityRequest):
    pass


class ResetRequest(ApiModel):
    evse_id: EvseId | None = None


class ResetResponse(ApiModel):
    status: AcceptedRejected


# DC power path ------------------------------------------------------------------------------------


class CableCheckRequest(ApiModel):
    evse_id: EvseId
    cable_check_action: Literal["start", "status"]


class CableCheckResponse(ApiModel):
    evse_id: EvseId
    cable_check_status: Literal["ongoing", "finished"]
    isolation_level: IsolationLevel | None = None

    __rules__ = (rules.isolation_level_when_finished,)


class EvLimits(ApiModel):
    maximum_voltage: Volt
    minimum_voltage: Volt | None = None


class AcSetpoint(ApiModel):
    charge_active_power: Watt | None = None
    charge_reactive_power: Watt | None = None
    charge_current: Ampere | None = None
    discharge_active_power: Watt | None = None
    discharge_reactive_power: Watt | None = None
    discharge_current: Ampere | None = None


class DcSetpoint(ApiModel):
    voltage: Volt
    charge_current: Ampere | None = None
    charge_power: Watt | None = None
    discharge_current: Ampere | None = None
    discharge_power: Watt | None = None


class PowerElectronicsSetpointRequest(ApiModel):
    evse_id: EvseId
    ev_limits: EvLimits
    is_precharge: bool | None = None
    ac: AcSetpoint | None = None
    dc: DcSetpoint | None = None


class PowerElectronicsSetpointResponse(ApiModel):
    evse_id: EvseId
    status: AcceptedRejected


# Metering and authorization ----------------------------------------------------------------------


class MeterValuesRequest(ApiModel):
    timestamp: AwareDatetime
    evse_id: EvseId | None = None


class SignedMeterValue(ApiModel):
    measurand: Annotated[str, Field(max_length=50)]
    signed_meter_data: Annotated[str, Field(max_length=5000)]  # base64, OCPP limit 2500 chars x2
    signing_method: Annotated[str, Field(max_length=50)]
    encoding_method: Annotated[str, Field(max_length=50)]
    public_key: Annotated[str, Field(max_length=2500)]


Energy = Annotated[float, Field(ge=0, le=1e12)]


class MeterValuesResponse(ApiModel):
    evse_id: EvseId | None = None
    timestamp: AwareDatetime
    voltage: PhaseValues
    current: PhaseValues
    power_factor: Annotated[float, Field(ge=0, le=1)]
    dc_current: Ampere | None = None
    dc_voltage: Volt | None = None
    frequency: Annotated[float, Field(ge=0, le=1000)]
    total_active_energy_imported: Energy
    total_active_energy_exported: Energy | None = None
    total_reactive_energy_imported: Energy
    total_reactive_energy_exported: Energy | None = None
    soc: Annotated[float, Field(ge=0, le=100)] | None = None
    signed_meter_values: list[SignedMeterValue] | None = None


class MeterValuesUpdate(MeterValuesResponse):
    pass


class AuthorizationRequest(ApiModel):
    evse_id: EvseId | None = None
    id_token: IdToken | None = None
    token_type: TokenType


class AuthorizationResponse(ApiModel):
    status: AuthorizationStatus


class AuthorizationUpdate(ApiModel):
    evse_id: EvseId
    id_token: IdToken | None = None
    token_type: TokenTypeExt
    status: AuthorizationStatus


class ProcessAuthorizedTokenRequest(ApiModel):
    evse_id: EvseId | None = None
    token_type: TokenTypeExt
    id_token: IdToken | None = None


class ProcessAuthorizedTokenResponse(ApiModel):
    status: Literal["accepted", "discarded"]


class StopChargingRequest(ApiModel):
    evse_id: EvseId


class StopChargingResponse(ApiModel):
    evse_id: EvseId
    status: AcceptedRejected


class TransactionStatusUpdate(ApiModel):
    transaction_id: Annotated[str, Field(min_length=1, max_length=36)]
    evse_id: EvseId | None = None
    status: Literal["started", "in_progress", "ended"]
    id_token: IdToken | None = None
    token_type: TokenTypeExt | None = None


# OCPP and CSMS related ---------------------------------------------------------------------------


class WebsocketStatusRequest(Empty):
    pass


class WebsocketStatusResponse(ApiModel):
    status: Literal["connected", "disconnected"]
    identity: Annotated[str, Field(max_length=48)] | None = None
    csms_url: Annotated[str, Field(max_length=512)] | None = None
    security_profile: Annotated[int, Field(ge=1, le=3)] | None = None


class WebsocketStatusUpdate(WebsocketStatusResponse):
    pass


class DisplayAndPersonalMsgUpdate(ApiModel):
    display_msg_trigger_reason: Literal["display_message", "authorized", "updated", "ended"]
    content: Annotated[str, Field(max_length=512)]
    message_state: Literal["charging", "faulted", "idle", "unavailable"] | None = None
    total_cost: Annotated[float, Field(ge=0, le=1e9)] | None = None
    language: Annotated[str, Field(max_length=8)] | None = None  # RFC 5646 tag, OCPP limit
    priority: Literal["always_front", "in_front", "normal_cycle"] | None = None
    evse_id: EvseId | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None  # ISO 4217
    qr_code_text: Annotated[str, Field(max_length=512)] | None = None
    start_date_time: AwareDatetime | None = None
    end_date_time: AwareDatetime | None = None


class NotifyEventUpdate(ApiModel):
    event_id: Annotated[int, Field(ge=0, le=2**31 - 1)]
    timestamp: AwareDatetime
    tech_code: Annotated[str, Field(max_length=50)] | None = None
    tech_info: Annotated[str, Field(max_length=500)] | None = None
    transaction_id: Annotated[str, Field(max_length=36)] | None = None
    evse_id: EvseId | None = None


RequestId = Annotated[int, Field(ge=0, le=2**31 - 1)]


class UpdateFirmwareRequest(ApiModel):
    """OCPP 2.0.1 UpdateFirmware (L01/L02); the OTA service is the receiver."""

    request_id: RequestId
    location: Annotated[str, Field(min_length=1, max_length=512)]
    retrieve_date_time: AwareDatetime
    install_date_time: AwareDatetime | None = None
    signing_certificate: Annotated[str, Field(max_length=5500)] | None = None  # PEM
    signature: Annotated[str, Field(max_length=800)] | None = None  # base64
    retries: Annotated[int, Field(ge=0, le=1000)] | None = None
    retry_interval: Annotated[int, Field(ge=0, le=86400)] | None = None  # s


class UpdateFirmwareResponse(ApiModel):
    status: Literal[
        "accepted", "rejected", "accepted_canceled", "invalid_certificate", "revoked_certificate"
    ]


class FirmwareStatusUpdate(ApiModel):
    status: Literal[
        "Downloaded",
        "DownloadFailed",
        "Downloading",
        "DownloadScheduled",
        "DownloadPaused",
        "Idle",
        "InstallationFailed",
        "Installing",
        "Installed",
        "InstallRebooting",
        "InstallScheduled",
        "InstallVerificationFailed",
        "InvalidSignature",
        "SignatureVerified",
    ]
    request_id: RequestId | None = None


class UploadLogsRequest(ApiModel):
    """OCPP 2.0.1 GetLog (N01)."""

    request_id: RequestId
    log_type: Literal["DiagnosticsLog", "SecurityLog"]
    remote_location: Annotated[str, Field(min_length=1, max_length=512)]
    oldest_timestamp: AwareDatetime | None = None
    latest_timestamp: AwareDatetime | None = None
    retries: Annotated[int, Field(ge=0, le=1000)] | None = None
    retry_interval: Annotated[int, Field(ge=0, le=86400)] | None = None


class UploadLogsResponse(ApiModel):
    status: Literal["accepted", "rejected", "accepted_canceled"]
    filename: Annotated[str, Field(max_length=255)] | None = None


class LogStatusUpdate(ApiModel):
    status: Literal[
        "BadMessage",
        "Idle",
        "NotSupportedOperation",
        "PermissionDenied",
        "Uploaded",
        "UploadFailure",
        "Uploading",
        "AcceptedCanceled",
    ]
    request_id: RequestId | None = None


# TPM and certificates ----------------------------------------------------------------------------


class GenerateCsrRequest(ApiModel):
    certificate_type: CertificateType
    common_name: Annotated[str, Field(min_length=1, max_length=64)]  # X.520 ub-common-name
    organization_name: Annotated[str, Field(min_length=1, max_length=64)]
    country_name: Annotated[str, Field(min_length=2, max_length=2)]
    algorithm: Literal["ECDSA_SHA256", "ECDSA_SHA512", "RSA_SHA256", "RSA_SHA384"] | None = None
    evse_id: EvseId | None = None

    __rules__ = (rules.v2g20_needs_p521,)


class GenerateCsrResponse(ApiModel):
    status: AcceptedRejected
    csr: Annotated[str, Field(max_length=5500)] | None = None  # PEM

    __rules__ = (rules.csr_when_accepted,)


class CertificateInstallationStatusUpdate(ApiModel):
    certificate_type: CertificateType
    private_key_path: Annotated[str, Field(max_length=4096)] | None = None
    status: Literal["installed", "deleted", "failed_installation"]


# ISO 15118 specific ------------------------------------------------------------------------------

SessionStatus = Literal[
    "Idle",
    "SessionSetup",
    "SupportedAppProtocol",
    "ServiceDiscovery",
    "ServiceDetail",
    "CertificateInstallation",
    "ServiceSelection",
    "AuthorizationSetup",
    "Authorization",
    "ChargeParameterDiscovery",
    "CableCheck",
    "PreCharge",
    "PowerDelivery",
    "ChargingLoop",
    "MeteringReceipt",
    "ScheduleExchange",
    "WeldingDetection",
    "SessionStop",
]


class Iso15118SessionInfo(ApiModel):
    session_id: Annotated[str, Field(max_length=16)]  # 8 bytes as hex
    evcc_id: Annotated[str, Field(max_length=40)]
    evcc_mac: Annotated[str, Field(max_length=17)]
    selected_payment_option: Literal["EIM", "PNC"]
    protocol: Literal[
        "ISO_15118_2",
        "ISO_15118_20_AC",
        "ISO_15118_20_DC",
        "ISO_15118_20_WPT",
        "ISO_15118_20_ACDP",
        "DIN_SPEC_70121",
        "UNKNOWN",
    ]
    stop_action: Literal["Pause", "Terminate", "ServiceRenegotiation", "Error"]


class Iso15118StateInfoUpdate(ApiModel):
    evse_id: EvseId
    session_status: SessionStatus
    info: Iso15118SessionInfo | None = None


class Iso15118HashData(ApiModel):
    hash_algorithm: Literal["SHA256", "SHA384", "SHA512"]
    issuer_name_hash: Annotated[str, Field(max_length=128)]
    issuer_key_hash: Annotated[str, Field(max_length=128)]
    serial_number: Annotated[str, Field(max_length=40)]
    responder_url: Annotated[str, Field(max_length=512)]


class Iso15118TokenData(ApiModel):
    certificate_chain: Annotated[str, Field(max_length=10000)] | None = None  # PEM
    iso15118_hash_data: Annotated[list[Iso15118HashData], Field(max_length=4)]


class Iso15118AuthorizationRequest(ApiModel):
    evse_id: EvseId
    id_token: IdToken
    token_type: Literal["mac_address", "e_maid"]
    token_data: Iso15118TokenData | None = None


class Iso15118AuthorizationResponse(ApiModel):
    """The OCPP Authorize outcome (IdTokenInfo.status and certificateStatus), in snake case."""

    status: Literal[
        "accepted",
        "blocked",
        "concurrent_tx",
        "expired",
        "invalid",
        "no_credit",
        "not_allowed_type_evse",
        "not_at_this_location",
        "not_at_this_time",
        "unknown",
    ]
    certificate_status: (
        Literal[
            "accepted",
            "signature_error",
            "certificate_expired",
            "certificate_revoked",
            "no_certificate_available",
            "cert_chain_error",
            "contract_cancelled",
        ]
        | None
    ) = None


class Iso15118GetEvCertificateRequest(ApiModel):
    action: Literal["install", "update"]
    iso15118_schema_version: Annotated[str, Field(max_length=50)]
    exi_request: Annotated[str, Field(min_length=1, max_length=7500)]  # base64 EXI


class Iso15118GetEvCertificateResponse(ApiModel):
    status: Literal["accepted", "failed"]
    exi_response: Annotated[str, Field(max_length=17000)]  # base64 EXI


class Iso15118ChargeLimitUpdate(ApiModel):
    evse_id: EvseId
    limit: Watt
    unit: Literal["W", "A"]


# Error answers (an addition to the contract: see docs/api.md) ------------------------------------


class ErrorData(ApiModel):
    """Sent with type "error" and the request's id when a request cannot be answered."""

    code: Literal["invalid_message", "unknown_message", "wrong_topic", "handler_failed", "busy"]
    reason: Annotated[str, Field(max_length=2000)]
