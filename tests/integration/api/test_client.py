"""The API client on a real mosquitto: round trips, bad input, broker restarts, concurrency."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from josev.api import (
    ApiClient,
    ConnectionLost,
    NotConnected,
    RequestRejected,
    RequestTimeout,
    ValidationFailed,
    models,
)
from josev.api.envelope import decode, encode, new_id
from josev.api.examples import EXAMPLES
from josev.api.registry import SPECS, receiver_of, sender_of
from tests.broker import Broker

REQUESTS = sorted(k for k in SPECS if k[1] == "request")
UPDATES = sorted((k, t) for k in SPECS if k[1] == "update" for t in SPECS[k].topics)


def client(broker: Broker, *identities: str, **kw: Any) -> ApiClient:
    return ApiClient(set(identities), host=broker.host, port=broker.port, backoff_max=0.5, **kw)


async def _wait_for(predicate: Any, what: str, timeout: float = 10.0) -> None:
    """Poll until `predicate()`; the bound only guards against a hang, it asserts no timing."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - the state lives in another client
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


@pytest.mark.parametrize("key", REQUESTS, ids=lambda k: k[0])
async def test_every_request_round_trips(mosquitto: Broker, key: tuple[str, str]) -> None:
    name = key[0]
    req_spec, resp_spec = SPECS[key], SPECS[(name, "response")]
    expected = resp_spec.model.model_validate(EXAMPLES[(name, "response")])
    for topic in req_spec.topics:
        seen: list[models.ApiModel] = []

        async def handler(
            req: models.ApiModel, seen: list[models.ApiModel] = seen
        ) -> models.ApiModel:
            seen.append(req)
            return expected

        async with (
            client(mosquitto, receiver_of(topic)) as server,
            client(mosquitto, sender_of(topic)) as caller,
        ):
            server.on_request(name, handler)
            await server.wait_connected(5)
            reply = await caller.request(name, EXAMPLES[key], topic=topic, timeout=5)
        assert reply == expected
        assert seen == [req_spec.model.model_validate(EXAMPLES[key])]


@pytest.mark.parametrize(("key", "topic"), UPDATES, ids=lambda v: str(v))
async def test_every_update_is_delivered(
    mosquitto: Broker, key: tuple[str, str], topic: str
) -> None:
    name = key[0]
    got: asyncio.Queue[models.ApiModel] = asyncio.Queue()
    async with (
        client(mosquitto, receiver_of(topic)) as sub,
        client(mosquitto, sender_of(topic)) as pub,
    ):
        sub.on_update(name, got.put_nowait)
        await sub.wait_connected(5)
        await pub.wait_connected(5)
        await pub.update(name, EXAMPLES[key], topic=topic)
        value = await asyncio.wait_for(got.get(), 5)
    assert value == SPECS[key].model.model_validate(EXAMPLES[key])


async def test_async_update_callbacks_run_and_their_errors_are_contained(mosquitto: Broker) -> None:
    got: list[str] = []

    async def good(v: models.CpStatusUpdate) -> None:
        got.append(v.state)

    def bad(v: models.CpStatusUpdate) -> None:
        raise RuntimeError("callback bug")

    async with client(mosquitto, "josev") as sub, client(mosquitto, "cs") as pub:
        sub.on_update("cp_status", bad)
        sub.on_update("cp_status", good)
        await sub.wait_connected(5)
        await pub.wait_connected(5)
        for state in ("A1", "B1", "C2"):
            await pub.update("cp_status", {"evse_id": 1, "connector_id": 1, "state": state})
        await _wait_for(lambda: len(got) == 3, "three updates")
    assert got == ["A1", "B1", "C2"]


async def _raw_exchange(
    broker: Broker, topic: str, payload: bytes, expect: int
) -> list[dict[str, Any]]:
    """Publish raw bytes and collect what comes back on the reversed topic.

    Waits for `expect` replies; when none is expected it listens for a short quiet period, which
    can only make the "no answer" check stricter, never looser.
    """
    back = "/".join(reversed(topic.split("/")))
    out: list[dict[str, Any]] = []
    async with aiomqtt.Client(broker.host, broker.port) as raw:
        await raw.subscribe(back, qos=1)
        await raw.publish(topic, payload, qos=1)
        try:
            async with asyncio.timeout(5.0 if expect else 0.5):
                async for message in raw.messages:
                    assert isinstance(message.payload, bytes)
                    out.append(json.loads(message.payload))
                    if expect and len(out) >= expect:
                        break
        except TimeoutError:
            pass
    return out


async def test_invalid_requests_get_errors_and_the_receiver_keeps_running(
    mosquitto: Broker,
) -> None:
    async def cable_check(req: models.CableCheckRequest) -> models.CableCheckResponse:
        return models.CableCheckResponse(evse_id=req.evse_id, cable_check_status="ongoing")

    async with client(mosquitto, "cs") as station:
        station.on_request("cable_check", cable_check)
        await station.wait_connected(5)
        cases = [
            # (payload, expected error code or None when no answer is possible)
            (b"{garbage", None),
            (b'"a string"', None),
            (
                json.dumps(
                    {"id": "nope", "name": "cable_check", "type": "request", "data": {}}
                ).encode(),
                None,
            ),
        ]
        ids = [new_id() for _ in range(5)]
        cases += [
            (
                json.dumps(
                    {"id": ids[0], "name": "cable_check", "type": "request", "data": {"evse_id": 1}}
                ).encode(),
                "invalid_message",
            ),
            (
                json.dumps(
                    {
                        "id": ids[1],
                        "name": "cable_check",
                        "type": "request",
                        "data": {"evse_id": "x", "cable_check_action": "start"},
                    }
                ).encode(),
                "invalid_message",
            ),
            (
                json.dumps(
                    {
                        "id": ids[2],
                        "name": "cable_check",
                        "type": "request",
                        "data": {"evse_id": 1, "cable_check_action": "start", "more": 1},
                    }
                ).encode(),
                "invalid_message",
            ),
            (
                json.dumps(
                    {"id": ids[3], "name": "teleport", "type": "request", "data": {}}
                ).encode(),
                "unknown_message",
            ),
            (
                json.dumps(
                    {
                        "id": ids[4],
                        "name": "cable_check",
                        "type": "request",
                        "data": {"evse_id": 1, "cable_check_action": "start"},
                        "x": 2,
                    }
                ).encode(),
                "invalid_message",
            ),
        ]
        for payload, code in cases:
            replies = await _raw_exchange(mosquitto, "josev/cs", payload, 0 if code is None else 1)
            if code is None:
                assert replies == []
            else:
                assert len(replies) == 1, replies
                assert replies[0]["type"] == "error"
                assert replies[0]["data"]["code"] == code
                assert replies[0]["id"] in ids
                # the error itself is a valid message of the contract
                decode("cs/josev", json.dumps(replies[0]).encode())
        assert station.invalid_received == len(cases)
        # ... and it still answers a valid request.
        async with client(mosquitto, "josev") as brain:
            reply = await brain.request(
                "cable_check", {"evse_id": 1, "cable_check_action": "start"}
            )
        assert reply.cable_check_status == "ongoing"


async def test_handler_faults_become_error_answers(mosquitto: Broker) -> None:
    async def crashes(req: models.ResetRequest) -> models.ResetResponse:
        raise RuntimeError("relay driver exploded")

    async def wrong_shape(req: models.CsConnectorRequest) -> dict[str, Any]:
        return {"evse_id": 1, "connector_id": 1, "status": "flying"}

    async with client(mosquitto, "cs") as station, client(mosquitto, "josev") as brain:
        station.on_request("reset", crashes)
        station.on_request("cs_connector", wrong_shape)
        await station.wait_connected(5)
        with pytest.raises(RequestRejected, match="relay driver exploded") as info:
            await brain.request("reset", {})
        assert info.value.code == "handler_failed"
        with pytest.raises(RequestRejected, match="invalid response"):
            await brain.request(
                "cs_connector", {"evse_id": 1, "connector_id": 1, "action": "status"}
            )


async def test_invalid_response_fails_the_request_instead_of_hanging(mosquitto: Broker) -> None:
    async with (
        client(mosquitto, "josev") as brain,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as rogue,
    ):
        await rogue.subscribe("josev/cs", qos=1)
        await brain.wait_connected(5)

        async def answer_badly() -> None:
            async for message in rogue.messages:
                assert isinstance(message.payload, bytes)
                req = json.loads(message.payload)
                bad = {
                    "id": req["id"],
                    "name": "reset",
                    "type": "response",
                    "data": {"status": "maybe"},
                }
                await rogue.publish("cs/josev", json.dumps(bad), qos=1)
                return

        task = asyncio.create_task(answer_badly())
        with pytest.raises(ValidationFailed, match=r"invalid reset response.*status"):
            await brain.request("reset", {}, timeout=5)
        await task


async def test_sending_invalid_data_is_refused_before_it_leaves(mosquitto: Broker) -> None:
    async with client(mosquitto, "josev") as brain:
        with pytest.raises(ValidationFailed, match="cable_check_action"):
            await brain.request("cable_check", {"evse_id": 1})
        with pytest.raises(ValueError, match="not sent by"):
            await brain.update("cp_status", {"evse_id": 1, "connector_id": 1, "state": "A1"})
        with pytest.raises(ValueError, match="has no request"):
            await brain.request("cp_status", {})


async def test_request_without_responder_times_out(mosquitto: Broker) -> None:
    async with client(mosquitto, "josev") as brain:
        with pytest.raises(RequestTimeout, match=r"no reset response within 0\.3 s"):
            await brain.request("reset", {}, timeout=0.3)


async def test_request_without_broker_fails_clearly(tmp_path: Any) -> None:
    broker = Broker(tmp_path / "never-started")
    async with client(broker, "josev") as brain:
        with pytest.raises(NotConnected, match="no broker connection"):
            await brain.request("reset", {}, timeout=0.3)


async def test_concurrent_requests_are_matched_to_their_responses(mosquitto: Broker) -> None:
    rng = random.Random(7)

    async def contactor(req: models.CsContactorStatusRequest) -> models.CsContactorStatusResponse:
        await asyncio.sleep(rng.random() * 0.05)  # answers come back out of order
        return models.CsContactorStatusResponse(
            evse_id=req.evse_id, status="opened", info=f"evse {req.evse_id}"
        )

    async with (
        client(mosquitto, "cs") as station,
        client(mosquitto, "josev") as a,
        client(mosquitto, "josev") as b,
    ):
        station.on_request("cs_contactor_status", contactor)
        await station.wait_connected(5)
        calls = [(c, evse) for evse in range(1, 41) for c in ((a,) if evse % 2 else (b,))]
        replies = await asyncio.gather(
            *(c.request("cs_contactor_status", {"evse_id": evse}) for c, evse in calls)
        )
    assert [r.evse_id for r in replies] == [evse for _, evse in calls]
    assert all(r.info == f"evse {r.evse_id}" for r in replies)


async def test_broker_restart_mid_exchange(tmp_path: Path) -> None:
    # The station's broker keeps its sessions on the data partition; so does this one.
    broker = Broker(tmp_path / "broker", persistence=True)
    broker.start()
    release = asyncio.Event()

    async def slow_reset(req: models.ResetRequest) -> models.ResetResponse:
        await release.wait()
        return models.ResetResponse(status="accepted")

    async def quick_reset(req: models.ResetRequest) -> models.ResetResponse:
        return models.ResetResponse(status="rejected")

    got: list[str] = []
    station = client(broker, "cs", persistent=True, client_id="test-hal")
    brain = client(broker, "josev", persistent=True, client_id="test-brain")
    try:
        async with station, brain:
            station.on_request("reset", slow_reset)
            brain.on_update("cp_status", lambda v: got.append(v.state))
            await station.wait_connected(5)
            await brain.wait_connected(5)
            pending = asyncio.create_task(brain.request("reset", {}, timeout=30))
            await asyncio.sleep(0.2)
            broker.stop()
            # The waiting request fails at once with a clear error instead of hanging for 30 s.
            with pytest.raises(ConnectionLost, match="broker connection lost"):
                await asyncio.wait_for(pending, 10)
            release.set()
            # An update sent while the broker is down waits in the outbox and, whichever client
            # reconnects first, reaches the brain through its persistent session.
            await station.update("cp_status", {"evse_id": 1, "connector_id": 1, "state": "B1"})
            broker.start()
            await _wait_for(lambda: got == ["B1"], "queued update")
            assert station.connections >= 2 and brain.connections >= 2
            station.on_request("reset", quick_reset)
            reply = await brain.request("reset", {}, timeout=5)
        assert reply.status == "rejected"
    finally:
        broker.stop()


async def test_cli_send_and_watch(mosquitto: Broker) -> None:
    async def reset(req: models.ResetRequest) -> models.ResetResponse:
        return models.ResetResponse(status="accepted")

    base = [sys.executable, "-m", "josev.cli", "api"]
    broker = ["--host", mosquitto.host, "--port", str(mosquitto.port)]
    async with client(mosquitto, "cs") as station:
        station.on_request("reset", reset)
        await station.wait_connected(5)
        watch = await asyncio.create_subprocess_exec(
            *base,
            "watch",
            *broker,
            "--count",
            "3",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert watch.stderr is not None
        await asyncio.wait_for(watch.stderr.readline(), 20)  # "# watching ..."
        send = await asyncio.create_subprocess_exec(
            *base,
            "send",
            "reset",
            "--data",
            "{}",
            *broker,
            stdout=subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(send.communicate(), 20)
        assert send.returncode == 0
        assert json.loads(out) == {"status": "accepted"}
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as raw:
            await raw.publish("cs/josev", b"{broken", qos=1)
        lines, _ = await asyncio.wait_for(watch.communicate(), 20)
    text = lines.decode().splitlines()
    assert len(text) == 3
    assert "request" in text[0] and "reset" in text[0]
    assert "response" in text[1] and '{"status":"accepted"}' in text[1]
    assert "INVALID" in text[2] and "not JSON" in text[2]


async def test_cli_send_refuses_invalid_data_before_sending(mosquitto: Broker) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "josev.cli",
        "api",
        "send",
        "cable_check",
        "--data",
        '{"evse_id": 1}',
        "--host",
        mosquitto.host,
        "--port",
        str(mosquitto.port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert b"cable_check_action" in err


def test_encode_is_what_decode_reads() -> None:
    value = models.ResetResponse(status="accepted")
    msg = decode("cs/josev", encode(new_id(), "reset", "response", value))
    assert msg.data == value


async def test_stale_requests_expire_instead_of_reaching_a_returning_station(
    mosquitto: Broker,
) -> None:
    seen: list[str] = []

    async def reset(req: models.ResetRequest) -> models.ResetResponse:
        seen.append("reset")
        return models.ResetResponse(status="accepted")

    station = client(mosquitto, "cs", persistent=True, client_id="test-expiry-hal")
    async with station:
        await station.wait_connected(5)
    # The station is away; its session (and subscription) stays with the broker.
    async with client(mosquitto, "josev") as brain:
        with pytest.raises(RequestTimeout):
            await brain.request("reset", {}, timeout=1.0)
    await asyncio.sleep(2.2)  # past the request's expiry (its 1 s timeout, rounded up)
    station = client(mosquitto, "cs", persistent=True, client_id="test-expiry-hal")
    station.on_request("reset", reset)
    async with station, client(mosquitto, "josev") as brain:
        await station.wait_connected(5)
        # A fresh request is answered; the stale one was never delivered.
        reply = await brain.request("reset", {}, timeout=5)
    assert reply.status == "accepted"
    assert seen == ["reset"]


async def test_an_update_sent_right_before_close_still_reaches_the_broker(
    mosquitto: Broker,
) -> None:
    """A short-lived publisher (a CLI, a test, a service stopping) queues its update before the
    connection is up; closing waits for it to go out instead of dropping it."""
    got: list[models.CpStatusUpdate] = []
    receiver = client(mosquitto, "josev")
    receiver.on_update("cp_status", got.append)
    async with receiver:
        await receiver.wait_connected(10.0)
        sender = client(mosquitto, "cs")
        async with sender:   # no wait_connected: the update waits in the outbox
            await sender.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1,
                                                                   state="B1"))
        await _wait_for(lambda: bool(got), "the update to arrive")
    assert got[0].state == "B1"


async def test_updates_that_cannot_go_out_are_logged_at_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    broker = Broker(tmp_path / "never-started")
    sender = client(broker, "cs")
    with caplog.at_level(logging.WARNING, logger="josev.api"):
        async with sender:
            await sender.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1,
                                                                   state="B1"))
            await sender.update("cp_status", models.CpStatusUpdate(evse_id=1, connector_id=1,
                                                                   state="C2"))
            await sender.close(drain=0.2)
    assert "closing with 2 update(s) not sent: no broker connection" in caplog.text
