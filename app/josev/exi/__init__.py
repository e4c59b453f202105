"""Pure-Python EXI codec for the V2G schemas (appHand, DIN 70121, ISO 15118-2, ISO 15118-20).

Schema-informed EXI 1.0 with the V2G profile: bit-packed, strict=false, no options, header
0x80, no string tables. The per-family code in `josev.exi.generated` is generated from the
XSDs by `python -m josev.exi.generator`. Sans-I/O: bytes in, typed message objects out.

    msg = decode(data, "iso20_DC")          # -> josev.exi.generated.iso20_DC.DC_ChargeLoopReqType
    data = encode(msg)                      # the family and root element follow from the class
    j = to_json(msg)                        # FORMAT.md convention: {"DC_ChargeLoopReq": {...}}
    digest = signed_digest("SignedInfo", signed_info, "iso2")   # SHA-256 of the EXI fragment

Every failure is a `ExiError` with `.reason` and `.bit_position`.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from typing import Any

from .runtime import ExiError, Family, Message

FAMILIES: tuple[str, ...] = ("appHand", "din", "iso2", "iso20_CommonMessages", "iso20_AC",
                             "iso20_DC", "iso20_WPT", "iso20_ACDP")
_PREFIX = "josev.exi.generated."

__all__ = ["FAMILIES", "ExiError", "Message", "decode", "decode_document", "encode",
           "encode_fragment", "family", "from_json", "signed_digest", "to_json"]


def family(name: str) -> Family:
    """The codec of one schema family (its generated module is imported on first use)."""
    if name not in FAMILIES:
        raise ExiError(f"unknown family {name!r}; one of {', '.join(FAMILIES)}")
    mod = importlib.import_module(_PREFIX + name)
    fam: Family = mod.FAMILY
    return fam


def _family_of(msg: object) -> Family:
    mod = type(msg).__module__
    if not mod.startswith(_PREFIX) or mod not in sys.modules:
        raise ExiError(f"{type(msg).__name__} is not a generated EXI message class")
    fam: Family = sys.modules[mod].FAMILY
    return fam


def decode_document(data: bytes, family_name: str) -> tuple[str, Any]:
    """Decode a complete EXI stream; returns (root element name, message)."""
    return family(family_name).decode(bytes(data))


def decode(data: bytes, family_name: str) -> Any:
    """Decode a complete EXI stream into the message object of its root element."""
    return family(family_name).decode(bytes(data))[1]


def encode(msg: Any, root: str | None = None) -> bytes:
    """Encode a message object as a complete EXI stream (header 0x80 .. padding).

    `root` names the global element when the message's type is shared by several."""
    return _family_of(msg).encode(root, msg)


def encode_fragment(element: str, value: Any, family_name: str | None = None) -> bytes:
    """The EXI fragment (SD, SE(element), content, EE, ED) that ISO 15118 hashes and signs."""
    fam = family(family_name) if family_name else _family_of(value)
    return fam.encode_fragment(element, value)


def signed_digest(element: str, value: Any, family_name: str | None = None) -> bytes:
    """Digest of the EXI fragment: SHA-256 for ISO 15118-2 (and DIN), SHA-512 for -20."""
    fam = family(family_name) if family_name else _family_of(value)
    frag = fam.encode_fragment(element, value)
    algo = hashlib.sha512 if fam.name.startswith("iso20") else hashlib.sha256
    return algo(frag).digest()


def to_json(msg: Any, root: str | None = None) -> dict[str, Any]:
    """The FORMAT.md JSON convention: {"<root element>": {...}}."""
    fam = _family_of(msg)
    if root is None:
        idx = fam.by_class.get(type(msg), [])
        if len(idx) != 1:
            raise ExiError(f"{type(msg).__name__}: name the root element")
        root = fam.doc[idx[0]].name
    return fam.to_json(root, msg)


def from_json(obj: Any, family_name: str) -> Any:
    """Build the message object from the FORMAT.md JSON convention (values are checked when
    encoding)."""
    return family(family_name).from_json(obj)[1]
