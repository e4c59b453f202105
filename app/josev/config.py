"""The station configuration: /etc/josev/josev.toml plus drop-ins in josev.toml.d/.

Every service reads the same file and validates only its own tables, so one file describes the
whole station. Unknown top-level tables are refused (a typo must not silently fall back to a
default). Every setting has a safe default: the simulator needs no file at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from josev.configfile import (
    DEFAULT_PATH,
    KNOWN_TABLES,
    ConfigError,
    load_tables,
    read_password,
    section,
)

__all__ = [
    "DEFAULT_PATH",
    "KNOWN_TABLES",
    "ConfigError",
    "MqttConfig",
    "load_tables",
    "section",
]


class _Strict(BaseModel):
    """Unknown keys are errors and nothing is coerced (TOML has real types: `port = "1883"`
    is a mistake worth reporting). Paths and arrays say `strict=False` where TOML gives a
    string or a list."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MqttConfig(_Strict):
    """How a service reaches the local broker (loopback only; one user per service)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password_file: Annotated[Path, Field(strict=False)] | None = None

    def password(self) -> str | None:
        return read_password(self.password_file)
