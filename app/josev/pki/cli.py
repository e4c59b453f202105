"""`josev pki create DIR`: a complete test PKI in the station store layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from josev.pki import PROFILES, create_pki


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pki", help="test/demo PKI for ISO 15118")
    psub = p.add_subparsers(dest="pki_command", required=True, metavar="ACTION")
    c = psub.add_parser("create", help="write a complete test PKI (iso2 and iso20) to DIR")
    c.add_argument("directory", type=Path)
    c.add_argument("--profile", choices=PROFILES, action="append", help="only this profile")
    c.set_defaults(func=_create)


def _create(args: argparse.Namespace) -> int:
    out = create_pki(args.directory, tuple(args.profile or PROFILES))
    for f in sorted(out.rglob("*.pem")):
        print(f)
    return 0
