"""The Josev API: validated MQTT messages between the protocol brain and the station.

`models` (the pydantic classes) loads on first use: josev-iso15118 uses the same client with
the classes compiled from them (josev.lean) and must not import pydantic.
"""

from typing import TYPE_CHECKING, Any

from josev.api.client import ApiClient
from josev.api.envelope import Message, decode, encode
from josev.api.errors import (
    ApiError,
    ConnectionLost,
    InvalidMessage,
    NotConnected,
    RequestRejected,
    RequestTimeout,
    ValidationFailed,
)
from josev.api.registry import API_VERSION, SPECS, MessageSpec

if TYPE_CHECKING:
    from josev.api import models

__all__ = [
    "API_VERSION",
    "SPECS",
    "ApiClient",
    "ApiError",
    "ConnectionLost",
    "InvalidMessage",
    "Message",
    "MessageSpec",
    "NotConnected",
    "RequestRejected",
    "RequestTimeout",
    "ValidationFailed",
    "decode",
    "encode",
    "models",
]


def __getattr__(name: str) -> Any:
    if name == "models":
        import importlib

        return importlib.import_module("josev.api.models")
    raise AttributeError(f"module 'josev.api' has no attribute {name!r}")
