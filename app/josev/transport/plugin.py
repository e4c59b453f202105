"""What an EV does when it is plugged in, below the V2G session: SLAC, then SDP and TCP/TLS.

For the EV simulator (and the demo, benchmarks, system tests): one call from "CP state B"
to an open `V2gConnection`. The charger side is `SlacService` (driven by `cp_status` through
the Josev API) plus `serve_secc`.
"""

from __future__ import annotations

from dataclasses import dataclass

from josev.slac.driver import Modem, SimulatedModem, open_raw, run_ev
from josev.slac.ev import EvMatched, EvSlac, EvSlacConfig
from josev.slac.evse import Failed
from josev.transport.connection import V2gConnection
from josev.transport.evcc import EvccConfig, connect_evcc


class SlacFailed(ConnectionError):
    """SLAC did not match; the message is the EV core's reason."""


@dataclass
class EvLink:
    slac: EvMatched
    connection: V2gConnection


async def ev_plug_in(
    config: EvccConfig, slac: EvSlacConfig | None = None, modem: Modem | None = None
) -> EvLink:
    """SLAC on config.iface (raw socket made by its socket factory), then SDP + TCP/TLS."""
    iface = config.iface
    sock, mac = open_raw(iface.name, iface.socket_factory)
    try:
        result = await run_ev(sock, EvSlac(mac, slac), modem or SimulatedModem())
    finally:
        sock.close()
    if isinstance(result, Failed):
        raise SlacFailed(result.reason)
    return EvLink(result, await connect_evcc(config))
