"""DC isolation monitoring (IMD) for the cable check: interface, simulator, Bender isoCHA425."""

from josev_hal.isolation.base import IsolationMonitor, IsolationResult

__all__ = ["IsolationMonitor", "IsolationResult"]
