"""The actions a sans-I/O core hands back to its driver (the SECC and the EVCC use the same set).

Why plain frozen dataclasses: the driver matches on the type and does the I/O; tests read them
as a transcript of what the core wanted to happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Send:
    """Write a V2GTP message. `deadline`: the latest time it may be written (performance time)."""

    payload_type: int
    data: bytes
    message: str
    deadline: float


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Call `handle_timer(name, now)` at `at` (replaces a timer of the same name)."""

    name: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """Send a Josev API request without waiting; its response comes back by `api_response`."""

    name: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApiUpdate:
    """Publish a Josev API update (fire-and-forget)."""

    name: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EndSession:
    """The session is over; the driver closes the connection. `ok` tells a clean end."""

    reason: str
    ok: bool
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """A sample for live progress and plots (EV simulator): what was measured at `now`."""

    now: float
    state: str
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvCommand:
    """EV simulator only: act on the cable (`cp` {state}, `battery` {voltage}, `unplug` {})."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


Action = Send | SetTimer | CancelTimer | ApiRequest | ApiUpdate | EndSession | Progress | EvCommand


class Timers:
    """Deadlines a core has asked for, so stale or early timer calls are recognised and ignored.

    The driver may call `handle_timer` late, early (clock skew) or after a timer was replaced;
    the core only acts on a timer whose current deadline has passed."""

    __slots__ = ("_due",)

    def __init__(self) -> None:
        self._due: dict[str, float] = {}

    def set(self, name: str, at: float) -> SetTimer:
        self._due[name] = at
        return SetTimer(name, at)

    def cancel(self, name: str) -> CancelTimer | None:
        if self._due.pop(name, None) is None:
            return None
        return CancelTimer(name)

    def fire(self, name: str, now: float) -> bool:
        """True (and forget it) when `name` is set and due at `now`."""
        due = self._due.get(name)
        if due is None or now < due:
            return False
        del self._due[name]
        return True

    def due(self, name: str) -> float | None:
        return self._due.get(name)

    def names(self) -> list[str]:
        return sorted(self._due)

    def clear(self) -> list[CancelTimer]:
        out = [CancelTimer(n) for n in sorted(self._due)]
        self._due.clear()
        return out
