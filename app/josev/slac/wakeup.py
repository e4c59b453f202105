"""ISO 15118-3 sleep mode and wake-up on the EVSE side, sans-I/O.

After a paused session (SessionStop "Pause" in -2 or -20) the EVSE switches its CP oscillator
off (X1) for the whole sleep and keeps the logical network (no new SLAC on resume). It wakes up
in one of two ways:
- the EV wakes the station with 1 to 3 B-C-B toggles, each state lasting
  TP_EV_vald_state_duration (200..400 ms, Table 3), the whole sequence within
  TT_EVSE_vald_toggle (3.5 s);
- the station wakes the EV (power is available again): oscillator back on at 5 % (X1 -> X2).
Either way the EVSE answers with 5 % PWM and the EV resumes the paused session.

The tracker takes CP states and times and says when to wake; the service does the I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

TP_EV_VALD_STATE_MIN = 0.2
TP_EV_VALD_STATE_MAX = 0.4
TT_EVSE_VALD_TOGGLE = 3.5
# CP states reach the service through the HAL's debouncing and the bus; a state seen a little
# shorter or longer than the EV drove it is still the EV's toggle.
SAMPLING_TOLERANCE = 0.05


@dataclass(frozen=True)
class Wake:
    """Switch the oscillator back on at 5 %: `by` is "ev" (B-C-B toggles) or "station"."""

    by: str
    toggles: int = 0


class SleepTracker:
    """One EVSE's sleep: feed it CP states (`cp`) and the timer it asks for (`handle_timer`)."""

    def __init__(self) -> None:
        self.asleep = False
        self.toggles = 0
        self._c_since: float | None = None     # when the current C of a toggle began
        self._first_c: float | None = None     # when the toggle sequence began
        self._deadline: float | None = None    # B held this long after a toggle: sequence over

    def sleep(self, now: float) -> None:
        self.asleep = True
        self._reset()
        log.debug("sleep mode from %.3f", now)

    def wake_from_station(self) -> Wake | None:
        """The station wants power to flow again (e.g. a positive charge limit)."""
        if not self.asleep:
            return None
        self.asleep = False
        self._reset()
        return Wake("station")

    def unplugged(self) -> None:
        self.asleep = False
        self._reset()

    def timer(self) -> float | None:
        """When `handle_timer` must be called next (None: no timer wanted)."""
        return self._deadline if self.asleep else None

    def cp(self, state: str, now: float) -> Wake | None:
        if state[:1] in ("A", "E", "F"):
            self.unplugged()
            return None
        if not self.asleep:
            return None
        if state[:1] in ("C", "D"):
            if self._c_since is None:
                self._c_since = now
                self._deadline = None
                if self._first_c is None:
                    self._first_c = now
            return None
        # back in B
        if self._c_since is None:
            return None
        held = now - self._c_since
        self._c_since = None
        lo = TP_EV_VALD_STATE_MIN - SAMPLING_TOLERANCE
        hi = TP_EV_VALD_STATE_MAX + SAMPLING_TOLERANCE
        if not lo <= held <= hi:
            log.info("wake-up: C held %.0f ms, not a B-C-B toggle (%.0f..%.0f ms): ignored",
                     held * 1000, lo * 1000, hi * 1000)
            self._reset()
            return None
        first = self._first_c if self._first_c is not None else now - held
        if now - first > TT_EVSE_VALD_TOGGLE + SAMPLING_TOLERANCE or self.toggles >= 3:
            log.info("wake-up: toggle sequence longer than %.1f s or more than 3 toggles: "
                     "ignored", TT_EVSE_VALD_TOGGLE)
            self._reset()
            return None
        self.toggles += 1
        self._deadline = now + hi     # no C within one more state duration: the sequence ended
        return None

    def handle_timer(self, now: float) -> Wake | None:
        if not self.asleep or self._deadline is None or now < self._deadline:
            return None
        if self._c_since is not None:    # in C again: the sequence goes on
            return None
        toggles = self.toggles
        self.asleep = False
        self._reset()
        return Wake("ev", toggles)

    def _reset(self) -> None:
        self.toggles = 0
        self._c_since = None
        self._first_c = None
        self._deadline = None
