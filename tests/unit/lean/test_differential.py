"""josev.lean's compiled validators against pydantic, the definition they are compiled from.

Every message example of the API and the config tables, then every variant made by putting an
odd value at every place in it (wrong types, bounds, huge and non-finite numbers, strings for
numbers, bad timestamps, missing and extra keys, tuples for lists): both validators must accept
the same inputs, produce the same values (and the same JSON), and refuse the same inputs, the
compiled one naming a place pydantic also names.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from josev.api import models as pm
from josev.api.examples import EXAMPLES
from josev.api.registry import SPECS
from josev.config import MqttConfig as PMqtt
from josev.lean import runtime
from josev.lean.generated import api as lm
from josev.lean.generated import config as lc
from josev.services.settings import HlcConfig as PHlc

POOL: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 6, 1000, 1001, 65536, 2**63, 10**400, 1.5, -0.0, 5.9,
    1e308, float("nan"), float("inf"), "", "x", "1", "230", "accepted", "evse_ready", "A1",
    "dynamic", "ISO20_DC", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00", "2026-11-22",
    "1763805600", "x" * 5001, [], {}, [1], ["dynamic"], ("dynamic",), {"l1": 1, "l2": 2, "l3": 3},
    {"zz": 1}, datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 22, 10),
    Path("/etc/josev/pw"),
)

CONFIG_EXAMPLES: list[tuple[type[Any], type[Any], dict[str, Any]]] = [
    (PMqtt, lc.MqttConfig, {}),
    (PMqtt, lc.MqttConfig, {"host": "::1", "port": 1884, "username": "iso15118",
                            "password_file": "/etc/josev/mqtt/iso15118"}),
    (PHlc, lc.HlcConfig, {}),
    (PHlc, lc.HlcConfig, {"pki": "/var/lib/josev/pki", "allow_plain": False, "iface": "eth1",
                          "netns": "josev-evse", "protocols": ["ISO20_DC", "DIN"],
                          "prefer": "secc", "control_modes": ["dynamic"],
                          "free_charging": False, "api_timeout": 2, "slac": False}),
]


def cases() -> list[tuple[type[Any], type[Any], dict[str, Any]]]:
    out = [(sp.model, getattr(lm, sp.model_name), EXAMPLES[key]) for key, sp in SPECS.items()]
    return out + CONFIG_EXAMPLES


def places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside a JSON-like value, the value itself first."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from places(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from places(v, (*path, i))


def put(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    target = doc
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return doc


def drop(doc: Any, path: tuple[Any, ...]) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for p in path[:-1]:
        target = target[p]
    del target[path[-1]]
    return doc


def variants(example: dict[str, Any]) -> Iterator[Any]:
    yield example
    for path in places(example):
        for odd in POOL:
            yield put(example, path, odd)
        if path:
            yield drop(example, path)
        current = example
        for p in path:
            current = current[p]
        if isinstance(current, dict):
            yield put(example, path, {**current, "zz_extra": 1})
        if isinstance(current, list):
            yield put(example, path, tuple(current))
            yield put(example, path, current + current)


def outcome(cls: type[Any], data: Any) -> tuple[Any, ...]:
    try:
        value = cls.model_validate(data)
    except ValueError as exc:
        return ("error", [tuple(e["loc"]) for e in exc.errors()])  # type: ignore[attr-defined]
    return ("ok", value.model_dump(mode="json"), value.model_dump(mode="python"))


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself (never accepted, but compare honestly)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b) if not isinstance(a, dict | list | tuple) \
        else _same_containers(a, b)


def _same_containers(a: Any, b: Any) -> bool:
    if type(a) is not type(b) or len(a) != len(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return all(same(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("pyd", "lean", "example"), cases(),
                         ids=lambda x: x.__name__ if isinstance(x, type) else "")
def test_compiled_validator_agrees_with_pydantic(pyd: type[Any], lean: type[Any],
                                                example: dict[str, Any]) -> None:
    assert outcome(pyd, example)[0] == "ok", "the example itself must be valid"
    checked = 0
    for data in variants(example):
        want, got = outcome(pyd, data), outcome(lean, data)
        assert want[0] == got[0], f"{pyd.__name__} {data!r}: pydantic {want}, lean {got}"
        if want[0] == "ok":
            assert same(want[1], got[1]), f"{pyd.__name__} JSON differs for {data!r}"
            assert same(want[2], got[2]), f"{pyd.__name__} values differ for {data!r}"
        else:
            assert got[1][0] in want[1], (
                f"{pyd.__name__} {data!r}: lean blames {got[1][0]}, pydantic {want[1]}")
        checked += 1
    assert checked > len(POOL)


def test_every_model_is_compiled() -> None:
    names = {n for n, c in vars(pm).items()
             if isinstance(c, type) and issubclass(c, pm.ApiModel) and c.__module__ == pm.__name__}
    compiled = {n for n, c in vars(lm).items()
                if isinstance(c, type) and issubclass(c, lm.ApiModel)}
    assert names == compiled
    # subclasses that only rename keep their relation, as isinstance checks rely on it
    assert issubclass(lm.CsStatusAndLimitsUpdate, lm.CsStatusAndLimitsResponse)


def test_models_are_frozen_comparable_and_copied_with_validation() -> None:
    a = lm.CpPwmRequest(evse_id=1, hlc=True, error_state=False, fault_state=False)
    b = lm.CpPwmRequest.model_validate(
        {"evse_id": 1, "hlc": True, "error_state": False, "fault_state": False})
    assert a == b and hash(a) == hash(b)
    assert a != lm.CpPwmRequest(evse_id=2, hlc=True, error_state=False, fault_state=False)
    assert repr(a) == ("CpPwmRequest(evse_id=1, hlc=True, current=None, error_state=False, "
                       "fault_state=False)")
    with pytest.raises(AttributeError, match="frozen"):
        a.evse_id = 2  # type: ignore[misc]
    with pytest.raises(runtime.LeanValidationError, match="current must be absent"):
        a.model_copy(update={"current": 10.0})
    assert a.model_copy(update={"hlc": False, "current": 10.0}).current == 10.0
    nested = lm.CsStatusAndLimitsUpdate.model_validate(EXAMPLES[("cs_status_and_limits", "update")])
    twin = copy.deepcopy(nested)
    assert twin == nested and twin.evses is not nested.evses
    assert pickle.loads(pickle.dumps(nested)) == nested and copy.copy(a) == a


def test_errors_name_the_place_and_the_model() -> None:
    bad = copy.deepcopy(EXAMPLES[("cs_status_and_limits", "update")])
    bad["evses"][0]["dc"]["max_current"] = "200"
    with pytest.raises(runtime.LeanValidationError) as info:
        lm.CsStatusAndLimitsUpdate.model_validate(bad)
    assert info.value.errors()[0]["loc"] == ("evses", 0, "dc", "max_current")
    assert "CsStatusAndLimitsUpdate" in str(info.value)
    assert "evses.0.dc.max_current" in str(info.value)
    assert "valid number" in str(info.value)
