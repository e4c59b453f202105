"""`josev link up|down|run`: the simulated PLC link from the command line.

`up` leaves the namespaces in place and prints where an external EV (or charger) must attach,
e.g. ``ip netns exec jv-demo-ev0 python -m iso15118.evcc.main ...`` with NETWORK_INTERFACE set
to the printed interface.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from josev import netsim


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("link", help="simulated PLC link (network namespaces + veth)")
    lsub = p.add_subparsers(dest="link_command", required=True, metavar="ACTION")

    up = lsub.add_parser("up", help="create the namespaces and links, print how to attach")
    up.add_argument("--evs", type=int, default=1, help="number of EV ends (>1 uses a bridge)")
    up.add_argument("--tag", default=None, help="name tag (letters/digits, <= 8)")
    up.add_argument("--json", action="store_true", help="print JSON")
    up.set_defaults(func=_up)

    down = lsub.add_parser("down", help="delete the namespaces of a link")
    down.add_argument("tag")
    down.set_defaults(func=_down)

    run = lsub.add_parser(
        "run", help="run a command as root of new user+net namespaces (no real root needed)"
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="command (after --)")
    run.set_defaults(func=_run)

    secc = lsub.add_parser("secc", help="charger side on INTERFACE: SLAC (optional), SDP, "
                           "TCP/TLS; logs every V2GTP message (run it inside the EVSE netns)")
    secc.add_argument("--interface", required=True)
    secc.add_argument("--store", type=Path, help="certificate store (josev pki create); "
                      "without it: plain TCP only")
    secc.add_argument("--slac", action="store_true", help="also answer SLAC (no modem)")
    secc.add_argument("--count", type=int, default=0, help="exit after N connections")
    secc.set_defaults(func=_secc)

    ev = lsub.add_parser("ev", help="EV side on INTERFACE: SLAC (optional), SDP, TCP/TLS and "
                         "one supportedAppProtocolReq (run it inside the EV netns)")
    ev.add_argument("--interface", required=True)
    ev.add_argument("--store", type=Path, help="certificate store (josev pki create)")
    ev.add_argument("--profile", choices=["iso2", "iso20", "none"], default="iso2",
                    help="TLS 1.2 (-2), TLS 1.3 (-20) or plain TCP")
    ev.add_argument("--slac", action="store_true", help="do SLAC first (simulated modem)")
    ev.set_defaults(func=_ev)


def _up(args: argparse.Namespace) -> int:
    try:
        link = netsim.Link.create(evs=args.evs, tag=args.tag)
    except (netsim.NamespaceUnavailable, ValueError) as exc:
        print(f"josev link up: {exc}", file=sys.stderr)
        return 1
    info = link.describe()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        e = info["evse"]
        print(f"link {link.tag}")
        print(f"  EVSE: netns {e['netns']}  interface {e['interface']}  {e['link_local']}")
        for ev in info["evs"]:
            print(f"  EV:   netns {ev['netns']}  interface {ev['interface']}  {ev['link_local']}")
        ev0 = info["evs"][0]
        print(f"attach an EV: ip netns exec {ev0['netns']} <command>", end="")
        print(f"  (interface {ev0['interface']})")
        print(f"remove: josev link down {link.tag}")
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        removed = netsim.destroy(args.tag)
    except netsim.NamespaceUnavailable as exc:
        print(f"josev link down: {exc}", file=sys.stderr)
        return 1
    print("removed: " + (", ".join(removed) or "nothing"))
    return 0


def _run(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else list(args.cmd)
    if not cmd:
        print("josev link run: give a command after --", file=sys.stderr)
        return 2
    argv = netsim.userns_argv(cmd)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"josev link run: cannot start unshare: {exc}", file=sys.stderr)
    return 1


SAP_REQ_JSON = {"supportedAppProtocolReq": {"AppProtocol": [
    {"ProtocolNamespace": "urn:iso:15118:2:2013:MsgDef", "VersionNumberMajor": 2,
     "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 1},
    {"ProtocolNamespace": "urn:iso:std:iso:15118:-20:DC", "VersionNumberMajor": 1,
     "VersionNumberMinor": 0, "SchemaID": 2, "Priority": 2},
]}}


def _stand_in_reply(payload: bytes) -> bytes:
    """supportedAppProtocolRes for a supportedAppProtocolReq (first protocol), else an echo:
    this command tests the link, not a session."""
    from josev.exi import ExiError, decode, encode, from_json, to_json

    try:
        req = to_json(decode(payload, "appHand"))["supportedAppProtocolReq"]
    except (ExiError, KeyError):
        return payload
    best = min(req["AppProtocol"], key=lambda p: p["Priority"])
    res = {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation",
                                       "SchemaID": best["SchemaID"]}}
    return encode(from_json(res, "appHand"))


def _secc(args: argparse.Namespace) -> int:
    from josev.slac.driver import SimulatedModem, open_raw, serve_evse
    from josev.slac.evse import EvseSlac
    from josev.transport.connection import V2gConnection
    from josev.transport.iface import InterfaceError, PlcInterface
    from josev.transport.secc import SeccConfig, serve_secc
    from josev.transport.tls import TlsServerConfig

    async def main() -> int:
        iface = PlcInterface.lookup(args.interface)
        done = asyncio.Event()
        seen = 0

        async def handler(conn: V2gConnection) -> None:
            nonlocal seen
            seen += 1
            print(f"connection from {conn.peer[0]} ({conn.tls_version or 'TCP'} "
                  f"{conn.cipher or ''})", flush=True)
            async for msg in conn:
                print(f"  V2GTP {msg.payload_type:#06x} {len(msg.payload)} bytes: "
                      f"{msg.payload[:24].hex()}", flush=True)
                await conn.send(msg.payload_type, _stand_in_reply(msg.payload))
            if args.count and seen >= args.count:
                done.set()

        tls = TlsServerConfig.from_store(args.store) if args.store else None
        server = await serve_secc(SeccConfig(iface, tls=tls, allow_plain=tls is None), handler)
        print(f"SECC on {iface.name} [{iface.link_local}] TLS port {server.tls_port} "
              f"TCP port {server.tcp_port}", flush=True)
        slac_task = None
        if args.slac:
            sock, mac = open_raw(iface.name)
            slac_task = asyncio.ensure_future(serve_evse(
                sock, EvseSlac(mac), SimulatedModem(),
                lambda ev: print(f"SLAC: {type(ev).__name__}", flush=True)))
        try:
            await done.wait()
        finally:
            if slac_task is not None:
                slac_task.cancel()
            await server.close()
        return 0

    try:
        return asyncio.run(main())
    except (InterfaceError, OSError) as exc:
        print(f"josev link secc: {exc}", file=sys.stderr)
        return 1


def _ev(args: argparse.Namespace) -> int:
    from josev.exi import decode, encode, from_json, to_json
    from josev.slac.driver import SimulatedModem, open_raw, run_ev
    from josev.slac.ev import EvMatched, EvSlac
    from josev.transport.evcc import EvccConfig, EvccConnectError, connect_evcc
    from josev.transport.iface import InterfaceError, PlcInterface
    from josev.transport.tls import TlsProfile, client_credentials_from_store
    from josev.v2gtp import PayloadType

    async def main() -> int:
        iface = PlcInterface.lookup(args.interface)
        if args.slac:
            sock, mac = open_raw(iface.name)
            try:
                result = await run_ev(sock, EvSlac(mac), SimulatedModem())
            finally:
                sock.close()
            if not isinstance(result, EvMatched):
                print(f"SLAC failed: {result.reason}", file=sys.stderr)
                return 1
            print(f"SLAC matched EVSE {result.evse_mac.hex(':')} "
                  f"({result.attenuation:.1f} dB)", flush=True)
        profile = None if args.profile == "none" else TlsProfile(args.profile)
        creds = None
        if profile is not None:
            if args.store is None:
                print("josev link ev: --store is needed for TLS", file=sys.stderr)
                return 2
            creds = client_credentials_from_store(args.store, profile)
        conn = await connect_evcc(EvccConfig(iface, profile=profile, credentials=creds))
        print(f"connected to {conn.peer[0]} port {conn.peer[1]} "
              f"({conn.tls_version or 'TCP'} {conn.cipher or ''})", flush=True)
        await conn.send(PayloadType.EXI, encode(from_json(SAP_REQ_JSON, "appHand")))
        reply = await asyncio.wait_for(conn.receive(), 10)
        try:
            print(f"reply: {to_json(decode(reply.payload, 'appHand'))}")
        except Exception as exc:  # a stand-in charger may answer anything
            print(f"reply ({reply.payload_type:#06x}, not appHand EXI: {exc}): "
                  f"{reply.payload[:24].hex()}")
        await conn.close()
        return 0

    try:
        return asyncio.run(main())
    except (InterfaceError, EvccConnectError, OSError, TimeoutError) as exc:
        print(f"josev link ev: {exc}", file=sys.stderr)
        return 1
