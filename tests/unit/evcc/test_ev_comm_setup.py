"""The EV's communication-setup timeout on the virtual clock: SessionSetupRes within 20 s of
plug-in (V2G_EVCC_CommunicationSetup_Timeout; SDP, TLS and SupportedAppProtocol included), told
to the core by its driver as `plugged_at`. On expiry the EV goes to CP B and ends the session,
and the end says why. The SECC's own 18 s are raised here where they would end it first.
"""

from __future__ import annotations

import pytest

from josev.evcc.common.core import EvccCore
from josev.evcc.common.ev import EvConfig
from josev.secc.common.actions import Action, EndSession, EvCommand, SetTimer
from josev.secc.common.session import SeccConfig
from josev.secc.common.timing import Timing
from josev.secc.loopback import Loopback, MemoryStation

PROTOCOLS = ["DIN", "ISO2", "ISO20_DC"]
SECC_LATE = Timing(comm_setup_secc=100.0)


def loopback(protocol: str, timing: Timing = SECC_LATE) -> tuple[Loopback, list[tuple[float, str]]]:
    """A loopback whose EV CP commands are recorded as (time, state)."""
    ev = EvConfig(protocols=(protocol,), soc=70.0, target_soc=72.0, time_scale=100.0)
    lb = Loopback(SeccConfig(timing=timing), ev, timing=timing)
    lb.station = MemoryStation(lb.ev)
    commands: list[tuple[float, str]] = []
    original = lb.run_actions

    def run(side: str, actions: list[Action], now: float) -> None:
        for a in actions:
            if side == "ev" and isinstance(a, EvCommand) and a.name == "cp":
                commands.append((now, a.data["state"]))
        original(side, actions, now)

    lb.run_actions = run  # type: ignore[method-assign]
    return lb, commands


def test_the_timer_counts_from_plug_in_not_from_the_connection() -> None:
    core = EvccCore(EvConfig(protocols=("DIN",)))
    out = core.start(7.0, plugged_at=2.0)
    assert SetTimer("comm_setup", 22.0) in out
    resumed = EvccCore(EvConfig(protocols=("DIN",)))
    assert SetTimer("comm_setup", 27.0) in resumed.start(7.0)   # no plug-in time: from now


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_session_setup_res_within_20_s_of_plug_in(protocol: str) -> None:
    """SDP and TLS took 19 s; the SECC never answers SessionSetupReq: at 20 s after plug-in
    (before the 2 s message timeout) the EV goes to B and ends."""
    lb, commands = loopback(protocol)
    lb.drop_secc = {"SessionSetupRes"}
    lb.connect(19.0, plugged_at=0.0)
    lb.run()
    end = lb.t.ev_end
    assert end is not None and not end.ok
    assert "communication setup timeout" in end.reason and "20 s of plug-in" in end.reason
    assert lb.t.ev_end_at == pytest.approx(20.0)
    setup_req = lb.t.sent_at("ev", "SessionSetupReq")[0]
    assert setup_req < 20.0 < setup_req + 2
    assert commands[-1] == (pytest.approx(20.0), "B")
    assert lb.station.cp == "B2"
    assert lb.t.secc_end is not None and not lb.t.secc_end.ok   # the connection went away


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_session_setup_res_in_time_cancels_it(protocol: str) -> None:
    lb, _ = loopback(protocol)
    lb.connect(19.0, plugged_at=0.0)
    step = 19.0
    while not lb.t.sent_at("secc", "SessionSetupRes"):
        step += 0.001
        lb.run(until=step)
    lb.run(until=step + 0.002)        # the response has reached the EV
    assert ("ev", "comm_setup") not in lb.timers
    assert "comm_setup" not in lb.evcc.timers.names()
    lb.run()
    assert lb.t.ev_end is not None and lb.t.ev_end.ok, lb.t.ev_end
    assert lb.t.ev_end_at is not None and lb.t.ev_end_at > 20.0


def test_a_connection_after_the_time_ends_at_once() -> None:
    """SDP/TLS alone took longer than 20 s: the EV gives up as soon as its core starts."""
    lb, commands = loopback("DIN")
    lb.connect(21.0, plugged_at=0.0)
    lb.run()
    end = lb.t.ev_end
    assert end is not None and "communication setup timeout" in end.reason
    assert lb.t.ev_end_at == pytest.approx(21.0)
    assert commands == [(pytest.approx(21.0), "B")]
    assert lb.t.sent_at("ev", "supportedAppProtocolReq") == []


def test_the_timeout_before_supported_app_protocol_ends_once() -> None:
    """Core level, no session yet: CP B, one end, no timer left, later calls ignored."""
    core = EvccCore(EvConfig(protocols=("DIN",)))
    core.start(0.0, plugged_at=0.0)
    out = core.handle_timer("comm_setup", 20.0)
    ends = [a for a in out if isinstance(a, EndSession)]
    assert len(ends) == 1 and "communication setup timeout" in ends[0].reason
    assert EvCommand("cp", {"state": "B"}) in out
    assert core.handle_timer("comm_setup", 21.0) == []      # ended: nothing more
    assert core.timers.names() == []
