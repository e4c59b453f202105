"""SupportedAppProtocol: both sides, through the real appHand codec."""

from __future__ import annotations

import pytest

from josev.exi import decode, encode
from josev.exi.generated.appHand import (
    AppProtocolType,
    supportedAppProtocolReq,
    supportedAppProtocolRes,
)
from josev.sap import PROTOCOLS, SapError, evcc_request, evcc_result, secc_negotiate


def wire(req: supportedAppProtocolReq) -> supportedAppProtocolReq:
    out: supportedAppProtocolReq = decode(encode(req), "appHand")
    return out


def test_ev_priority_wins_by_default() -> None:
    req = wire(evcc_request(["DIN", "ISO20_DC"]))
    got = secc_negotiate(req, ["ISO20_DC", "DIN"])
    assert got.protocol is not None and got.protocol.name == "DIN"
    assert got.response.ResponseCode == "OK_SuccessfulNegotiation"
    assert got.response.SchemaID == 1


def test_secc_priority_when_configured() -> None:
    req = wire(evcc_request(["DIN", "ISO20_DC"]))
    got = secc_negotiate(req, ["ISO20_DC", "DIN"], prefer="secc")
    assert got.protocol is not None and got.protocol.name == "ISO20_DC"
    assert got.response.SchemaID == 2
    assert evcc_result(req, wire_res(got.response)) == PROTOCOLS["ISO20_DC"]


def wire_res(res: supportedAppProtocolRes) -> supportedAppProtocolRes:
    out: supportedAppProtocolRes = decode(encode(res), "appHand")
    return out


def test_only_enabled_protocols_are_chosen() -> None:
    req = wire(evcc_request(["ISO20_DC", "DIN"]))
    got = secc_negotiate(req, ["DIN"])
    assert got.protocol is not None and got.protocol.name == "DIN"


def test_no_common_protocol_fails() -> None:
    req = wire(evcc_request(["ISO2"]))
    got = secc_negotiate(req, ["DIN", "ISO20_DC"])
    assert got.protocol is None
    assert got.response.ResponseCode == "Failed_NoNegotiation"
    assert got.response.SchemaID is None
    assert evcc_result(req, got.response) is None


def test_minor_deviation_and_unknown_major() -> None:
    offer = AppProtocolType(ProtocolNamespace=PROTOCOLS["DIN"].namespace, VersionNumberMajor=2,
                            VersionNumberMinor=7, SchemaID=9, Priority=1)
    other_major = AppProtocolType(ProtocolNamespace=PROTOCOLS["ISO20_DC"].namespace,
                                  VersionNumberMajor=9, VersionNumberMinor=0, SchemaID=3,
                                  Priority=2)
    req = wire(supportedAppProtocolReq(AppProtocol=[offer, other_major]))
    got = secc_negotiate(req, ["ISO20_DC", "DIN"], prefer="secc")
    assert got.protocol is not None and got.protocol.name == "DIN"
    assert got.response.ResponseCode == "OK_SuccessfulNegotiationWithMinorDeviation"
    assert got.response.SchemaID == 9


def test_unknown_namespace_is_skipped() -> None:
    odd = AppProtocolType(ProtocolNamespace="urn:example:nothing", VersionNumberMajor=1,
                          VersionNumberMinor=0, SchemaID=1, Priority=1)
    req = wire(supportedAppProtocolReq(AppProtocol=[odd]))
    assert secc_negotiate(req, ["DIN"]).protocol is None


def test_configuration_names_are_checked() -> None:
    with pytest.raises(SapError, match="unknown protocol"):
        evcc_request(["ISO20_DC", "CHADEMO"])
    with pytest.raises(SapError, match="no protocol"):
        evcc_request([])
