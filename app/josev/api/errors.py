"""Errors of the Josev API client: one family, each saying exactly what went wrong."""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error the API layer raises."""


class InvalidMessage(ApiError):
    """A message that is not valid JSON, not a known message, on the wrong topic, or invalid."""

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        message_id: str | None = None,
        name: str | None = None,
        type_: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.message_id = message_id
        self.name = name
        self.type = type_


class ValidationFailed(ApiError):
    """What we were about to send, or a response we received, does not match its schema."""


class NotConnected(ApiError):
    """The broker could not be reached within the time the call allowed."""


class ConnectionLost(ApiError):
    """The broker connection dropped while a request was waiting for its response."""


class RequestTimeout(ApiError):
    """No response with the request's id arrived in time."""


class RequestRejected(ApiError):
    """The receiver answered the request with an error message."""

    def __init__(self, name: str, code: str, reason: str) -> None:
        super().__init__(f"{name} rejected by receiver: {code}: {reason}")
        self.code = code
        self.reason = reason
