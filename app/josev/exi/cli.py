"""`josev exi decode|encode|check`: for people debugging captures and vector files."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from typing import Any

from . import FAMILIES, ExiError, family


def _decode(args: argparse.Namespace) -> int:
    try:
        data = bytes.fromhex("".join(args.hex.split()))
    except ValueError as e:
        print(f"error: not hex: {e}", file=sys.stderr)
        return 2
    try:
        fam = family(args.family)
        root, msg = fam.decode(data)
        print(json.dumps(fam.to_json(root, msg), ensure_ascii=False, indent=args.indent))
    except ExiError as e:
        print(f"error: {e.reason} (bit {e.bit_position})", file=sys.stderr)
        return 1
    return 0


def _encode(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.json == "-" else args.json
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        print(f"error: not JSON: {e}", file=sys.stderr)
        return 2
    try:
        fam = family(args.family)
        root, msg = fam.from_json(obj)
        print(fam.encode(root, msg).hex())
    except ExiError as e:
        print(f"error: {e.reason}", file=sys.stderr)
        return 1
    return 0


def check_line(line: str) -> str | None:
    """None when the vector decodes to its value and the value encodes to its bytes."""
    vec: Any = json.loads(line)
    fam = family(vec["family"])
    data = bytes.fromhex(vec["exi"])
    root, msg = fam.decode(data)
    got = fam.to_json(root, msg)
    if got != vec["value"]:
        return "decoded value differs: " + json.dumps(got, ensure_ascii=False)[:300]
    root2, msg2 = fam.from_json(vec["value"])
    out = fam.encode(root2, msg2)
    if out != data:
        return f"encoding differs: {out.hex()}"
    return None


def _check(args: argparse.Namespace) -> int:
    passed = failed = 0
    opener = gzip.open if args.file.endswith(".gz") else open
    with opener(args.file, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                vec = json.loads(line)
                label = f"{vec.get('family')} {vec.get('message')} {vec.get('variant')}"
            except (json.JSONDecodeError, AttributeError):
                label = "?"
            try:
                problem = check_line(line)
            except ExiError as e:
                problem = f"{e.reason} (bit {e.bit_position})"
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                problem = f"bad vector line: {type(e).__name__}: {e}"
            if problem is None:
                passed += 1
            else:
                failed += 1
                print(f"{args.file}:{lineno}: {label}: {problem}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("exi", help="EXI codec: decode, encode, check vectors")
    sub = p.add_subparsers(dest="exi_command", required=True, metavar="ACTION")
    d = sub.add_parser("decode", help="EXI hex -> JSON (FORMAT.md convention)")
    d.add_argument("--family", required=True, choices=FAMILIES)
    d.add_argument("--indent", type=int, default=None)
    d.add_argument("hex")
    d.set_defaults(func=_decode)
    e = sub.add_parser("encode", help="JSON -> EXI hex ('-' reads stdin)")
    e.add_argument("--family", required=True, choices=FAMILIES)
    e.add_argument("json")
    e.set_defaults(func=_encode)
    c = sub.add_parser("check", help="decode and re-encode every vector line of a .jsonl file")
    c.add_argument("file")
    c.set_defaults(func=_check)
