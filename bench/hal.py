"""josev-hal safety supervisor, real time: trigger -> safe state, and the control step's cost.

The service's own asyncio control loop runs on the real clock against the simulated station
(contactor travel 20 ms, supply shutdown ~10 ms); "safe" is contacts open, current below the
safe threshold and the pilot at F. The brain-silence trigger time is the moment the timeout
expired. `./dev bench hal [--n=N] [--rt]` (--rt: SCHED_FIFO, as the station's unit runs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from josev.api import models
from josev_hal.config import HalConfig
from josev_hal.service import HalService
from josev_hal.sim.scenario import is_safe, setpoint
from josev_hal.sim.world import SimEvse


def _config(tmp: Path) -> HalConfig:
    return HalConfig.model_validate({
        "tpm": {"backend": "file", "key_dir": str(tmp / "keys")},
        # A short IMD measurement keeps the benchmark quick; it does not affect the trip path.
        "evses": [{"isolation": {"test_duration_s": 0.2}}],
        "supervisor": {"brain_timeout_s": 1.0},
    })


async def _until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


async def _charge(service: HalService, amps: float) -> SimEvse:
    ctl = service.controllers[1]
    world = service.built.world.evses[1]
    world.ev.plugged, world.ev.battery_voltage, world.ev.cp_state = True, 380.0, "C"
    now = time.monotonic
    ctl.cp_pwm(models.CpPwmRequest(evse_id=1, hlc=True, error_state=False, fault_state=False),
               now())
    await _until(lambda: ctl.cp_letter is not None and ctl.cp_letter.value == "C", "CP C")
    ctl.cable_check(models.CableCheckRequest(evse_id=1, cable_check_action="start"), now())
    await _until(lambda: ctl.state.isolation == "valid", "isolation")
    ctl.setpoint(setpoint(380.0, 2.0, precharge=True), now())
    await _until(lambda: world.ev.contactor_closed, "precharge")
    ctl.setpoint(setpoint(400.0, amps), now())
    await _until(lambda: world.supply_current >= amps * 0.98, "current")
    if ctl.supervisor.trips:
        raise TimeoutError(f"tripped while charging: {ctl.supervisor.trips}")
    return world


async def _one(trigger: str, amps: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        service = HalService(_config(Path(tmp)))
        ctl = service.controllers[1]
        safe_at: list[float] = []
        step = service.step

        def watched(now: float) -> list[Any]:
            out = step(now)
            if not safe_at and is_safe(service):
                safe_at.append(time.monotonic())
            return out

        service.step = watched  # type: ignore[method-assign]
        beating = True

        async def heartbeat() -> None:  # CurrentDemand traffic every 50 ms
            while beating:
                ctl.heard(time.monotonic())
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(service._control_loop()),
                 asyncio.create_task(heartbeat())]
        try:
            try:
                world = await _charge(service, amps)
            except TimeoutError as exc:
                raise RuntimeError(f"could not reach {amps} A ({exc}); trips: "
                                   f"{ctl.supervisor.trips}") from None
            safe_at.clear()
            if trigger == "brain_silent":
                beating = False
                await _until(lambda: bool(safe_at), "safe", 5.0)
                return safe_at[0] - ctl.supervisor.brain_deadline()
            t0 = time.monotonic()
            if trigger == "emergency_stop":
                service.built.world.estop = True
            elif trigger == "cp_b_under_load":
                world.ev.cp_state = "B"
            elif trigger == "unplugged_under_load":
                world.ev.plugged = False
            elif trigger == "supply_fault":
                world.supply_faults = ["module 1: fault"]
            elif trigger == "isolation_fault":
                world.isolation_ohm = 20_000.0
            await _until(lambda: bool(safe_at), "safe", 5.0)
            return safe_at[0] - t0
        finally:
            beating = False
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t


def _step_cost(n: int = 2000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        service = HalService(_config(Path(tmp)))
        t = time.monotonic()
        start = time.perf_counter()
        for i in range(n):
            service.step(t + i * 0.005)
        return (time.perf_counter() - start) / n


TRIGGERS = ("emergency_stop", "cp_b_under_load", "unplugged_under_load", "supply_fault",
            "isolation_fault", "brain_silent")


def main(argv: list[str]) -> int:
    n = 5
    for a in argv:
        if a.startswith("--n="):
            n = int(a.split("=", 1)[1])
    sched = "SCHED_OTHER (no --rt)"
    if "--rt" in argv:
        # As the unit runs on the station: CPUSchedulingPolicy=fifo, CPUSchedulingPriority=50.
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
            sched = "SCHED_FIFO 50"
        except OSError as exc:
            sched = f"SCHED_OTHER (SCHED_FIFO refused: {exc.strerror})"
    logging.disable(logging.ERROR)  # trips log errors by design; the table is the output
    try:
        print(f"josev-hal safety supervisor, real time, {n} runs per trigger, 125 A DC, "
              f"{sched}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'trigger':<24}{'min ms':>8}{'median':>8}{'max ms':>8}  within 100 ms")
        worst = 0.0
        for trig in TRIGGERS:
            samples = [asyncio.run(_one(trig, 125.0)) * 1000 for _ in range(n)]
            worst = max(worst, max(samples))
            ok = "yes" if max(samples) <= 100.0 else "NO"
            print(f"{trig:<24}{min(samples):>8.1f}{statistics.median(samples):>8.1f}"
                  f"{max(samples):>8.1f}  {ok}")
        cost = _step_cost()
        print(f"control step (whole station incl. world physics): {cost * 1e6:.0f} us "
              f"per 5 ms period")
    finally:
        logging.disable(logging.NOTSET)
    return 0 if worst <= 100.0 else 1
