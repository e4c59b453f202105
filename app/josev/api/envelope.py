"""The JSON envelope: bytes on a topic <-> a validated Message, with precise errors.

Decoding is staged so that whatever could be read (id, name, type) travels with the error: a
receiver can still answer a broken request with an error carrying the request's id.
"""

from __future__ import annotations

import importlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from josev.api.errors import InvalidMessage
from josev.api.registry import ENVELOPE_TYPES, SPECS, TOPICS, spec

MAX_PAYLOAD = 256 * 1024  # the largest legal message (certificate chains) is far below this
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ENVELOPE_KEYS = frozenset(("id", "name", "type", "data"))


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    name: str
    type: str
    data: Any   # an instance of the model set's class for (name, type)
    topic: str

    def summary(self) -> str:
        """One readable line: what `josev api watch` prints."""
        body = json.dumps(
            self.data.model_dump(mode="json", exclude_none=True), separators=(",", ":")
        )
        return f"{self.topic:<22} {self.type:<8} {self.name:<28} {self.id[:8]} {body}"


def new_id() -> str:
    return str(uuid.uuid4())


def _is_uuid4(text: str) -> bool:
    if len(text) != 36:
        return False
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def pydantic_models() -> ModuleType:
    """The default model set: the pydantic classes (imported on first use)."""
    return importlib.import_module("josev.api.models")


def describe_validation_error(exc: ValueError, limit: int = 5) -> str:
    """Short, specific: 'evses.0.dc.max_current: Input should be a valid number'. Works for
    pydantic's ValidationError and josev.lean's (both are ValueErrors with `errors()`)."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    parts = []
    for err in errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "<data>"
        parts.append(f"{loc}: {err['msg']}")
    more = getattr(exc, "error_count", lambda: 0)() - limit
    if more > 0:
        parts.append(f"(+{more} more)")
    return "; ".join(parts)


def decode(
    topic: str, payload: bytes | bytearray | str, models: ModuleType | None = None
) -> Message:
    """Parse and validate one message received on `topic`; raise InvalidMessage on any fault."""
    msg = decode_if(topic, payload, None, models)
    assert msg is not None
    return msg


Wanted = Callable[[str, str, str], bool]


def decode_if(
    topic: str,
    payload: bytes | bytearray | str,
    wanted: Wanted | None,
    models: ModuleType | None = None,
) -> Message | None:
    """Like decode, but return None after the envelope checks when `wanted(id, name, type)` is
    false: a receiver skips validating data it would not use (on a busy bus most traffic is for
    someone else), while the envelope, name, type and topic are still checked. `models`: the
    model set to validate with (default: the pydantic classes)."""
    if len(payload) > MAX_PAYLOAD:
        raise InvalidMessage(
            "invalid_message", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}"
        )
    try:
        obj = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidMessage("invalid_message", f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidMessage(
            "invalid_message", f"envelope is a {type(obj).__name__}, not an object"
        )
    raw_id, name, type_ = obj.get("id"), obj.get("name"), obj.get("type")
    # Only a well-formed id is kept for the error: an answer must itself be a valid message.
    msg_id = raw_id if isinstance(raw_id, str) and _is_uuid4(raw_id) else None
    name_s = name if isinstance(name, str) and len(name) <= 64 else None
    type_s = type_ if isinstance(type_, str) and type_ in ENVELOPE_TYPES else None

    def fail(code: str, reason: str) -> InvalidMessage:
        return InvalidMessage(code, reason, message_id=msg_id, name=name_s, type_=type_s)

    keys = set(obj)
    if keys != _ENVELOPE_KEYS:
        missing = sorted(_ENVELOPE_KEYS - keys)
        extra = sorted(keys - _ENVELOPE_KEYS)
        detail = ", ".join(
            p
            for p in (f"missing {missing}" if missing else "", f"extra {extra}" if extra else "")
            if p
        )
        raise fail("invalid_message", f"envelope keys: {detail}")
    if msg_id is None:
        if not isinstance(raw_id, str):
            raise fail("invalid_message", "id must be a UUID string")
        shown = raw_id[:64]
        try:
            uuid.UUID(raw_id)
        except ValueError:
            raise fail("invalid_message", f"id {shown!r} is not a UUID") from None
        raise fail("invalid_message", f"id {shown!r} is not a canonical (lower-case) UUID4")
    if type_s is None:
        raise fail("invalid_message", f"type must be one of {', '.join(ENVELOPE_TYPES)}")
    if name_s is None:
        raise fail("invalid_message", "name must be a string")
    data = obj["data"]
    if not isinstance(data, dict):
        raise fail("invalid_message", f"data is a {type(data).__name__}, not an object")
    if topic not in TOPICS:
        raise fail("wrong_topic", f"{topic!r} is not a Josev API topic")

    if type_s == "error":
        # An error echoes the request's name, which may be one we do not know: that is the
        # error being reported, so only the shape of the name is checked.
        model_name = "ErrorData"
        if not NAME_RE.fullmatch(name_s):
            raise fail("invalid_message", f"name {name_s!r} is not a snake_case message name")
    else:
        sp = spec(name_s, type_s)
        if sp is None:
            known = any(k[0] == name_s for k in SPECS)
            why = f"{name_s!r} has no {type_s}" if known else f"unknown message name {name_s!r}"
            raise fail("unknown_message", why)
        if topic not in sp.topics:
            raise fail(
                "wrong_topic", f"{name_s} {type_s} belongs on {', '.join(sp.topics)}, not {topic}"
            )
        model_name = sp.model_name
    if wanted is not None and not wanted(msg_id, name_s, type_s):
        return None
    model = getattr(models if models is not None else pydantic_models(), model_name)
    try:
        value = model.model_validate(data)
    except ValueError as exc:
        raise fail("invalid_message", describe_validation_error(exc)) from None
    return Message(msg_id, name_s, type_s, value, topic)


def encode(msg_id: str, name: str, type_: str, data: Any) -> bytes:
    """`data`: a model of either set (both dump the same JSON)."""
    body = data.model_dump(mode="json", exclude_none=True)
    return json.dumps(
        {"id": msg_id, "name": name, "type": type_, "data": body}, separators=(",", ":")
    ).encode()
