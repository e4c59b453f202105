"""The simulated station for the session system tests: mosquitto, josev-hal and josev-iso15118
as real processes, the EVSE end of a veth link in its own network namespace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from josev import netsim
from josev.demo import AC_STATION, DC_BPT_STATION, Stack, _station_iso_args
from josev.pki import create_pki
from tests.requirements import require_netns


@pytest.fixture
def station(tmp_path: Path, request: pytest.FixtureRequest
            ) -> Iterator[tuple[Stack, Any, Path]]:
    require_netns()
    pki = create_pki(tmp_path / "pki")
    hal_args: list[str] = []
    extra: list[str] = []
    if getattr(request, "param", "dc") == "card":
        extra = ["--require-authorization"]
    if getattr(request, "param", "dc") == "ac":
        (tmp_path / "hal.toml").write_text(AC_STATION)
        hal_args = ["--config", str(tmp_path / "hal.toml")]
    if getattr(request, "param", "dc") == "dc_bpt":   # bidirectional: 100 A / 40 kW back
        (tmp_path / "hal.toml").write_text(DC_BPT_STATION)
        hal_args = ["--config", str(tmp_path / "hal.toml")]
    link = netsim.Link.create()
    stack = Stack(tmp_path)
    try:
        stack.start(_station_iso_args(link, pki, "ISO20_DC,ISO20_AC,ISO2,DIN") + extra,
                    hal_args)
        deadline = time.monotonic() + 60
        log = tmp_path / "iso15118.log"
        while "SECC listening" not in log.read_text(errors="replace"):
            stack.check()
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield stack, link, pki
    finally:
        codes = stack.stop()
        link.close()
    assert codes == {"hal": 0, "iso15118": 0}
