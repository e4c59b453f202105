"""The main job end to end: broker, josev-hal and josev-iso15118 as real processes, the PLC link
as a veth pair between network namespaces, and our EV simulator charging over -20 DC / TLS 1.3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.requirements import require_netns

pytestmark = pytest.mark.netns


def test_demo_runs_a_full_dc_session(tmp_path: Path) -> None:
    require_netns()
    proc = subprocess.run(
        [sys.executable, "-m", "josev.cli", "demo", "--workdir", str(tmp_path),
         "--soc", "70", "--target-soc", "75"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-3000:]
    # The boot sequence crossed the broker, validated.
    for needle in ("device_model", "cs_status_and_limits", "cs_parameters"):
        assert f"cs/josev               response {needle}" in out
    assert '"status":"ready"' in out
    # The session: -20 DC over TLS 1.3 across the link, to the target SoC, with power.
    assert "protocol: ISO20_DC   transport: TLSv1.3" in out
    assert "SLAC matched in " in out
    assert '"status":"matched"' in out      # slac_status from josev-iso15118
    assert "result: OK (charging complete (target))" in out
    progress = [line for line in out.splitlines() if " ChargingLoop " in line and " kW " in line]
    assert progress and any(float(line.split(" kW")[0].split()[-1]) > 10.0 for line in progress)
    # The EV's control pilot moved through B, C, B and A, reported by josev-hal.
    states = [
        line.split('"state":"')[1][:2]
        for line in out.splitlines()
        if " cp_status " in line and '"state":"' in line
    ]
    assert "B2" in states               # the 5 % pilot of HLC (B1 -> B2)
    letters = "".join(s[0] for i, s in enumerate(states) if i == 0 or s[0] != states[i - 1][0])
    assert letters in ("BCBA", "ABCBA"), letters  # josev-hal may report the idle A first
    assert "invalid messages: 0" in out
    assert "service exit codes: {'hal': 0, 'iso15118': 0}" in out
    svg = (tmp_path / "session.svg").read_text()
    assert svg.count("<polyline") == 4
    # Every service logged in with its own user: anonymous access is off on this broker.
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf
