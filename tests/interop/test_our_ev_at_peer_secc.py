"""Interop: our EV simulator against the `iso15118` package's charger side (its SECC with its
simulated EVSE controller), across the veth link, plain TCP. Slow (a JVM per peer process)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from josev import netsim
from josev.evcc.common.ev import EvConfig
from josev.evcc.driver import EvDriver
from tests.requirements import require_netns

pytestmark = [pytest.mark.interop, pytest.mark.netns, pytest.mark.slow]


@pytest.fixture
async def peer_secc(peer_python: Path, tmp_path: Path) -> AsyncIterator[tuple[Any, Path]]:
    require_netns()
    link = netsim.Link.create()
    (tmp_path / "peer-pki").mkdir()
    env = dict(os.environ, NETWORK_INTERFACE=link.evse.ifname,
               PROTOCOLS="DIN_SPEC_70121,ISO_15118_2,ISO_15118_20_AC,ISO_15118_20_DC",
               AUTH_MODES="EIM", PKI_PATH=f"{tmp_path / 'peer-pki'}/",
               FREE_CHARGING_SERVICE="true")
    log = tmp_path / "peer-secc.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *link.evse.netns.argv([str(peer_python), "-m", "iso15118.secc.main"]),
            env=env, cwd=tmp_path, stdout=out, stderr=asyncio.subprocess.STDOUT)
    try:
        for _ in range(300):    # its JVM (EXI) and SDP server take a few seconds
            if "SDP server" in log.read_text(errors="replace") or \
                    "UDP server" in log.read_text(errors="replace"):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        yield link, log
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        link.close()


async def charge(link: Any, **ev: Any) -> EvDriver:
    ev.setdefault("target_soc", 71.0)
    ev.setdefault("time_scale", 600.0)
    cfg = EvConfig(soc=70.0, **ev)
    # The peer's charger has no SLAC without a modem (peers.md): straight to SDP.
    driver = EvDriver(cfg, link.ev.plc_interface(), tls=False, slac=False)
    await asyncio.wait_for(driver.run(), 150)
    return driver


async def test_our_ev_charges_iso2_ac_at_the_peer_secc(peer_secc: tuple[Any, Path]) -> None:
    link, log = peer_secc
    driver = await charge(link, protocols=("ISO2",), ac=True)
    peer = log.read_text(errors="replace")
    assert driver.result.ok, f"{driver.result.ends}\n--- peer ---\n{peer[-3000:]}"
    assert driver.result.protocol == "ISO2"
    assert driver.ev.soc >= 71.0
    assert "ChargingStatusRes" in peer


@pytest.mark.parametrize(("protocols", "res"), [
    (("ISO2",), '"PreChargeRes"'),
    (("ISO20_DC",), '"DC_PreChargeRes"'),
    (("DIN",), '"PreChargeRes"'),
], ids=["iso2-dc", "iso20-dc", "din-dc"])
async def test_peer_secc_never_precharges(peer_secc: tuple[Any, Path], protocols: tuple[str],
                                          res: str) -> None:
    """The peer's simulated DC charger reports an EVSEPresentVoltage of 1 V in every
    PreChargeRes, whatever the EV asks for (its simulator has no voltage model). Our EV, like a
    real one, does not close its contactor on a mismatched voltage: it ends the session when
    the 7 s pre-charge time has run out. The evidence is the peer's own log."""
    link, log = peer_secc
    driver = await charge(link, protocols=protocols)
    peer = log.read_text(errors="replace")
    assert driver.result.protocol == protocols[0]
    assert [e.reason for e in driver.result.ends] == [
        "pre-charge did not reach the battery voltage in time"], peer[-3000:]
    answers = [line for line in peer.splitlines() if res + ":" in line or res + ": " in line
               or (res in line and "Message to encode" in line)]
    assert answers, peer[-3000:]
    assert all('"Value": 1' in line for line in answers)


async def test_our_ev_charges_20_ac_at_the_peer_secc(peer_secc: tuple[Any, Path]) -> None:
    """Its simulated AC charger grants 10 W per phase (EVSETargetActivePower); our EV follows
    the target, so the SoC step is small and the battery clock fast."""
    link, log = peer_secc
    driver = await charge(link, protocols=("ISO20_AC",), ac=True, target_soc=70.05,
                          time_scale=3600.0)
    peer = log.read_text(errors="replace")
    assert driver.result.ok, f"{driver.result.ends}\n--- peer ---\n{peer[-3000:]}"
    assert driver.result.protocol == "ISO20_AC"
    assert "AC_ChargeLoopRes" in peer and '"EVSETargetActivePower"' in peer
