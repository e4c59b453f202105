"""Reading /etc/josev/josev.toml (plus drop-ins in josev.toml.d/), without pydantic.

Every service reads the same file and validates only its own tables, so one file describes the
whole station. Unknown top-level tables are refused (a typo must not silently fall back to a
default). Every setting has a safe default: the simulator needs no file at all. Why apart from
josev.config: josev-iso15118 validates its tables with classes compiled from the pydantic
models (josev.lean) and must not import pydantic.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Protocol, TypeVar


class _Validates(Protocol):
    @classmethod
    def model_validate(cls, obj: Any) -> Any: ...


T = TypeVar("T", bound=_Validates)

DEFAULT_PATH = Path("/etc/josev/josev.toml")
# Tables owned by the services of the station (each validates its own).
KNOWN_TABLES = frozenset(("mqtt", "iso15118", "slac", "sdp", "tls", "hal", "ocpp", "ota", "evcc"))


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the setting."""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_tables(path: Path | None = None, *, required: bool = False) -> dict[str, Any]:
    """Read the file and its drop-ins (sorted by name, later ones win), merged table by table."""
    path = path or DEFAULT_PATH
    files = []
    if path.exists():
        files.append(path)
    elif required:
        raise ConfigError(f"{path}: no such file")
    dropins = path.with_name(path.name + ".d")
    if dropins.is_dir():
        files.extend(sorted(dropins.glob("*.toml")))
    merged: dict[str, Any] = {}
    for f in files:
        try:
            merged = _merge(merged, tomllib.loads(f.read_text()))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{f}: cannot read: {exc}") from None
    unknown = sorted(set(merged) - KNOWN_TABLES)
    if unknown:
        known = ", ".join(sorted(KNOWN_TABLES))
        raise ConfigError(f"{path}: unknown table(s) {', '.join(unknown)}; known: {known}")
    return merged


def section(tables: dict[str, Any], name: str, model: type[T]) -> T:
    """Validate one table with the owning service's model (pydantic or compiled), with a
    precise error."""
    try:
        return model.model_validate(tables.get(name, {}))  # type: ignore[no-any-return]
    except ValueError as exc:   # pydantic's ValidationError and josev.lean's are ValueErrors
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise ConfigError(f"invalid configuration: {name}: {exc}") from None
        details = "; ".join(
            f"{name}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()[:5]
        )
        raise ConfigError(f"invalid configuration: {details}") from None


def read_password(path: Path | None) -> str | None:
    """The broker password from its file (None: no password)."""
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"mqtt.password_file {path}: {exc}") from None
