"""JSON Schema export: one file per message name and type, the whole envelope in each.

A station maker validates what crosses the broker with these files alone, in any language, so
each file is self-contained: the envelope with `name` and `type` fixed and `data` inlined.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from josev.api import models as m
from josev.api.registry import SPECS, MessageSpec

DRAFT = "https://json-schema.org/draft/2020-12/schema"
UUID4_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def _envelope(
    title: str, name_schema: dict[str, Any], type_: str, model: type[m.ApiModel], **extra: Any
) -> dict[str, Any]:
    data = model.model_json_schema(ref_template="#/$defs/{model}")
    defs = data.pop("$defs", {})
    defs[model.__name__] = data
    return {
        "$schema": DRAFT,
        "$id": f"urn:josev:api:{m.API_VERSION}:{title.replace(' ', ':')}",
        "title": title,
        "x-josev-api-version": m.API_VERSION,
        **extra,
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "type", "data"],
        "properties": {
            "id": {"type": "string", "pattern": UUID4_PATTERN},
            "name": name_schema,
            "type": {"const": type_},
            "data": {"$ref": f"#/$defs/{model.__name__}"},
        },
        "$defs": dict(sorted(defs.items())),
    }


def message_schema(sp: MessageSpec) -> dict[str, Any]:
    return _envelope(
        f"{sp.name} {sp.msg_type}",
        {"const": sp.name},
        sp.msg_type,
        sp.model,
        **{"x-josev-topics": list(sp.topics)},
    )


def error_schema() -> dict[str, Any]:
    return _envelope(
        "error", {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"}, "error", m.ErrorData
    )


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every message name and type plus the error answer."""
    out = {f"{sp.name}.{sp.msg_type}.json": message_schema(sp) for sp in SPECS.values()}
    out["error.json"] = error_schema()
    return dict(sorted(out.items()))


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema; remove stale ones so the folder is exactly the current set."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = all_schemas()
    for old in directory.glob("*.json"):
        if old.name not in wanted:
            old.unlink()
    written = []
    for fname, schema in wanted.items():
        path = directory / fname
        path.write_text(render(schema))
        written.append(path)
    return written
