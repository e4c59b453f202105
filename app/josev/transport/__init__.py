"""TCP and TLS transport of V2G messages (SECC server and EVCC client) on the PLC interface."""

from josev.transport.iface import InterfaceError, PlcInterface, SocketFactory

__all__ = ["InterfaceError", "PlcInterface", "SocketFactory"]
