"""Everything below the V2G session, in one call per side.

- EV (simulator, demo, benchmarks): `ev_plug_in` goes from "CP state B" to an open
  `V2gConnection`: SLAC, then SDP and TCP/TLS.
- Charger: `start_charger_link` runs SLAC driven by `cp_status` over the Josev API and the
  SECC (SDP + TCP/TLS), handing each connection to the session layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from josev.api import ApiClient
from josev.slac.driver import Modem, SimulatedModem, open_raw, run_ev
from josev.slac.ev import EvMatched, EvSlac, EvSlacConfig
from josev.slac.evse import Failed
from josev.slac.service import SlacService
from josev.slac.timers import DEFAULT_TIMERS, SlacTimers
from josev.transport.connection import V2gConnection
from josev.transport.evcc import EvccConfig, connect_evcc
from josev.transport.secc import OnConnection, SeccConfig, SeccServer, serve_secc


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


@dataclass
class ChargerLink:
    """The charger side below the session layer: SLAC (driven by cp_status) and the SECC."""

    slac: SlacService
    secc: SeccServer

    async def close(self) -> None:
        await self.slac.close()
        await self.secc.close()


async def start_charger_link(
    api: ApiClient, evse_id: int, config: SeccConfig, on_connection: OnConnection,
    *, slac_timers: SlacTimers = DEFAULT_TIMERS, restarts: int = 2, restart_pause: float = 4.0,
) -> ChargerLink:
    """Start SDP + TCP/TLS on config.iface and SLAC that follows `cp_status` for `evse_id`.

    The caller owns `api` (entered with `async with`); this registers the cp_status callback.
    Each connection holds SLAC's timeouts and restarts off while it is up (a restart would
    set a new NMK and switch the PWM off under the session).
    """
    slac = SlacService(api, evse_id, config.iface.name,
                       socket_factory=config.iface.socket_factory, timers=slac_timers,
                       restarts=restarts, restart_pause=restart_pause)
    api.on_update("cp_status", slac.on_cp_status)

    async def held(conn: V2gConnection) -> None:
        with slac.v2g_session():
            await on_connection(conn)

    secc = await serve_secc(config, held)
    return ChargerLink(slac, secc)
