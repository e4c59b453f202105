"""The EV's transport (simulator side): SDP discovery, then a TCP or TLS connection."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass

from josev.sdp import SDP_PORT, SdpClient, SdpResponse, Security
from josev.sdp.server import discover
from josev.transport.connection import V2gConnection
from josev.transport.iface import PlcInterface
from josev.transport.tls import (
    ClientCredentials,
    TlsPolicyError,
    TlsProfile,
    check_session,
    client_context,
    describe_error,
)
from josev.v2gtp import DEFAULT_MAX_PAYLOAD

log = logging.getLogger(__name__)


class EvccConnectError(ConnectionError):
    """Discovery or connection failed; the message says which step and why."""


@dataclass(frozen=True)
class EvccConfig:
    iface: PlcInterface
    profile: TlsProfile | None = TlsProfile.TLS12  # None: ask for plain TCP
    credentials: ClientCredentials | None = None
    accept_no_tls: bool = False      # go on without TLS when the SECC offers none
    sdp_port: int = SDP_PORT
    handshake_timeout: float = 5.0
    max_payload: int = DEFAULT_MAX_PAYLOAD
    sdp_interval: float = 0.25
    sdp_max_requests: int = 50


async def connect_to(
    config: EvccConfig, response: SdpResponse
) -> V2gConnection:
    """Connect to the SECC an SDP response announced."""
    iface = config.iface
    loop = asyncio.get_running_loop()
    ctx: ssl.SSLContext | None = None
    if response.security is Security.TLS:
        if config.profile is None or config.credentials is None:
            raise EvccConnectError("SECC offers only TLS but no TLS credentials are configured")
        ctx = client_context(config.profile, config.credentials)
    elif config.profile is not None and not config.accept_no_tls:
        raise EvccConnectError("SECC offers no TLS and this EV requires TLS")
    sock = iface.socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
    sock.setblocking(False)
    dest = (str(response.address), response.port, 0, iface.index)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, dest), config.handshake_timeout)
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=ctx, server_hostname="" if ctx else None,
            ssl_handshake_timeout=config.handshake_timeout if ctx else None,
            limit=2**17,
        )
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        sock.close()
        msg = describe_error(exc)
        log.warning("EVCC: connection to [%s]:%d failed: %s", response.address, response.port,
                    msg)
        raise EvccConnectError(msg) from exc
    sslobj = writer.get_extra_info("ssl_object")
    if sslobj is not None:
        try:
            check_session(sslobj)
        except TlsPolicyError as exc:
            writer.close()
            log.warning("EVCC: TLS session refused: %s", describe_error(exc))
            raise EvccConnectError(describe_error(exc)) from exc
    conn = V2gConnection(reader, writer, max_payload=config.max_payload, name="evcc")
    log.info("EVCC: connected to [%s]:%d (%s %s %s)", response.address, response.port,
             conn.tls_version or "TCP", conn.cipher or "", conn.group or "")
    return conn


async def connect_evcc(config: EvccConfig) -> V2gConnection:
    """SDP (250 ms / 50 tries), then TCP or TLS to the announced SECC."""
    security = Security.NO_TLS if config.profile is None else Security.TLS
    client = SdpClient(security, config.sdp_interval, config.sdp_max_requests)
    response = await discover(config.iface, security, config.sdp_port, client)
    return await connect_to(config, response)
