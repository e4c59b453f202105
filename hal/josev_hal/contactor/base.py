"""Contactor interface and the sans-I/O monitor that turns command + feedback into a status.

The monitor is where welding is detected: a feedback contact that still reads closed
`open_timeout_s` after the coil was released means welded contacts (the EVSE must then stay
out of service), one that does not close in `close_timeout_s` is an error.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass


class ContactorBank(abc.ABC):
    """The EVSE's output contactors (driven together), their mirror contact and the e-stop."""

    @abc.abstractmethod
    def command(self, closed: bool) -> None:
        """Energise (True) or release (False) the coils."""

    @abc.abstractmethod
    def feedback(self, now: float) -> bool | None:
        """True when the mirror contact says closed; None when the board has no mirror."""

    @abc.abstractmethod
    def estop_pressed(self, now: float) -> bool:
        """True while the emergency-stop chain is open."""

    def rcd_tripped(self, now: float) -> bool:
        """AC only: the residual-current device has tripped. Boards without one: never."""
        return False

    def close(self) -> None:
        """Release the hardware (and leave the coils de-energised)."""
        return None


class ConnectorLock(abc.ABC):
    """The socket's cable lock (IEC 61851-1: a socket's plug is locked before energising)."""

    @abc.abstractmethod
    def command(self, locked: bool) -> None:
        """Drive the lock actuator."""

    @abc.abstractmethod
    def feedback(self, now: float) -> bool | None:
        """True when the lock's switch says locked; None when it has no switch."""

    def close(self) -> None:
        """Release the hardware."""
        return None


class ContactorStatus(enum.StrEnum):
    OPENED = "opened"
    CLOSED = "closed"
    ERROR = "error"


@dataclass
class ContactorMonitor:
    close_timeout_s: float
    open_timeout_s: float
    commanded: bool = False
    _since: float = 0.0
    welded: bool = False
    failed_to_close: bool = False

    def command(self, closed: bool, now: float) -> bool:
        """Record a command; True when it changed (the caller then drives the coils)."""
        if closed == self.commanded:
            return False
        self.commanded = closed
        self._since = now
        if closed:
            self.failed_to_close = False
        return True

    def status(self, feedback: bool | None, now: float) -> ContactorStatus:
        """The status the API reports; feeds the welding and failure flags."""
        if feedback is None:  # no mirror contact: trust the command
            return ContactorStatus.CLOSED if self.commanded else ContactorStatus.OPENED
        elapsed = now - self._since
        if self.commanded:
            if feedback:
                self.failed_to_close = False
                return ContactorStatus.CLOSED
            if elapsed > self.close_timeout_s:
                self.failed_to_close = True
                return ContactorStatus.ERROR
            return ContactorStatus.OPENED  # still travelling
        if not feedback:
            self.welded = False
            return ContactorStatus.OPENED
        if elapsed > self.open_timeout_s:
            self.welded = True
            return ContactorStatus.ERROR
        return ContactorStatus.CLOSED  # still travelling
