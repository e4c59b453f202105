"""`josev api ...`: watch live traffic, send a validated message, export the schemas."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiomqtt

from josev.api.client import ApiClient
from josev.api.envelope import decode
from josev.api.errors import ApiError, InvalidMessage
from josev.api.registry import SPECS, TOPICS, sender_of
from josev.api.schema import write_schemas


def add_broker_args(parser: argparse.ArgumentParser) -> None:
    """Broker options shared by every command that talks to mosquitto."""
    parser.add_argument("--host", default=os.environ.get("JOSEV_MQTT_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("JOSEV_MQTT_PORT", "1883")))
    parser.add_argument("--username", default=os.environ.get("JOSEV_MQTT_USERNAME"))
    parser.add_argument(
        "--password-file",
        type=Path,
        default=os.environ.get("JOSEV_MQTT_PASSWORD_FILE"),
        help="file holding the broker password (never on the command line)",
    )


def read_password(args: argparse.Namespace) -> str | None:
    path: Path | None = args.password_file
    if path is None:
        return None
    return Path(path).read_text().strip()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = sub.add_parser("api", help="the Josev API: watch, send, schemas")
    api_sub = api.add_subparsers(dest="api_command", required=True, metavar="ACTION")

    watch = api_sub.add_parser("watch", help="print live, validated API traffic, one line each")
    add_broker_args(watch)
    watch.add_argument("--all", action="store_true", help="also show non-API topics (sim/...)")
    watch.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    watch.set_defaults(func=_watch)

    send = api_sub.add_parser("send", help="send one validated message; print the response")
    add_broker_args(send)
    send.add_argument("name", choices=sorted({n for n, _ in SPECS}), metavar="NAME")
    send.add_argument("--type", dest="msg_type", choices=("request", "update"), default="request")
    send.add_argument("--data", default="{}", help="the data object as JSON")
    send.add_argument("--topic", choices=TOPICS, help="when the message may go on several")
    send.add_argument("--timeout", type=float, default=5.0)
    send.set_defaults(func=_send)

    schemas = api_sub.add_parser("schemas", help="write one JSON Schema per message name and type")
    schemas.add_argument("directory", type=Path)
    schemas.set_defaults(func=_schemas)


def _schemas(args: argparse.Namespace) -> int:
    written = write_schemas(args.directory)
    print(f"wrote {len(written)} schemas to {args.directory}")
    return 0


def format_line(topic: str, payload: bytes) -> str:
    """One readable line per message; invalid ones say why."""
    if topic not in TOPICS:
        return f"{topic:<22} (not an API topic) {payload[:200]!r}"
    try:
        return decode(topic, payload).summary()
    except InvalidMessage as exc:
        return f"{topic:<22} INVALID  {exc}"


async def _watch_async(args: argparse.Namespace) -> int:
    seen = 0
    delay = 0.2
    while True:
        try:
            async with aiomqtt.Client(
                args.host, args.port, username=args.username, password=read_password(args)
            ) as client:
                for topic in ("#",) if args.all else TOPICS:
                    await client.subscribe(topic, qos=1)
                print(f"# watching {args.host}:{args.port}", file=sys.stderr, flush=True)
                delay = 0.2
                async for message in client.messages:
                    payload = message.payload if isinstance(message.payload, bytes) else b""
                    print(format_line(str(message.topic), payload), flush=True)
                    seen += 1
                    if args.count and seen >= args.count:
                        return 0
        except aiomqtt.MqttError as exc:
            print(f"# broker: {exc}; retrying in {delay:.1f} s", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _watch(args: argparse.Namespace) -> int:
    return asyncio.run(_watch_async(args))


async def _send_async(args: argparse.Namespace, data: dict[str, Any]) -> int:
    sp = SPECS.get((args.name, args.msg_type))
    if sp is None:
        print(f"error: {args.name} has no {args.msg_type}", file=sys.stderr)
        return 2
    topics = [args.topic] if args.topic else list(sp.topics)
    identity = sender_of(topics[0])
    client = ApiClient(
        {identity},
        host=args.host,
        port=args.port,
        username=args.username,
        password=read_password(args),
        request_timeout=args.timeout,
    )
    async with client:
        await client.wait_connected(args.timeout)
        if args.msg_type == "update":
            await client.update(args.name, data, topic=topics[0])
            await asyncio.sleep(0.2)  # let the QoS 1 publish complete before disconnecting
            print("sent")
            return 0
        reply = await client.request(args.name, data, topic=topics[0], timeout=args.timeout)
        print(json.dumps(reply.model_dump(mode="json", exclude_none=True)))
        return 0


def _send(args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        print(f"error: --data is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("error: --data must be a JSON object", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_send_async(args, data))
    except (ApiError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
