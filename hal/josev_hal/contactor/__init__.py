"""Power contactors with a feedback (mirror) contact, the emergency-stop input, the RCD."""

from josev_hal.contactor.base import (
    ConnectorLock,
    ContactorBank,
    ContactorMonitor,
    ContactorStatus,
)

__all__ = ["ConnectorLock", "ContactorBank", "ContactorMonitor", "ContactorStatus"]
