"""Power contactors with a feedback (mirror) contact, the emergency-stop input, the RCD."""

from josev_hal.contactor.base import ContactorBank, ContactorMonitor, ContactorStatus

__all__ = ["ContactorBank", "ContactorMonitor", "ContactorStatus"]
