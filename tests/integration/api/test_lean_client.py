"""A client on the compiled model set (josev-iso15118's) against one on the pydantic set (the
station's), on a real mosquitto: every request and update crosses both ways and arrives as the
receiver's own classes, equal in value; a broken request still gets an error answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
import pytest

from josev.api import ApiClient, RequestRejected, ValidationFailed
from josev.api import models as pm
from josev.api.examples import EXAMPLES
from josev.api.registry import SPECS, receiver_of, sender_of
from josev.lean.generated import api as lm
from tests.broker import Broker

REQUESTS = sorted(k for k in SPECS if k[1] == "request")
UPDATES = sorted((k, t) for k in SPECS if k[1] == "update" for t in SPECS[k].topics)
SETS = {"pydantic": pm, "lean": lm}


def client(broker: Broker, models: Any, *identities: str) -> ApiClient:
    return ApiClient(set(identities), host=broker.host, port=broker.port, backoff_max=0.5,
                     models=models)


@pytest.mark.parametrize("server_set", ["lean", "pydantic"])
@pytest.mark.parametrize("key", REQUESTS, ids=lambda k: k[0])
async def test_requests_cross_between_the_sets(mosquitto: Broker, key: tuple[str, str],
                                               server_set: str) -> None:
    name = key[0]
    caller_set = "pydantic" if server_set == "lean" else "lean"
    srv, cal = SETS[server_set], SETS[caller_set]
    topic = SPECS[key].topics[0]
    seen: list[Any] = []

    async def handler(req: Any) -> Any:
        seen.append(req)
        return SPECS[(name, "response")].model_in(srv).model_validate(
            EXAMPLES[(name, "response")])

    async with (client(mosquitto, srv, receiver_of(topic)) as server,
                client(mosquitto, cal, sender_of(topic)) as caller):
        server.on_request(name, handler)
        await server.wait_connected(5)
        reply = await caller.request(name, EXAMPLES[key], topic=topic, timeout=5)
    assert type(reply) is SPECS[(name, "response")].model_in(cal)
    assert reply.model_dump(mode="json") == SPECS[(name, "response")].model.model_validate(
        EXAMPLES[(name, "response")]).model_dump(mode="json")
    assert [type(r) for r in seen] == [SPECS[key].model_in(srv)]
    assert seen[0].model_dump(mode="json") == SPECS[key].model.model_validate(
        EXAMPLES[key]).model_dump(mode="json")


@pytest.mark.parametrize(("key", "topic"), UPDATES, ids=lambda v: str(v))
async def test_updates_arrive_as_compiled_classes(mosquitto: Broker, key: tuple[str, str],
                                                  topic: str) -> None:
    got: asyncio.Queue[Any] = asyncio.Queue()
    async with (client(mosquitto, lm, receiver_of(topic)) as sub,
                client(mosquitto, pm, sender_of(topic)) as pub):
        sub.on_update(key[0], got.put_nowait)
        await sub.wait_connected(5)
        await pub.wait_connected(5)
        await pub.update(key[0], EXAMPLES[key], topic=topic)
        value = await asyncio.wait_for(got.get(), 5)
    assert value == SPECS[key].model_in(lm).model_validate(EXAMPLES[key])


async def test_a_lean_client_refuses_bad_data_both_ways(mosquitto: Broker) -> None:
    async with client(mosquitto, lm, "josev", "iso15118") as brain, \
            client(mosquitto, pm, "cs") as station:
        station.on_request("cable_check", lambda req: _later(
            {"evse_id": 1, "cable_check_status": "finished"}))   # no isolation_level: invalid
        await station.wait_connected(5)
        with pytest.raises(ValidationFailed, match="evse_id"):
            await brain.request("cable_check", {"evse_id": "1", "cable_check_action": "start"})
        with pytest.raises(RequestRejected, match="isolation_level is required"):
            await brain.request("cable_check", {"evse_id": 1, "cable_check_action": "start"},
                                timeout=5)
        # a broken request from outside gets an error answer from the lean client
        brain.on_request("stop_charging", lambda req: _later({"evse_id": 1, "status": "accepted"}))
        await brain.wait_connected(5)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port,
                                  protocol=aiomqtt.ProtocolVersion.V5) as raw:
            await raw.subscribe("iso15118/ocpp")
            msg_id = "6f1c7a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"
            await raw.publish("ocpp/iso15118", json.dumps(
                {"id": msg_id, "name": "stop_charging", "type": "request",
                 "data": {"evse_id": True}}))
            async with asyncio.timeout(5):
                async for m in raw.messages:
                    answer = json.loads(m.payload)  # type: ignore[arg-type]
                    if answer["id"] == msg_id:
                        break
    assert answer["type"] == "error"
    assert answer["data"]["code"] == "invalid_message"
    assert "evse_id: Input should be a valid integer" in answer["data"]["reason"]


async def _later(data: dict[str, Any]) -> dict[str, Any]:
    return data
