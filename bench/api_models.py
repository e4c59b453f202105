"""The two model sets on the hot paths: pydantic (the definition) vs josev.lean (compiled).

    ./dev bench api_models [--number=N]

What josev-iso15118 does per charge loop and per station update: validate an outgoing setpoint,
encode it, decode and validate the updates it subscribes to. Best of 5 repeats, in us per call.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from types import ModuleType
from typing import Any

from josev.api import models as pydantic_models
from josev.api.envelope import decode, encode
from josev.api.examples import EXAMPLES
from josev.lean.generated import api as lean_models

SETPOINT = {"evse_id": 1, "ev_limits": {"maximum_voltage": 500.0}, "is_precharge": False,
            "dc": {"voltage": 400.0, "charge_current": 100.0}}
MSG_ID = "0b5b1d8e-5c0a-4c1e-9a7e-3f1d2c3b4a5d"


def _update(name: str) -> bytes:
    return json.dumps({"id": MSG_ID, "name": name, "type": "update",
                       "data": EXAMPLES[(name, "update")]}).encode()


def _cases(m: ModuleType) -> dict[str, Callable[[], Any]]:
    value = m.PowerElectronicsSetpointRequest.model_validate(SETPOINT)
    limits, meter, cp = _update("cs_status_and_limits"), _update("meter_values"), \
        _update("cp_status")
    return {
        "validate power_electronics_setpoint": lambda: m.PowerElectronicsSetpointRequest
        .model_validate(SETPOINT),
        "encode power_electronics_setpoint": lambda: encode(
            MSG_ID, "power_electronics_setpoint", "request", value),
        "decode cs_status_and_limits update": lambda: decode("cs/josev", limits, m),
        "decode meter_values update": lambda: decode("cs/josev", meter, m),
        "decode cp_status update": lambda: decode("cs/josev", cp, m),
    }


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="bench api_models")
    p.add_argument("--number", type=int, default=2000)
    args = p.parse_args(argv)
    sets = {"pydantic": _cases(pydantic_models), "lean": _cases(lean_models)}
    print(f"{'operation':38s} {'pydantic us':>12s} {'lean us':>9s}")
    for op in sets["pydantic"]:
        row = []
        for cases in sets.values():
            best = min(timeit.repeat(cases[op], number=args.number, repeat=5))
            row.append(best / args.number * 1e6)
        print(f"{op:38s} {row[0]:12.1f} {row[1]:9.1f}")
    return 0
