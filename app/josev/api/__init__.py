"""The Josev API: validated MQTT messages between the protocol brain and the station."""

from josev.api import models
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
from josev.api.models import API_VERSION
from josev.api.registry import SPECS, MessageSpec

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
