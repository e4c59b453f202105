"""The API models and envelope: the contract as listed, and every kind of bad input refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from josev.api import models as m
from josev.api.envelope import MAX_PAYLOAD, decode, encode, new_id
from josev.api.errors import InvalidMessage
from josev.api.examples import EXAMPLES
from josev.api.registry import SPECS
from josev.api.schema import all_schemas, render

ROOT = Path(__file__).resolve().parents[3]

# The contract of shared/josev-api.md, written out independently of the registry: name -> types.
CONTRACT: dict[str, set[str]] = {
    "device_model": {"request", "response"},
    "cs_status_and_limits": {"request", "response", "update"},
    "cs_parameters": {"request", "response"},
    "service_status": {"request", "response", "update"},
    "cp_status": {"update"},
    "cp_pwm": {"request", "response"},
    "slac_status": {"update"},
    "hlc_charging": {"update"},
    "cs_contactor_status": {"request", "response", "update"},
    "cs_connector": {"request", "response"},
    "change_availability": {"request", "response", "update"},
    "reset": {"request", "response"},
    "cable_check": {"request", "response"},
    "power_electronics_setpoint": {"request", "response"},
    "meter_values": {"request", "response", "update"},
    "authorization": {"request", "response", "update"},
    "process_authorized_token": {"request", "response"},
    "stop_charging": {"request", "response"},
    "transaction_status": {"update"},
    "websocket_status": {"request", "response", "update"},
    "display_and_personal_msg": {"update"},
    "notify_event": {"update"},
    "update_firmware": {"request", "response"},
    "firmware_status": {"update"},
    "upload_logs": {"request", "response"},
    "log_status": {"update"},
    "generate_csr": {"request", "response"},
    "certificate_installation_status": {"update"},
    "iso15118_state_info": {"update"},
    "iso15118_authorization": {"request", "response"},
    "iso15118_get_ev_certificate": {"request", "response"},
    "iso15118_charge_limit": {"update"},
}


def test_registry_matches_the_contract() -> None:
    declared = {(n, t) for n, types in CONTRACT.items() for t in types}
    assert set(SPECS) == declared


def test_every_message_has_a_valid_example() -> None:
    assert set(EXAMPLES) == set(SPECS)
    for key, data in EXAMPLES.items():
        SPECS[key].model.model_validate(data)


@pytest.mark.parametrize("key", sorted(SPECS), ids=lambda k: f"{k[0]}.{k[1]}")
def test_envelope_round_trip_and_schema(key: tuple[str, str]) -> None:
    sp = SPECS[key]
    value = sp.model.model_validate(EXAMPLES[key])
    payload = encode(new_id(), sp.name, sp.msg_type, value)
    for topic in sp.topics:
        msg = decode(topic, payload)
        assert msg.data == value and msg.name == sp.name and msg.type == sp.msg_type
    # The exported schema accepts what the client sends (a station validates with it alone).
    schema = all_schemas()[f"{sp.name}.{sp.msg_type}.json"]
    jsonschema.validate(json.loads(payload), schema)


def test_schemas_in_docs_are_current() -> None:
    folder = ROOT / "docs" / "api" / "schemas"
    wanted = all_schemas()
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(wanted), (
        "run ./dev regen (josev api schemas docs/api/schemas)"
    )
    for name, schema in wanted.items():
        assert (folder / name).read_text() == render(schema), f"{name} is stale: run ./dev regen"


def test_one_schema_per_name_and_type() -> None:
    names = set(all_schemas()) - {"error.json"}
    assert names == {f"{n}.{t}.json" for n, types in CONTRACT.items() for t in types}


def test_schemas_reject_extra_and_missing_fields() -> None:
    schema = all_schemas()["cp_status.update.json"]
    good = json.loads(
        encode(
            new_id(), "cp_status", "update", m.CpStatusUpdate(evse_id=1, connector_id=1, state="B1")
        )
    )
    jsonschema.validate(good, schema)
    bad_extra = {**good, "data": {**good["data"], "bogus": 1}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_extra, schema)
    bad_missing = {**good, "data": {"evse_id": 1, "connector_id": 1}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_missing, schema)


def _env(
    name: str = "cp_status", type_: str = "update", data: object = None, **kw: object
) -> bytes:
    obj = {
        "id": new_id(),
        "name": name,
        "type": type_,
        "data": data if data is not None else {"evse_id": 1, "connector_id": 1, "state": "A1"},
    }
    obj.update(kw)
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "code", "fragment"),
    [
        ("cs/josev", b"{not json", "invalid_message", "not JSON"),
        ("cs/josev", b"[1, 2]", "invalid_message", "not an object"),
        ("cs/josev", b'{"id": "x"}', "invalid_message", "missing"),
        ("cs/josev", _env(extra=1), "invalid_message", "extra ['extra']"),
        ("cs/josev", _env(id="not-a-uuid"), "invalid_message", "not a UUID"),
        ("cs/josev", _env(id="6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "invalid_message", "UUID4"),
        ("cs/josev", _env(type="push"), "invalid_message", "type must be one of"),
        ("cs/josev", _env(name="warp_drive"), "unknown_message", "unknown message name"),
        ("cs/josev", _env(type="request"), "unknown_message", "has no request"),
        ("josev/cs", _env(), "wrong_topic", "belongs on cs/josev"),
        ("cs/elsewhere", _env(), "wrong_topic", "not a Josev API topic"),
        ("cs/josev", _env(data=[1]), "invalid_message", "not an object"),
        ("cs/josev", _env(data={"evse_id": 1, "connector_id": 1}), "invalid_message", "state"),
        (
            "cs/josev",
            _env(data={"evse_id": 1, "connector_id": 1, "state": "A1", "x": 1}),
            "invalid_message",
            "x: Extra inputs",
        ),
        (
            "cs/josev",
            _env(data={"evse_id": "one", "connector_id": 1, "state": "A1"}),
            "invalid_message",
            "evse_id",
        ),
        (
            "cs/josev",
            _env(data={"evse_id": 1, "connector_id": 1, "state": "G"}),
            "invalid_message",
            "state",
        ),
        (
            "cs/josev",
            _env(data={"evse_id": 1, "connector_id": 1, "state": "C2", "duty_cycle": 101}),
            "invalid_message",
            "duty_cycle",
        ),
        (
            "cs/josev",
            _env(data={"evse_id": 10**30, "connector_id": 1, "state": "C2"}),
            "invalid_message",
            "evse_id",
        ),
        ("cs/josev", b'{"id": NaN}', "invalid_message", "not JSON"),
        ("cs/josev", b"[" * 100000 + b"]" * 100000, "invalid_message", "not JSON"),
        ("cs/josev", b" " * (MAX_PAYLOAD + 1), "invalid_message", "exceeds"),
        ("cs/josev", b"\xff\xfe\x00", "invalid_message", "not JSON"),
    ],
)
def test_bad_input_is_refused_with_a_specific_reason(
    topic: str, payload: bytes, code: str, fragment: str
) -> None:
    with pytest.raises(InvalidMessage) as info:
        decode(topic, payload)
    assert info.value.code == code
    assert fragment in info.value.reason


def test_error_keeps_what_could_be_read() -> None:
    msg_id = new_id()
    payload = json.dumps(
        {"id": msg_id, "name": "cable_check", "type": "request", "data": {"evse_id": 1}}
    ).encode()
    with pytest.raises(InvalidMessage) as info:
        decode("josev/cs", payload)
    assert (info.value.message_id, info.value.name, info.value.type) == (
        msg_id,
        "cable_check",
        "request",
    )
    assert "cable_check_action" in info.value.reason


@pytest.mark.parametrize(
    ("model", "data", "fragment"),
    [
        (
            m.CpPwmRequest,
            {"evse_id": 1, "hlc": True, "current": 16, "error_state": False, "fault_state": False},
            "absent when hlc",
        ),
        (
            m.CpPwmRequest,
            {"evse_id": 1, "hlc": False, "current": 3, "error_state": False, "fault_state": False},
            "0 (100 % duty) or 6..80",
        ),
        (
            m.CpPwmRequest,
            {"evse_id": 1, "hlc": False, "current": 81, "error_state": False, "fault_state": False},
            "less than or equal to 80",
        ),
        (
            m.CableCheckResponse,
            {"evse_id": 1, "cable_check_status": "finished"},
            "isolation_level is required",
        ),
        (
            m.GenerateCsrRequest,
            {
                "certificate_type": "v2g20_certificate",
                "common_name": "x",
                "organization_name": "o",
                "country_name": "DE",
                "algorithm": "ECDSA_SHA256",
            },
            "secp521r1",
        ),
        (m.ConnectorServices, {}, "at least one"),
        (
            m.DeviceModelResponse,
            {**EXAMPLES[("device_model", "response")], "security_profile": 4},
            "security_profile",
        ),
        (
            m.DisplayAndPersonalMsgUpdate,
            {"display_msg_trigger_reason": "updated", "content": "x" * 513},
            "content",
        ),
        (m.MeterValuesRequest, {"timestamp": "2026-11-22T10:00:00"}, "timezone"),
        (m.DcSetpoint, {"voltage": 400_000}, "voltage"),
    ],
)
def test_contract_rules(model: type[m.ApiModel], data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        model.model_validate(data)


def test_decode_if_skips_only_the_data_of_unwanted_messages() -> None:
    from josev.api.envelope import decode_if

    bad_data = _env(data={"evse_id": 1, "connector_id": 1, "state": "Q"})
    assert decode_if("cs/josev", bad_data, lambda i, n, t: False) is None
    with pytest.raises(InvalidMessage, match="state"):
        decode_if("cs/josev", bad_data, lambda i, n, t: True)
    # The envelope, the name and the topic are checked whatever the receiver wants.
    with pytest.raises(InvalidMessage, match="unknown message name"):
        decode_if("cs/josev", _env(name="warp_drive"), lambda i, n, t: False)
    with pytest.raises(InvalidMessage, match="belongs on"):
        decode_if("josev/cs", _env(), lambda i, n, t: False)
