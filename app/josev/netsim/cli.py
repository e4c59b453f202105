"""`josev link up|down|run`: the simulated PLC link from the command line.

`up` leaves the namespaces in place and prints where an external EV (or charger) must attach,
e.g. ``ip netns exec jv-demo-ev0 python -m iso15118.evcc.main ...`` with NETWORK_INTERFACE set
to the printed interface.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

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
