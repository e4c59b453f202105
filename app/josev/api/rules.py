"""Cross-field rules of the API models, in plain Python.

Why not inside the pydantic classes: josev-iso15118 validates with code compiled from those
classes (josev.lean) and must not import pydantic; both validators call these same functions, so
a rule is written once. Each takes the finished model and raises ValueError.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

# RFC 3339 date-time with a mandatory offset ("Z" or +hh:mm): what the API's timestamps are.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_timestamp(value: object) -> datetime:
    """An aware datetime from an RFC 3339 string (or an aware datetime); nothing else.

    Stricter than pydantic's own datetime parsing on purpose: no Unix numbers, no naive times,
    no week dates; one definition that both validators share."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp needs a timezone offset")
        return value
    if not isinstance(value, str):
        raise ValueError("timestamp must be an RFC 3339 string")
    if len(value) > 40 or not _RFC3339.fullmatch(value):
        raise ValueError(f"{value[:40]!r} is not an RFC 3339 date-time with a timezone offset")
    text = value.upper().replace(" ", "T").replace("Z", "+00:00")
    frac = re.search(r"\.(\d+)", text)
    if frac is not None and len(frac.group(1)) > 6:   # datetime keeps microseconds
        text = text[: frac.start(1) + 6] + text[frac.end(1):]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date-time") from None


def format_timestamp(value: datetime) -> str:
    """The JSON form of a timestamp: ISO 8601, UTC written as Z (as pydantic writes it)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def connector_offers_a_service(o: Any) -> None:
    if o.ac is None and o.ac_bpt is None and o.dc is None and o.dc_bpt is None:
        raise ValueError("a connector offers at least one of ac, ac_bpt, dc, dc_bpt")


def cp_pwm_current(o: Any) -> None:
    if o.hlc and o.current is not None:
        raise ValueError("current must be absent when hlc is true (5 % duty)")
    if o.current is not None and 0 < o.current < 6:
        raise ValueError("current must be 0 (100 % duty) or 6..80 A")


def connector_needs_evse(o: Any) -> None:
    if o.connector_id is not None and o.evse_id is None:
        raise ValueError("connector_id needs evse_id")


def isolation_level_when_finished(o: Any) -> None:
    if o.cable_check_status == "finished" and o.isolation_level is None:
        raise ValueError("isolation_level is required when cable_check_status is finished")


def v2g20_needs_p521(o: Any) -> None:
    if o.certificate_type == "v2g20_certificate" and o.algorithm not in (None, "ECDSA_SHA512"):
        raise ValueError("v2g20_certificate needs ECDSA_SHA512 (secp521r1)")


def csr_when_accepted(o: Any) -> None:
    if o.status == "accepted" and not o.csr:
        raise ValueError("csr is required when status is accepted")
