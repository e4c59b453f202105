"""The PLC network interface as the transport sees it: name, index, link-local address.

Everything is numeric (scope id, not "%eth1"), because name lookups happen in the calling
thread's network namespace, which is not the interface's one in the simulated link. A socket
factory lets the caller create sockets somewhere else (netsim: inside a namespace).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SocketFactory = Callable[[int, int, int], socket.socket]
IFA_F_DADFAILED = 0x08  # linux/if_addr.h
IFA_F_TENTATIVE = 0x40


def _plain_socket(family: int, type: int, proto: int) -> socket.socket:
    return socket.socket(family, type, proto)


class InterfaceError(RuntimeError):
    """The configured PLC interface is missing or has no link-local IPv6 address."""


@dataclass(frozen=True)
class PlcInterface:
    name: str
    index: int
    link_local: ipaddress.IPv6Address
    socket_factory: SocketFactory = field(default=_plain_socket, compare=False, repr=False)

    def sockaddr(self, port: int) -> tuple[str, int, int, int]:
        return (str(self.link_local), port, 0, self.index)

    def socket(self, family: int, type: int, proto: int = 0) -> socket.socket:
        return self.socket_factory(family, type, proto)

    @classmethod
    def lookup(cls, name: str) -> PlcInterface:
        """The interface in this process's namespace, with its first usable fe80:: address.

        An address still in duplicate-address detection (tentative) or that failed it cannot
        be bound yet: it is skipped, and the error says so (the caller retries).
        """
        try:
            index = socket.if_nametoindex(name)
        except OSError as exc:
            raise InterfaceError(f"PLC interface {name!r} not found: {exc}") from exc
        pending = False
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            addr, _idx, _plen, _scope, flags, dev = line.split()
            if dev != name or not addr.startswith("fe80"):
                continue
            if int(flags, 16) & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
                pending = True
                continue
            return cls(name, index, ipaddress.IPv6Address(bytes.fromhex(addr)))
        if pending:
            raise InterfaceError(f"PLC interface {name!r}: link-local address not ready (DAD)")
        raise InterfaceError(f"PLC interface {name!r} has no link-local IPv6 address")
