"""EXI fragments for signatures: event codes as libcbv2g's fragment encoders use them
(facts read from EVerest/libcbv2g: iso2 exiFragment 8-bit codes with AuthorizationReq=4,
xmldsig fragment 6-bit codes with SignedInfo=32 and ED=46; -20 CommonMessages 9-bit codes
with PnC_AReqAuthorizationMode=151 and SignedInstallationData=231)."""

from __future__ import annotations

import hashlib

from josev import exi
from josev.exi import family

from .conftest import vectors


def _first(fam: str, message: str, variant: str = "maximal") -> object:
    vec = next(v for v in vectors(fam) if v["message"] == message and v["variant"] == variant)
    return exi.from_json(vec["value"], fam)


def test_fragment_grammar_sizes_match_libcbv2g() -> None:
    iso2 = family("iso2")
    assert iso2.frag_index["AuthorizationReq"] == 4
    assert iso2.frag_index["DHpublickey"] == 45
    assert (len(iso2.frag) + 1).bit_length() == 8
    assert iso2.dsig_frag_index["SignedInfo"] == 32 and len(iso2.dsig_frag) == 45
    cm = family("iso20_CommonMessages")
    assert cm.frag_index["PnC_AReqAuthorizationMode"] == 151
    assert cm.frag_index["SignedInstallationData"] == 231
    assert (len(cm.frag) + 1).bit_length() == 9


def test_signed_info_fragment_iso2() -> None:
    msg = _first("iso2", "AuthorizationReq")
    signed_info = msg.Header.Signature.SignedInfo  # type: ignore[attr-defined]
    frag = exi.encode_fragment("SignedInfo", signed_info)
    assert frag[0] == 0x80
    # 6-bit code 32 right after the header byte
    assert (frag[1] >> 2) == 32
    assert family("iso2").decode_fragment(frag, "xmldsig") == ("SignedInfo", signed_info)
    assert exi.signed_digest("SignedInfo", signed_info) == hashlib.sha256(frag).digest()


def test_body_element_fragment_iso2() -> None:
    msg = _first("iso2", "AuthorizationReq")
    body = msg.Body.BodyElement  # type: ignore[attr-defined]
    frag = exi.encode_fragment("AuthorizationReq", body)
    assert frag[1] == 4  # 8-bit event code of AuthorizationReq
    assert family("iso2").decode_fragment(frag) == ("AuthorizationReq", body)


def test_iso20_fragment_and_sha512() -> None:
    msg = _first("iso20_CommonMessages", "AuthorizationReq", "choice-1")
    mode = msg.PnC_AReqAuthorizationMode  # type: ignore[attr-defined]
    assert mode is not None
    frag = exi.encode_fragment("PnC_AReqAuthorizationMode", mode)
    assert ((frag[1] << 1) | (frag[2] >> 7)) == 151
    assert exi.signed_digest("PnC_AReqAuthorizationMode", mode) == hashlib.sha512(frag).digest()
    fam = family("iso20_CommonMessages")
    assert fam.decode_fragment(frag) == ("PnC_AReqAuthorizationMode", mode)
