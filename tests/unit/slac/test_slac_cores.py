"""SLAC EVSE and EV cores in memory, on a driven clock: matching, bad media, every timer."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from josev.slac.ev import EvMatched, EvSlac, EvSlacConfig, EvState
from josev.slac.evse import EvseSlac, Failed, Matched, SendFrame, SetKey, State
from josev.slac.frames import (
    MMType,
    SlacMatchReq,
    SlacParmReq,
    decode,
    encode,
    mac_bytes,
    nid_from_nmk,
    parse_frame,
)
from josev.slac.timers import SlacTimers

EVSE_MAC = mac_bytes("02:00:00:00:00:01")
EV_MAC = mac_bytes("02:00:00:00:00:02")
EV2_MAC = mac_bytes("02:00:00:00:00:03")

Filter = Callable[[bytes, list[bytes]], list[bytes]]


@dataclass
class Sim:
    """A shared medium: every frame reaches every other station, through `medium`."""

    evse: EvseSlac
    evs: list[EvSlac]
    medium: Filter = field(default=lambda f, q: [f])
    now: float = 0.0
    evse_actions: list[object] = field(default_factory=list)
    ev_actions: list[list[object]] = field(default_factory=list)
    frames: list[tuple[str, int]] = field(default_factory=list)
    set_key_ok: bool = True
    reorder: bool = False
    _flip: bool = False

    def __post_init__(self) -> None:
        self.ev_actions = [[] for _ in self.evs]

    def pump(self) -> None:
        queue: list[tuple[object, bytes]] = []
        while True:
            progressed = False
            while (a := self.evse.next_action()) is not None:
                progressed = True
                self.evse_actions.append(a)
                if isinstance(a, SendFrame):
                    queue.append((self.evse, a.data))
                elif isinstance(a, SetKey):
                    self.evse.key_set(self.now, self.set_key_ok)
            for i, ev in enumerate(self.evs):
                while (a := ev.next_action()) is not None:
                    progressed = True
                    self.ev_actions[i].append(a)
                    if isinstance(a, SendFrame):
                        queue.append((ev, a.data))
            if queue:
                progressed = True
                self._flip = not self._flip
                sender, data = queue.pop(1 if self.reorder and self._flip and len(queue) > 1 else 0)
                later: list[bytes] = []
                for out in self.medium(data, later):
                    self._deliver(sender, out)
                for out in later:
                    self._deliver(sender, out)
            if not progressed:
                return

    def _deliver(self, sender: object, data: bytes) -> None:
        try:
            self.frames.append((("evse" if sender is self.evse else "ev"),
                                parse_frame(data).mmtype))
        except ValueError:
            pass
        for station in [self.evse, *self.evs]:
            if station is not sender:
                station.receive_frame(data, self.now)

    def run(self, limit: float = 120.0) -> None:
        self.pump()
        while self.now < limit:
            timers = [t for t in [self.evse.get_timer(), *(e.get_timer() for e in self.evs)]
                      if t is not None]
            if not timers or min(timers) > limit:
                return
            self.now = max(self.now, min(timers))
            self.evse.handle_timer(self.now)
            for ev in self.evs:
                ev.handle_timer(self.now)
            self.pump()


def rng(seed: int) -> Callable[[int], bytes]:
    r = random.Random(seed)
    return lambda n: bytes(r.getrandbits(8) for _ in range(n))


def make(ev_cfg: EvSlacConfig | None = None, timers: SlacTimers | None = None,
         medium: Filter | None = None, evs: int = 1) -> Sim:
    t = timers or SlacTimers()
    evse = EvseSlac(EVSE_MAC, t, random=rng(1))
    cfgs = [ev_cfg or EvSlacConfig(timers=t)]
    if evs > 1:
        cfgs.append(EvSlacConfig(attenuation=lambda mac: 70.0, timers=t))
    stations = [EvSlac(mac, cfg, random=rng(2 + i))
                for i, (mac, cfg) in enumerate(zip([EV_MAC, EV2_MAC], cfgs, strict=False))]
    sim = Sim(evse, stations, medium or (lambda f, q: [f]))
    evse.start(sim.now)
    for ev in stations:
        ev.start(sim.now)
    return sim


def matched(sim: Sim) -> Matched:
    m = [a for a in sim.evse_actions if isinstance(a, Matched)]
    assert len(m) == 1, sim.evse_actions
    return m[0]


def test_frame_round_trip_and_padding() -> None:
    data = encode(EVSE_MAC, EV_MAC, SlacParmReq(b"12345678"))
    assert len(data) == 60
    assert data[12:14] == b"\x88\xe1" and data[14] == 1
    assert data[15:17] == b"\x64\x60"  # MMTYPE little-endian
    frame, msg = decode(data)
    assert frame.mmtype == MMType.CM_SLAC_PARM_REQ and msg == SlacParmReq(b"12345678")


def test_nid_is_derived_from_the_nmk() -> None:
    nid = nid_from_nmk(b"\x00" * 16)
    assert len(nid) == 7 and nid[6] >> 4 == 0  # security level 0 in bits 4-5 of the last byte


def test_whole_matching() -> None:
    sim = make()
    sim.run()
    m = matched(sim)
    ev = sim.evs[0]
    assert ev.state is EvState.MATCHED and ev.matched is not None
    assert (m.ev_mac, m.nmk, m.nid) == (EV_MAC, sim.evse.nmk, sim.evse.nid)
    assert ev.matched.nmk == sim.evse.nmk and ev.matched.evse_mac == EVSE_MAC
    assert SetKey(sim.evse.nid, sim.evse.nmk) in sim.ev_actions[0]  # the EV joins with the NMK
    assert m.attenuation == pytest.approx(20.0)
    kinds = [k for _, k in sim.frames]
    assert kinds.count(MMType.CM_MNBC_SOUND_IND) == 10
    assert kinds.count(MMType.CM_START_ATTEN_CHAR_IND) == 3
    assert kinds.count(MMType.CM_ATTEN_CHAR_IND) == 1
    assert sim.evse.state is State.MATCHED


def test_fresh_nmk_per_session() -> None:
    sim = make()
    sim.run()
    first = sim.evse.nmk
    sim.evse.start(sim.now)
    assert sim.evse.nmk != first
    assert isinstance(sim.evse.next_action(), SetKey)


def test_attenuation_groups_are_averaged_over_the_sounds() -> None:
    levels = iter([10, 30] * 5)
    cfg = EvSlacConfig(attenuation=lambda mac: next(levels))
    sim = make(cfg)
    sim.run()
    assert matched(sim).attenuation == pytest.approx(20.0)


def drop_first(kind: int, count: int = 1) -> Filter:
    left = {"n": count}

    def f(data: bytes, later: list[bytes]) -> list[bytes]:
        if parse_frame(data).mmtype == kind and left["n"] > 0:
            left["n"] -= 1
            return []
        return [data]

    return f


@pytest.mark.parametrize(
    "kind",
    [MMType.CM_SLAC_PARM_REQ, MMType.CM_SLAC_PARM_CNF, MMType.CM_ATTEN_CHAR_IND,
     MMType.CM_ATTEN_CHAR_RSP, MMType.CM_SLAC_MATCH_REQ, MMType.CM_SLAC_MATCH_CNF],
)
def test_one_lost_frame_is_recovered_by_a_retry(kind: int) -> None:
    sim = make(medium=drop_first(kind))
    sim.run()
    assert matched(sim).ev_mac == EV_MAC
    assert sim.evs[0].state is EvState.MATCHED


def test_all_start_atten_char_lost_sounds_still_count() -> None:
    sim = make(medium=drop_first(MMType.CM_START_ATTEN_CHAR_IND, 3))
    sim.run()
    assert matched(sim).ev_mac == EV_MAC


def test_some_sounds_lost_average_over_the_rest() -> None:
    sim = make(medium=drop_first(MMType.CM_ATTEN_PROFILE_IND, 4))
    sim.run()
    ind = [decode(a.data)[1] for a in sim.evse_actions
           if isinstance(a, SendFrame) and parse_frame(a.data).mmtype == MMType.CM_ATTEN_CHAR_IND]
    assert ind and ind[0].num_sounds == 6  # type: ignore[attr-defined]
    assert matched(sim).attenuation == pytest.approx(20.0)


def test_duplicated_frames_are_harmless() -> None:
    sim = make(medium=lambda f, q: [f, f])
    sim.run()
    assert matched(sim).ev_mac == EV_MAC
    assert sim.evs[0].state is EvState.MATCHED


def test_reordered_frames() -> None:
    """Within every burst, each pair of frames arrives swapped."""
    sim = make()
    sim.reorder = True
    sim.run()
    assert matched(sim).ev_mac == EV_MAC
    assert sim.evs[0].state is EvState.MATCHED


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_garbled_frames_are_ignored_never_fatal(seed: int) -> None:
    r = random.Random(seed)

    def garble(data: bytes, later: list[bytes]) -> list[bytes]:
        if r.random() < 0.3:
            b = bytearray(data)
            for _ in range(r.randint(1, 4)):
                b[r.randrange(len(b))] ^= 1 << r.randrange(8)
            return [bytes(b)[: r.randint(0, len(b))] if r.random() < 0.3 else bytes(b)]
        return [data]

    sim = make(medium=garble)
    sim.run()  # must not raise; either matched or a clean failure
    outcome = [a for a in sim.evse_actions if isinstance(a, Matched | Failed)]
    assert sim.evse.state in (State.MATCHED, State.FAILED, State.MATCHING)
    if sim.evse.state is State.MATCHED:
        assert isinstance(outcome[-1], Matched)


def test_garbage_is_reported() -> None:
    sim = make()
    sim.evse.receive_frame(b"\x00" * 10, 0.0)
    sim.evse.receive_frame(EVSE_MAC + EV_MAC + b"\x88\xe1\x01\x99\x99\x00\x00" + b"\x00" * 50, 0)
    assert "shorter than an MME header" in sim.evse.ignored[0]
    assert "not a SLAC message" in sim.evse.ignored[1]


def test_ev_that_never_sounds() -> None:
    sim = make(EvSlacConfig(sounds=0))
    sim.run()
    fails = [a for a in sim.evse_actions if isinstance(a, Failed)]
    assert fails and "never sounded" in fails[0].reason
    assert not any(isinstance(a, Matched) for a in sim.evse_actions)


def test_no_ev_at_all_hits_tt_evse_slac_init() -> None:
    t = SlacTimers()
    evse = EvseSlac(EVSE_MAC, t, random=rng(1))
    evse.start(100.0)
    assert isinstance(evse.next_action(), SetKey)
    evse.key_set(100.0, True)
    assert evse.get_timer() == pytest.approx(100.0 + t.TT_EVSE_SLAC_init)
    evse.handle_timer(100.0 + t.TT_EVSE_SLAC_init - 0.01)
    assert evse.next_action() is None
    evse.handle_timer(100.0 + t.TT_EVSE_SLAC_init)
    a = evse.next_action()
    assert isinstance(a, Failed) and "TT_EVSE_SLAC_init" in a.reason


def test_set_key_refused_fails() -> None:
    evse = EvseSlac(EVSE_MAC, random=rng(1))
    evse.start(0.0)
    evse.next_action()
    evse.key_set(0.0, False)
    a = evse.next_action()
    assert isinstance(a, Failed) and "CM_SET_KEY" in a.reason


def test_ev_without_match_hits_tt_evse_match_session() -> None:
    """The EV stops after the attenuation results: the EVSE gives up 10 s after its CNF."""
    sim = make(EvSlacConfig(repeat=False),
               medium=lambda f, q: [] if parse_frame(f).mmtype == MMType.CM_SLAC_MATCH_REQ
               else [f])
    sim.run()
    fail = [a for a in sim.evse_actions if isinstance(a, Failed)]
    assert fail and "TT_EVSE_match_session" in fail[0].reason
    t = SlacTimers()  # the run ends at TT_EVSE_match_session; the EVSE then waits for a repeat
    assert sim.now == pytest.approx(t.TT_EVSE_match_session + t.TT_matching_repetition)
    assert "did not start over within TT_matching_repetition" in fail[0].reason


def test_atten_char_rsp_never_comes_retries_then_drop() -> None:
    dropped = {"n": 0}

    def no_rsp(data: bytes, later: list[bytes]) -> list[bytes]:
        k = parse_frame(data).mmtype
        if k in (MMType.CM_ATTEN_CHAR_RSP, MMType.CM_SLAC_MATCH_REQ):
            dropped["n"] += 1
            return []
        return [data]

    sim = make(EvSlacConfig(repeat=False), medium=no_rsp)
    sim.run()
    sent = [a for a in sim.evse_actions if isinstance(a, SendFrame)
            and parse_frame(a.data).mmtype == MMType.CM_ATTEN_CHAR_IND]
    assert len(sent) == 1 + SlacTimers().C_EV_match_retry
    assert isinstance(sim.evse_actions[-1], Failed)


def test_ev_gives_up_without_parm_cnf() -> None:
    ev = EvSlac(EV_MAC, EvSlacConfig(repeat=False), random=rng(3))
    ev.start(0.0)
    sent = 0
    while ev.state is not EvState.FAILED:
        while (a := ev.next_action()) is not None:
            sent += isinstance(a, SendFrame)
        timer = ev.get_timer()
        assert timer is not None
        ev.handle_timer(timer)
    assert sent == 1 + SlacTimers().C_EV_match_retry
    assert isinstance(ev.next_action(), Failed)


def test_two_evs_on_one_link_only_the_plugged_one_matches() -> None:
    """EV 2 hears this EVSE through crosstalk (70 dB): it refuses, EV 1 (20 dB) matches."""
    sim = make(evs=2)
    sim.run()
    assert matched(sim).ev_mac == EV_MAC
    assert sim.evs[0].state is EvState.MATCHED
    assert sim.evs[1].state is EvState.FAILED and sim.evs[1].matched is None
    assert "beyond" in sim.evs[1].reasons[0]


def test_match_req_from_a_stranger_is_ignored() -> None:
    sim = make()
    sim.run()
    before = list(sim.evse_actions)
    stranger = encode(EVSE_MAC, EV2_MAC, SlacMatchReq(EV2_MAC, EVSE_MAC, b"zzzzzzzz"))
    sim.evse.receive_frame(stranger, sim.now)
    assert sim.evse.next_action() is None
    assert sim.evse_actions == before and sim.evse.matched is not None
    assert sim.evse.matched.ev_mac == EV_MAC


def test_repeated_match_req_after_match_is_answered_again() -> None:
    sim = make()
    sim.run()
    m = sim.evse.matched
    assert m is not None
    again = encode(EVSE_MAC, EV_MAC, SlacMatchReq(EV_MAC, EVSE_MAC, m.run_id))
    sim.evse.receive_frame(again, sim.now)
    a = sim.evse.next_action()
    assert isinstance(a, SendFrame) and parse_frame(a.data).mmtype == MMType.CM_SLAC_MATCH_CNF


def test_abort_stops_everything() -> None:
    sim = make()
    sim.pump()
    sim.evse.abort("CP state A")
    assert sim.evse.state is State.IDLE and sim.evse.get_timer() is None


def test_join_timeout_with_link_detection() -> None:
    t = SlacTimers()
    evse = EvseSlac(EVSE_MAC, t, random=rng(1), link_detection=True)
    sim = Sim(evse, [EvSlac(EV_MAC, random=rng(2))])
    evse.start(0.0)
    sim.evs[0].start(0.0)
    sim.run(limit=5)
    assert evse.state is State.MATCHED
    at = sim.now
    evse.handle_timer(at + t.TT_match_join)
    a = evse.next_action()
    assert isinstance(a, Failed) and "TT_match_join" in a.reason


def test_link_up_reports_joined() -> None:
    evse = EvseSlac(EVSE_MAC, random=rng(1), link_detection=True)
    sim = Sim(evse, [EvSlac(EV_MAC, random=rng(2))])
    evse.start(0.0)
    sim.evs[0].start(0.0)
    sim.run(limit=5)
    evse.link_status(sim.now, True)
    assert evse.state is State.JOINED
    assert type(evse.next_action()).__name__ == "Joined"
    assert isinstance(sim.ev_actions[0][-1], EvMatched)


def test_ev_repeats_matching_until_tt_matching_repetition() -> None:
    """No EVSE answers: the EV repeats with a new RunID until TT_matching_repetition."""
    t = SlacTimers()
    ev = EvSlac(EV_MAC, random=rng(3))
    ev.start(0.0)
    run_ids = set()
    now = 0.0
    while ev.state is not EvState.FAILED:
        while (a := ev.next_action()) is not None:
            if isinstance(a, SendFrame):
                assert now < t.TT_matching_repetition
                run_ids.add(decode(a.data)[1].run_id)  # type: ignore[attr-defined]
        timer = ev.get_timer()
        assert timer is not None
        now = timer
        ev.handle_timer(now)
    assert ev.attempts == len(run_ids) > 1
    assert now >= t.TT_matching_repetition
    assert set(ev.reasons) == {"no CM_SLAC_PARM.CNF"}


def test_lost_match_cnfs_are_survived_by_repetition() -> None:
    """All CNFs of the first MATCH are lost: the EV repeats matching and gets there."""
    sim = make(medium=drop_first(MMType.CM_SLAC_MATCH_CNF, 3))
    sim.run()
    assert sim.evs[0].state is EvState.MATCHED
    assert sim.evs[0].attempts == 2


def test_vendor_frames_are_mmv0_with_the_oui() -> None:
    from josev.slac.frames import encode_vendor_frame, parse_vendor_frame

    data = encode_vendor_frame(EVSE_MAC, EV_MAC, 0xA038, b"\x00\xb0\x52", b"\x01\x02")
    assert len(data) == 60 and data[14] == 0 and data[15:17] == b"\x38\xa0"
    parsed = parse_vendor_frame(data)
    assert parsed is not None
    head, body = parsed
    assert head.mmtype == 0xA038 and head.payload == b"\x00\xb0\x52" and body[:2] == b"\x01\x02"
    assert parse_vendor_frame(encode(EVSE_MAC, EV_MAC, SlacParmReq(b"12345678"))) is None


def test_evse_waits_for_the_ev_to_start_over_after_a_failed_run() -> None:
    """All ATTEN_CHAR.RSP of the first attempt are lost: that run fails, the EV repeats with
    a new RunID within TT_matching_repetition, and the EVSE (still matching) matches it."""
    sim = make(medium=drop_first(MMType.CM_ATTEN_CHAR_RSP, 3))
    sim.run()
    assert matched(sim).ev_mac == EV_MAC
    assert sim.evs[0].attempts == 2
    assert not any(isinstance(a, Failed) for a in sim.evse_actions)


# -- a V2G session is up: SLAC must not fail or time out under it ----------------------------


def test_no_failure_while_a_v2g_session_is_up_then_timeouts_resume() -> None:
    """No EV SLAC at all, but a V2G session came up (an EV already on the network): the
    TT_EVSE_SLAC_init failure does not happen while it lasts, and is re-armed when it ends."""
    t = SlacTimers()
    evse = EvseSlac(EVSE_MAC, t, random=rng(1))
    evse.start(0.0)
    assert isinstance(evse.next_action(), SetKey)
    evse.key_set(0.0, True)
    evse.hlc_session(1.0, True)
    assert evse.get_timer() is None
    evse.handle_timer(1.0 + 10 * t.TT_EVSE_SLAC_init)
    assert evse.next_action() is None and evse.state is State.MATCHING
    evse.hlc_session(600.0, False)
    assert evse.get_timer() == 600.0 + t.TT_EVSE_SLAC_init
    evse.handle_timer(600.0 + t.TT_EVSE_SLAC_init)
    a = evse.next_action()
    assert isinstance(a, Failed) and "TT_EVSE_SLAC_init" in a.reason


def state_of(evse: EvseSlac) -> State:
    """The state now (a call, so mypy does not keep an earlier narrowing)."""
    return evse.state


def restart_slac(sim: Sim, run_id: bytes) -> None:
    """The matched EV sends one CM_SLAC_PARM.REQ with a new RunID and then goes silent."""
    sim.evse.receive_frame(encode(b"\xff" * 6, EV_MAC, SlacParmReq(run_id)), sim.now)


def test_matched_ev_restarting_slac_during_a_session_keeps_the_match() -> None:
    sim = make()
    sim.run(limit=5)
    first = matched(sim)
    sim.evse.hlc_session(sim.now, True)
    restart_slac(sim, b"RESTART1")
    assert sim.evse.state is State.MATCHING  # answered as usual: a CM_SLAC_PARM.CNF
    now = sim.now
    while (timer := sim.evse.get_timer()) is not None:
        now = timer
        sim.evse.handle_timer(now)
    actions = []
    while (a := sim.evse.next_action()) is not None:
        actions.append(a)
    assert not any(isinstance(a, Failed | SetKey) for a in actions), actions
    assert state_of(sim.evse) is State.MATCHED and sim.evse.matched == first


def test_same_restart_without_a_session_fails_as_before() -> None:
    """The control case: the same silent restart without a V2G session does fail (after
    TT_matching_repetition), which is what the 5 % restart of the service reacts to."""
    sim = make()
    sim.run(limit=5)
    matched(sim)
    restart_slac(sim, b"RESTART1")
    now = sim.now
    while (timer := sim.evse.get_timer()) is not None:
        now = timer
        sim.evse.handle_timer(now)
    actions = []
    while (a := sim.evse.next_action()) is not None:
        actions.append(a)
    assert any(isinstance(a, Failed) and "TT_matching_repetition" in a.reason for a in actions)


def test_v2g_session_counts_as_the_join_with_link_detection() -> None:
    t = SlacTimers()
    evse = EvseSlac(EVSE_MAC, t, random=rng(1), link_detection=True)
    sim = Sim(evse, [EvSlac(EV_MAC, random=rng(2))])
    evse.start(0.0)
    sim.evs[0].start(0.0)
    sim.run(limit=5)
    assert evse.state is State.MATCHED
    evse.hlc_session(sim.now, True)
    assert type(evse.next_action()).__name__ == "Joined"
    assert state_of(evse) is State.JOINED and evse.get_timer() is None
    evse.handle_timer(sim.now + 2 * t.TT_match_join)
    assert evse.next_action() is None


# -- CM_VALIDATE (ISO 15118-3 A.9.3): optional for the EVSE, not done here -------------------


def test_cm_validate_is_answered_failure_and_the_match_goes_on() -> None:
    """Step 1 of a validation during matching, then a step 2: both get a unicast
    CM_VALIDATE.CNF with signal type 0, no toggles counted and result FAILURE (3), the
    answer of an EVSE that does not validate; the EV then matches as usual."""
    from josev.slac.frames import ValidateCnf, ValidateReq, ValidateResult

    sim = make()
    sim.pump()
    assert sim.evse.state is State.MATCHING
    cnfs = []
    for req in (ValidateReq(0, 0, ValidateResult.READY), ValidateReq(0, 2, ValidateResult.READY)):
        sim.evse.receive_frame(encode(EVSE_MAC, EV_MAC, req), sim.now)
        a = sim.evse.next_action()
        assert isinstance(a, SendFrame)
        frame, msg = decode(a.data)
        assert frame.dst == EV_MAC and frame.src == EVSE_MAC
        assert frame.mmtype == MMType.CM_VALIDATE_CNF == 0x6079
        assert isinstance(msg, ValidateCnf)
        cnfs.append(msg)
    assert cnfs == [ValidateCnf(0, 0, ValidateResult.FAILURE)] * 2
    assert a.data[19:22] == b"\x00\x00\x03"  # SignalType, ToggleNum, Result on the wire
    sim.run()
    assert matched(sim).ev_mac == EV_MAC


def test_cm_validate_with_an_unknown_signal_type_is_ignored() -> None:
    from josev.slac.frames import ValidateReq

    sim = make()
    sim.pump()
    sim.evse.receive_frame(encode(EVSE_MAC, EV_MAC, ValidateReq(signal_type=1)), sim.now)
    assert sim.evse.next_action() is None
    assert sim.evse.ignored[-1] == "CM_VALIDATE_REQ: signal type 1, expected 0 (S2 toggles)"


def test_validate_result_codes() -> None:
    from josev.slac.frames import ValidateResult

    assert [(r.name, r.value) for r in ValidateResult] == [
        ("NOT_READY", 0), ("READY", 1), ("SUCCESS", 2), ("FAILURE", 3), ("NOT_REQUIRED", 4)]


def test_short_sound_from_qualcomm_pev_is_taken_but_not_shorter() -> None:
    """Qualcomm's pev sends CM_MNBC_SOUND.IND in 64-byte frames: 45 payload bytes, the
    reserved bytes and most of the random value cut off. The EVSE uses CNT and RunID only."""
    from josev.slac.frames import MnbcSoundInd, SlacFrameError

    full = MnbcSoundInd(7, b"RUNID-08", random=b"\x11" * 16).pack()
    short = MnbcSoundInd.parse(full[:45])
    assert (short.countdown, short.run_id, short.random) == (7, b"RUNID-08", b"\x11" * 9
                                                             + b"\x00" * 7)
    assert MnbcSoundInd.parse(full[:28]).run_id == b"RUNID-08"
    with pytest.raises(SlacFrameError, match="payload of 27 bytes, need 52"):
        MnbcSoundInd.parse(full[:27])


def test_nw_info_station_count_walks_every_network() -> None:
    from josev.slac.driver import nw_info_stations

    def net(stations: int) -> bytes:
        return b"\x01" * 17 + bytes([stations]) + b"\x02" * (15 * stations)

    assert nw_info_stations(b"") == 0
    assert nw_info_stations(b"\x00") == 0
    assert nw_info_stations(b"\x01" + net(0)) == 0
    assert nw_info_stations(b"\x01" + net(1)) == 1
    assert nw_info_stations(b"\x02" + net(1) + net(2)) == 3
    assert nw_info_stations(b"\x02" + net(1)) == 1   # truncated: counts what it holds


def test_core_started_under_a_v2g_session_has_no_init_deadline() -> None:
    """The service makes a core while a session may already be up: marked first, its
    start() arms no TT_EVSE_SLAC_init; the session's end arms it."""
    t = SlacTimers()
    evse = EvseSlac(EVSE_MAC, t, random=rng(1))
    evse.hlc_active = True
    evse.start(0.0)
    evse.key_set(0.0, True)
    assert evse.get_timer() is None
    evse.hlc_session(30.0, False)
    assert evse.get_timer() == 30.0 + t.TT_EVSE_SLAC_init
