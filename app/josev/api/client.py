"""The async Josev API client every service uses (aiomqtt underneath).

Why a client of our own rather than raw MQTT in each service: one place validates both ways,
matches responses to requests by id, answers bad requests with an error, survives broker
restarts (reconnect with backoff, resubscribe, flush queued updates) and fails waiting requests
at once when the connection drops, so no caller ever hangs on a dead broker.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from types import ModuleType
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from josev.api.envelope import (
    Message,
    decode_if,
    describe_validation_error,
    encode,
    new_id,
    pydantic_models,
)
from josev.api.errors import (
    ConnectionLost,
    InvalidMessage,
    NotConnected,
    RequestRejected,
    RequestTimeout,
    ValidationFailed,
)
from josev.api.registry import PARTICIPANTS, TOPICS, MessageSpec, receiver_of, reverse, sender_of
from josev.api.registry import spec as find_spec
from josev.tasks import cancel_and_wait

log = logging.getLogger("josev.api")

RESPONSE_EXPIRY = 30.0  # s; nobody waits longer for an answer
RequestHandler = Callable[[Any], Awaitable[Any]]   # -> a model (either set) or a dict
UpdateCallback = Callable[[Any], Awaitable[None] | None]


def _expiring(seconds: float) -> Properties:
    """A request is worthless after its timeout: the broker must not deliver it late (a queued
    setpoint reaching the station after a restart would be dangerous)."""
    return _expiry_properties(max(1, math.ceil(seconds)))


@functools.lru_cache(maxsize=64)
def _expiry_properties(seconds: int) -> Properties:
    """One Properties object per expiry: building one costs ~30 us (more than validating the
    setpoint each charge loop sends), and paho only reads it (pack) when it publishes."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.MessageExpiryInterval = seconds
    return props


def _as_model(sp: MessageSpec, data: Any, models: ModuleType) -> Any:
    """Validate outgoing data against exactly the spec's model (a dict is validated too; a
    model of the other set or class is dumped and validated again)."""
    model = sp.model_in(models)
    if type(data) is model:
        return data
    if not isinstance(data, dict) and hasattr(data, "model_dump"):
        data = data.model_dump(exclude_none=True)
    try:
        return model.model_validate(data)
    except ValueError as exc:
        raise ValidationFailed(
            f"{sp.name} {sp.msg_type}: {describe_validation_error(exc)}"
        ) from None


class ApiClient:
    """A participant on the Josev bus speaking as one or more identities (josev, cs, ocpp, ...)."""

    def __init__(
        self,
        identities: Iterable[str],
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        request_timeout: float = 5.0,
        qos: int = 1,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        outbox_size: int = 1000,
        persistent: bool = False,
        session_expiry: int = 3600,
        models: ModuleType | None = None,
    ) -> None:
        """`models`: the model set messages are validated with and handed over as; default the
        pydantic classes (josev.api.models), josev-iso15118 passes josev.lean.generated.api."""
        self.models = models if models is not None else pydantic_models()
        self.identities = frozenset(identities)
        unknown = self.identities - set(PARTICIPANTS)
        if not self.identities or unknown:
            raise ValueError(f"identities must be from {PARTICIPANTS}, got {sorted(unknown)}")
        self.host, self.port = host, port
        self._username, self._password = username, password
        self.client_id = client_id or f"josev-{'-'.join(sorted(self.identities))}-{new_id()[:8]}"
        self.request_timeout = request_timeout
        self.qos = qos
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        # A persistent session (MQTT v5, clean_start off) makes the broker keep our
        # subscriptions and queue QoS 1 messages while we reconnect or it restarts (with its own
        # persistence on): an update is then not lost to a reconnect race. It needs a stable id.
        if persistent and client_id is None:
            raise ValueError("a persistent session needs a stable client_id")
        self.persistent = persistent
        self.session_expiry = session_expiry
        self.subscriptions = tuple(t for t in TOPICS if receiver_of(t) in self.identities)
        self._handlers: dict[str, RequestHandler] = {}
        self._callbacks: dict[str, list[UpdateCallback]] = {}
        self._pending: dict[str, tuple[str, asyncio.Future[Message]]] = {}
        self._outbox: deque[tuple[str, bytes]] = deque(maxlen=outbox_size)
        self._mqtt: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connections = 0  # how many times a connection was established (tests, status)
        self.invalid_received = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> ApiClient:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt:{self.client_id}")

    async def close(self, drain: float = 2.0) -> None:
        """Stop. Updates still waiting for the broker get up to `drain` s to go out (a service
        that publishes and stops at once must not lose them); any left are logged, not
        dropped silently. Stopping is bounded even where one cancel is not enough."""
        if self._task is not None and self._outbox:
            for _ in range(max(0, int(drain / 0.02))):
                if not self._outbox or self._task.done():
                    break
                await asyncio.sleep(0.02)
        if self._outbox:
            log.warning("closing with %d update(s) not sent: no broker connection",
                        len(self._outbox))
        if self._task is not None:
            await cancel_and_wait([self._task], 2.0, f"MQTT client {self.client_id}")
            self._task = None
        await cancel_and_wait(list(self._tasks), 1.0, f"MQTT handlers of {self.client_id}")
        self._fail_pending(ConnectionLost("client closed"))

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise NotConnected(
                f"no broker connection to {self.host}:{self.port} within {timeout} s"
            ) from None

    async def _run(self) -> None:
        delay = self.backoff_initial
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self._username,
                    password=self._password,
                    identifier=self.client_id,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    clean_start=not self.persistent,
                    properties=self._connect_properties(),
                    keepalive=10,
                    timeout=5.0,
                ) as client:
                    for topic in self.subscriptions:
                        await client.subscribe(topic, qos=self.qos)
                    self._mqtt = client
                    self.connections += 1
                    delay = self.backoff_initial
                    self._connected.set()
                    log.info(
                        "connected to %s:%s as %s, subscribed to %s",
                        self.host,
                        self.port,
                        self.client_id,
                        ", ".join(self.subscriptions) or "nothing",
                    )
                    await self._flush_outbox(client)
                    async for message in client.messages:
                        self._on_message(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                was_up = self._connected.is_set()
                self._connected.clear()
                self._mqtt = None
                self._fail_pending(ConnectionLost(f"broker connection lost: {exc}"))
                if was_up:
                    log.warning("broker connection lost (%s); reconnecting", exc)
                else:
                    log.info(
                        "broker %s:%s unreachable (%s); retry in %.1f s",
                        self.host,
                        self.port,
                        exc,
                        delay,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
            finally:
                self._connected.clear()
                self._mqtt = None

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry if self.persistent else 0
        return props

    async def _flush_outbox(self, client: aiomqtt.Client) -> None:
        while self._outbox:
            topic, payload = self._outbox[0]
            await client.publish(topic, payload, qos=self.qos)
            self._outbox.popleft()

    def _fail_pending(self, exc: Exception) -> None:
        for _, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()

    # -- registration -----------------------------------------------------------------------------

    def on_request(self, name: str, handler: RequestHandler) -> None:
        """Answer requests `name` arriving on a topic addressed to one of our identities."""
        sp = find_spec(name, "request")
        if sp is None:
            raise ValueError(f"{name!r} has no request")
        if not any(receiver_of(t) in self.identities for t in sp.topics):
            raise ValueError(f"{name} requests are never addressed to {sorted(self.identities)}")
        self._handlers[name] = handler

    def on_update(self, name: str, callback: UpdateCallback) -> None:
        """Call `callback(model)` for every valid update `name` addressed to us."""
        if find_spec(name, "update") is None:
            raise ValueError(f"{name!r} has no update")
        self._callbacks.setdefault(name, []).append(callback)

    # -- sending ----------------------------------------------------------------------------------

    def _topics_for(self, sp: MessageSpec, topic: str | None) -> tuple[str, ...]:
        mine = tuple(t for t in sp.topics if sender_of(t) in self.identities)
        if topic is not None:
            if topic not in mine:
                raise ValueError(
                    f"{sp.name} {sp.msg_type} cannot be sent by {sorted(self.identities)} "
                    f"on {topic}; allowed: {', '.join(mine) or 'none'}"
                )
            return (topic,)
        if not mine:
            raise ValueError(
                f"{sp.name} {sp.msg_type} is not sent by {sorted(self.identities)} "
                f"(it travels on {', '.join(sp.topics)})"
            )
        return mine

    async def update(self, name: str, data: Any, *, topic: str | None = None) -> None:
        """Publish an update on every topic we may send it on (or on `topic`).

        While the broker is away updates wait in a bounded outbox and go out, in order, on
        reconnect: the station's latest state is not lost over a broker restart.
        """
        sp = find_spec(name, "update")
        if sp is None:
            raise ValueError(f"{name!r} has no update")
        value = _as_model(sp, data, self.models)
        payload = encode(new_id(), name, "update", value)
        for t in self._topics_for(sp, topic):
            await self._publish_or_queue(t, payload)

    async def _publish_or_queue(
        self, topic: str, payload: bytes, expiry: float | None = None
    ) -> None:
        client = self._mqtt
        if client is not None and self._connected.is_set():
            try:
                props = _expiring(expiry) if expiry is not None else None
                await client.publish(topic, payload, qos=self.qos, properties=props)
                return
            except aiomqtt.MqttError as exc:
                log.warning("publish on %s failed (%s); queued for reconnect", topic, exc)
        if len(self._outbox) == self._outbox.maxlen:
            log.warning("outbox full: dropping the oldest queued update")
        self._outbox.append((topic, payload))

    async def request(
        self,
        name: str,
        data: Any,
        *,
        topic: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send a request and return the validated response model.

        Raises NotConnected (no broker within the timeout), RequestTimeout, RequestRejected (an
        error answer), ConnectionLost (dropped while waiting) or ValidationFailed.
        """
        sp = find_spec(name, "request")
        if sp is None:
            raise ValueError(f"{name!r} has no request")
        topics = self._topics_for(sp, topic)
        if len(topics) > 1:
            raise ValueError(f"{name} request: choose topic= from {', '.join(topics)}")
        value = _as_model(sp, data, self.models)
        limit = self.request_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        if not self._connected.is_set():   # wait_for on a set event still costs ~30 us
            await self.wait_connected(limit)
        client = self._mqtt
        if client is None:
            raise NotConnected("broker connection dropped before the request could be sent")
        msg_id = new_id()
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = (name, fut)
        try:
            try:
                await client.publish(
                    topics[0],
                    encode(msg_id, name, "request", value),
                    qos=self.qos,
                    properties=_expiring(limit),
                )
            except aiomqtt.MqttError as exc:
                raise ConnectionLost(f"{name} request not sent: {exc}") from None
            remaining = max(0.0, deadline - time.monotonic())
            try:
                reply = await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                raise RequestTimeout(f"no {name} response within {limit} s") from None
        finally:
            self._pending.pop(msg_id, None)
        if reply.type == "error":
            err = reply.data
            raise RequestRejected(name, err.code, err.reason)
        return reply.data

    # -- receiving --------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_message(self, topic: str, payload: Any) -> None:
        if not isinstance(payload, bytes | bytearray | str):
            payload = b""
        try:
            msg = decode_if(topic, payload, self._wanted, self.models)
        except InvalidMessage as exc:
            self.invalid_received += 1
            self._on_invalid(topic, exc)
            return
        if msg is None:
            return  # valid envelope, but nothing here consumes it: its data is not validated
        if msg.type in ("response", "error"):
            pending = self._pending.get(msg.id)
            if pending is not None and not pending[1].done():
                if pending[0] == msg.name:
                    pending[1].set_result(msg)
                else:
                    pending[1].set_exception(
                        ValidationFailed(
                            f"response to {pending[0]} request came back named {msg.name}"
                        )
                    )
            return
        if msg.type == "request":
            handler = self._handlers.get(msg.name)
            if handler is not None:
                self._spawn(self._answer(handler, msg), f"answer:{msg.name}")
            return
        for callback in self._callbacks.get(msg.name, ()):
            try:
                result = callback(msg.data)
                if inspect.isawaitable(result):
                    self._spawn(self._guard(result, msg.name), f"update:{msg.name}")
            except Exception:
                log.exception("update callback for %s failed", msg.name)

    def _wanted(self, msg_id: str, name: str, type_: str) -> bool:
        if type_ == "update":
            return name in self._callbacks
        if type_ == "request":
            return name in self._handlers
        return msg_id in self._pending

    def _on_invalid(self, topic: str, exc: InvalidMessage) -> None:
        log.warning(
            "invalid message on %s (id=%s name=%s type=%s): %s",
            topic,
            exc.message_id,
            exc.name,
            exc.type,
            exc,
        )
        # A broken response still releases the request waiting for it: no caller hangs.
        if exc.message_id is not None and exc.type in ("response", "error"):
            pending = self._pending.get(exc.message_id)
            if pending is not None and not pending[1].done():
                pending[1].set_exception(
                    ValidationFailed(f"invalid {pending[0]} response: {exc.reason}")
                )
            return
        # A broken request gets an error answer from whoever answers requests on that topic.
        if (
            exc.type == "request"
            and exc.message_id is not None
            and exc.name is not None
            and topic in TOPICS
            and self._answers_on(topic, exc.name)
        ):
            err = self.models.ErrorData(code=exc.code, reason=exc.reason[:2000])
            self._spawn(
                self._publish_or_queue(
                    reverse(topic),
                    encode(exc.message_id, exc.name, "error", err),
                    expiry=RESPONSE_EXPIRY,
                ),
                "error-answer",
            )

    def _answers_on(self, topic: str, name: str) -> bool:
        if receiver_of(topic) not in self.identities:
            return False
        if name in self._handlers:
            return True
        # An unknown or misdirected name: answered by any client that answers requests here.
        sp = find_spec(name, "request")
        return bool(self._handlers) and (sp is None or topic not in sp.topics)

    async def _guard(self, awaitable: Awaitable[Any], name: str) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("update callback for %s failed", name)

    async def _answer(self, handler: RequestHandler, msg: Message) -> None:
        sp = find_spec(msg.name, "response")
        assert sp is not None
        out_topic = reverse(msg.topic)
        try:
            result = await handler(msg.data)
            value = _as_model(sp, result, self.models)
            payload = encode(msg.id, msg.name, "response", value)
        except ValidationFailed as exc:
            log.error("handler for %s returned an invalid response: %s", msg.name, exc)
            err = self.models.ErrorData(
                code="handler_failed", reason=f"invalid response: {exc}"[:2000])
            payload = encode(msg.id, msg.name, "error", err)
        except Exception as exc:
            log.exception("handler for %s request %s failed", msg.name, msg.id)
            err = self.models.ErrorData(
                code="handler_failed", reason=f"{type(exc).__name__}: {exc}"[:2000])
            payload = encode(msg.id, msg.name, "error", err)
        await self._publish_or_queue(out_topic, payload, expiry=RESPONSE_EXPIRY)
