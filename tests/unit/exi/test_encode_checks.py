"""Values outside the schema facets, or in the wrong shape, are refused at encode time."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from josev import exi
from josev.exi import ExiError
from josev.exi.generated import appHand, din, iso20_DC

from .conftest import vectors


def _req(**kw: Any) -> appHand.supportedAppProtocolReq:
    proto: dict[str, Any] = {"ProtocolNamespace": "urn:din:70121:2012:MsgDef",
                             "VersionNumberMajor": 2, "VersionNumberMinor": 0, "SchemaID": 1,
                             "Priority": 1}
    proto.update(kw)
    return appHand.supportedAppProtocolReq(AppProtocol=[appHand.AppProtocolType(**proto)])


def test_valid_message_encodes_and_round_trips() -> None:
    msg = _req()
    assert exi.decode(exi.encode(msg), "appHand") == msg


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("Priority", 0, "outside [1, 20]"),
    ("Priority", 21, "outside [1, 20]"),
    ("SchemaID", 256, "outside [0, 255]"),
    ("VersionNumberMajor", -1, "outside"),
    ("VersionNumberMajor", 2**32, "outside"),
    ("VersionNumberMajor", "2", "expected an integer"),
    ("ProtocolNamespace", "x" * 101, "length 101 outside"),
    ("ProtocolNamespace", 5, "expected a string"),
])
def test_facets_refused(field: str, value: Any, needle: str) -> None:
    with pytest.raises(ExiError) as info:
        exi.encode(_req(**{field: value}))
    assert needle in info.value.reason


def test_list_bounds_and_required_fields() -> None:
    proto = _req().AppProtocol[0]
    with pytest.raises(ExiError, match="needs 1 to 20 items"):
        exi.encode(appHand.supportedAppProtocolReq(AppProtocol=[proto] * 21))
    with pytest.raises(ExiError, match="needs 1 to 20 items"):
        exi.encode(appHand.supportedAppProtocolReq(AppProtocol=[]))
    res = appHand.supportedAppProtocolRes(ResponseCode="OK_SuccessfulNegotiation")
    assert exi.decode(exi.encode(res), "appHand") == res
    with pytest.raises(ExiError, match="not one of"):
        exi.encode(appHand.supportedAppProtocolRes(ResponseCode="OK"))
    res.ResponseCode = None  # type: ignore[assignment]
    with pytest.raises(ExiError, match="required"):
        exi.encode(res)


def test_wrong_class_in_substitution_group_and_choice() -> None:
    vec = next(v for v in vectors("iso20_DC") if v["message"] == "DC_ChargeLoopReq")
    msg = exi.from_json(vec["value"], "iso20_DC")
    assert isinstance(msg, iso20_DC.DC_ChargeLoopReqType)
    msg.CLReqControlMode = iso20_DC.RationalNumberType(Exponent=0, Value=1)  # type: ignore[assignment]
    with pytest.raises(ExiError, match="not allowed"):
        exi.encode(msg)


def test_bad_json_is_refused() -> None:
    vec = vectors("din")[3]
    j = copy.deepcopy(vec["value"])
    j["V2G_Message"]["Header"]["SessionID"] = "XYZ"
    with pytest.raises(ExiError, match="bad hex"):
        exi.from_json(j, "din")
    j = copy.deepcopy(vec["value"])
    j["V2G_Message"]["Header"]["NoSuchField"] = 1
    with pytest.raises(ExiError, match="not an element or attribute"):
        exi.from_json(j, "din")
    with pytest.raises(ExiError):
        exi.from_json({"a": 1, "b": 2}, "din")
    assert isinstance(exi.from_json(vec["value"], "din"), din.V2G_Message)
