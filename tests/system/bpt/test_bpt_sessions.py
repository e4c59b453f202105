"""-20 DC_BPT and AC_BPT across the simulated link with real discharge: `josev demo --protocol
iso20-dc-bpt|iso20-ac-bpt` (broker, josev-hal on a bidirectional simulated station, josev-iso15118,
EV simulator over SLAC/SDP/TLS 1.3 in its own network namespace). The EV starts above its
target SoC and gives energy back: its SoC goes down, the station's meter counts export, and
the current never goes beyond the station's discharge limits (DC 100 A / 40 kW, AC 16 A/phase)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import require_netns

pytestmark = pytest.mark.netns


def demo(tmp_path: Path, protocol: str, target_soc: float) -> tuple[str, list[dict[str, Any]]]:
    """Run the main job for `protocol` from 80 % SoC; its output and the station limits."""
    require_netns()
    proc = subprocess.run(
        [sys.executable, "-m", "josev.cli", "demo", "--protocol", protocol,
         "--workdir", str(tmp_path), "--soc", "80", "--target-soc", str(target_soc),
         "--verbose"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-3000:]
    assert "result: OK (charging complete (target))" in out
    assert "invalid messages: 0" in out
    assert "service exit codes: {'hal': 0, 'iso15118': 0}" in out
    limits = [json.loads(line[line.index("{"):])
              for line in out.splitlines() if " response cs_status_and_limits " in line]
    return out, limits


def test_dc_bpt_session_discharges_the_ev(tmp_path: Path) -> None:
    out, limits = demo(tmp_path, "iso20-dc-bpt", 76)
    assert "protocol: ISO20_DC   transport: TLSv1.3" in out
    # The station offered DC_BPT with its discharge limits.
    bpt = limits[0]["evses"][0]["dc_bpt"]
    assert bpt["evse_max_discharge_power"] == 40000.0
    assert bpt["evse_max_discharge_current"] == 100.0
    # The EV's battery went down: negative current and power in the charge loop.
    loop = [line.split() for line in out.splitlines()
            if " ChargingLoop " in line and " kW " in line and line.startswith("  [")]
    currents = [float(parts[parts.index("A") - 1]) for parts in loop]
    assert min(currents) < -50.0
    soc_line = next(line for line in out.splitlines() if line.strip().startswith("energy: "))
    start, end = (float(x) for x in soc_line.split("SoC ")[1].split(" %")[0].split(" -> "))
    assert start == 80.0 and end <= 76.0
    discharged = next(line for line in out.splitlines() if "discharged (V2G): " in line)
    assert float(discharged.split("discharged (V2G): ")[1].split()[0]) > 1.0
    # The station's side: its meter counted export, and the supply never went beyond its
    # discharge limits, whatever was asked.
    meter = next(line for line in out.splitlines() if "station meter: " in line)
    exported = float(meter.split("kWh imported, ")[1].split()[0])
    assert exported > 0.0
    station = [json.loads(line.split(None, 1)[1]) for line in out.splitlines()
               if line.startswith("sim/station ")]
    dc = [s["dc_current"] for s in station]
    assert min(dc) < -50.0
    assert min(dc) >= -100.5
    assert all(-s["dc_current"] * s["dc_voltage"] <= 40000.0 * 1.02 for s in station)
    assert max(s.get("energy_export_wh", 0.0) for s in station) > 0.0


def test_ac_bpt_session_feeds_back_within_the_station_limit(tmp_path: Path) -> None:
    """-20 AC_BPT: the EV's inverter feeds back as much as the station takes (16 A/phase)."""
    out, limits = demo(tmp_path, "iso20-ac-bpt", 78)
    assert "protocol: ISO20_AC   transport: TLSv1.3" in out
    assert limits[0]["evses"][0]["ac_bpt"]["evse_max_discharge_power"]["l1"] == 16.0 * 230.0
    soc_line = next(line for line in out.splitlines() if line.strip().startswith("energy: "))
    start, end = (float(x) for x in soc_line.split("SoC ")[1].split(" %")[0].split(" -> "))
    assert start == 80.0 and end <= 78.0
    meter = next(line for line in out.splitlines() if "station meter: " in line)
    assert float(meter.split("kWh imported, ")[1].split()[0]) > 0.0
    station = [json.loads(line.split(None, 1)[1]) for line in out.splitlines()
               if line.startswith("sim/station ")]
    ac = [s["ac_current"] for s in station]
    assert min(ac) < -10.0  # the EV asked for 32 A per phase back ...
    assert min(ac) >= -16.05  # ... the station took 16
