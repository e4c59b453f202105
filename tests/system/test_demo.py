"""The main job end to end: broker, josev-hal and josev-iso15118 as real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_station_and_shows_live_traffic(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "josev.cli", "demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    # The boot sequence crossed the broker, validated.
    for needle in ("device_model", "cs_status_and_limits", "cs_parameters"):
        assert f"cs/josev               response {needle}" in out
    assert '"status":"ready"' in out
    # The EV's control pilot moved through B, C, B and A, reported by josev-hal.
    states = [
        line.split('"state":"')[1][:2]
        for line in out.splitlines()
        if " cp_status " in line and '"state":"' in line
    ]
    letters = "".join(s[0] for s in states)
    assert letters in ("BCBA", "ABCBA"), letters  # josev-hal may report the idle A first
    assert "invalid messages: 0" in out
    assert "service exit codes: {'hal': 0, 'iso15118': 0}" in out
    # Every service logged in with its own user: anonymous access is off on this broker.
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf
