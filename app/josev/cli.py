"""The `josev` command: one argparse tree, each area registers its own sub-commands.

An area module exposes `register(subparsers)`; add it to AREAS to make its commands appear.
Imports are done per area so that a broken or heavy area does not slow the others' start-up.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

AREAS: tuple[str, ...] = (
    "josev.exi.cli",
    "josev.api.cli",
    "josev.services.iso15118",
    "josev.demo",
    "josev.evcc.cli",
    "josev.netsim.cli",
    "josev.pki.cli",
    "josev_hal.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="josev", description="Josev charging-station brain")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in AREAS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        rc: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
