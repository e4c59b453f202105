"""EVSE side of SLAC (ISO 15118-3 clause 9), sans-I/O.

Events in: `start(now)` (CP state B), `key_set(now, ok)` (the modem took the new NMK),
`receive_frame(data, now)`, `handle_timer(now)`, `link_status(now, up)`, `abort(reason)`,
`hlc_session(now, active)` (a V2G session is up on this EVSE / has ended).
Actions out (`next_action()`): SendFrame, SetKey, Matched, Joined, Failed. `get_timer()` is the
next deadline. Time is an argument; randomness (NMK) is injected.

Several EVs may answer on a shared medium (crosstalk): each (EV MAC, RunID) is its own run
with its own sounds and timers; the first valid CM_SLAC_MATCH.REQ wins and ends the others.

While a V2G session is up, SLAC never fails: the session proves the EV is on our network, and
the caller's reaction to a failure (a new NMK, the PWM off for the 5 % restart) would cut it.
Per-run protocol timers still run (a matched EV that starts SLAC over is answered as usual),
but session-level timeouts are off, and if such a re-matching fails the previous match stands.
When the session ends, the session-level timeouts of an unfinished matching are re-armed.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from josev.slac.frames import (
    NUM_GROUPS,
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    Mme,
    MnbcSoundInd,
    SlacFrameError,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    ValidateCnf,
    ValidateReq,
    ValidateResult,
    decode,
    encode,
    mac_str,
    nid_from_nmk,
)
from josev.slac.timers import DEFAULT_TIMERS, SlacTimers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendFrame:
    data: bytes


@dataclass(frozen=True)
class SetKey:
    nid: bytes
    nmk: bytes


@dataclass(frozen=True)
class Matched:
    ev_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes
    attenuation: float  # average over the 58 groups, dB


@dataclass(frozen=True)
class Joined:
    ev_mac: bytes


@dataclass(frozen=True)
class Failed:
    reason: str


Action = SendFrame | SetKey | Matched | Joined | Failed


class State(enum.Enum):
    IDLE = "idle"
    SETTING_KEY = "setting_key"
    MATCHING = "matching"   # waiting for / running SLAC with one or more EVs
    MATCHED = "matched"
    JOINED = "joined"
    FAILED = "failed"


class RunState(enum.Enum):
    WAIT_START = "wait_start_atten_char"
    SOUNDING = "sounding"
    WAIT_RSP = "wait_atten_char_rsp"
    WAIT_MATCH = "wait_match"


@dataclass
class _Run:
    ev_mac: bytes
    run_id: bytes
    state: RunState
    deadline: float
    session_deadline: float
    sounds: set[int] = field(default_factory=set)
    profiles: int = 0
    sums: list[int] = field(default_factory=lambda: [0] * NUM_GROUPS)
    atten_tries: int = 0
    atten_frame: bytes = b""
    average: float = 0.0


class EvseSlac:
    def __init__(
        self,
        mac: bytes,
        timers: SlacTimers = DEFAULT_TIMERS,
        *,
        random: Callable[[int], bytes] = os.urandom,
        evse_id: bytes = b"\x00" * 17,
        link_detection: bool = False,
    ) -> None:
        self.mac = mac
        self.t = timers
        self._random = random
        self.evse_id = evse_id
        self.link_detection = link_detection
        self.state = State.IDLE
        self.nmk = b""
        self.nid = b""
        self._runs: dict[tuple[bytes, bytes], _Run] = {}
        self._actions: list[Action] = []
        self._deadline: float | None = None  # session-level timer (init / join)
        self.matched: Matched | None = None
        self.ignored: list[str] = []
        self.hlc_active = False  # a V2G session is up: no failures, no session timeouts
        self._kept: Matched | None = None  # the last match; stands if a re-matching fails

    # -- events ---------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """CP state B: a fresh NMK/NID for this session, then wait for the EV."""
        self._runs.clear()
        self._had_runs = False
        self._last_drop = ""
        self.matched = None
        self._kept = None
        self.ignored.clear()
        self.nmk = self._random(16)
        self.nid = nid_from_nmk(self.nmk)
        self.state = State.SETTING_KEY
        # a core made while a V2G session is already up (hlc_active set first) has no deadline
        self._deadline = None if self.hlc_active else now + self.t.TT_EVSE_SLAC_init
        self._actions.append(SetKey(self.nid, self.nmk))

    def key_set(self, now: float, ok: bool) -> None:
        if self.state is not State.SETTING_KEY:
            return
        if not ok:
            self._fail("the modem did not accept the new NMK (CM_SET_KEY)")
            return
        self.state = State.MATCHING

    def abort(self, reason: str) -> None:
        """CP A/E/F or shutdown: drop everything, no Failed action (the caller knows why)."""
        log.info("SLAC aborted in state %s: %s", self.state.value, reason)
        self.state = State.IDLE
        self._runs.clear()
        self._deadline = None

    def hlc_session(self, now: float, active: bool) -> None:
        """A V2G session came up (TCP/TLS connection over this link) or ended."""
        self.hlc_active = active
        if active:
            self._deadline = None
            if self.state is State.MATCHED and self.matched is not None and self.link_detection:
                # V2G traffic over the link is the join the modem had not reported yet
                self.state = State.JOINED
                self._actions.append(Joined(self.matched.ev_mac))
        elif self.state is State.MATCHING and not self._runs and self._deadline is None:
            waited = self._had_runs or self._kept is not None
            self._deadline = now + (self.t.TT_matching_repetition if waited
                                    else self.t.TT_EVSE_SLAC_init)

    def link_status(self, now: float, up: bool) -> None:
        if self.state is State.MATCHED and up and self.matched is not None:
            self.state = State.JOINED
            self._deadline = None
            self._actions.append(Joined(self.matched.ev_mac))

    def receive_frame(self, data: bytes, now: float) -> None:
        try:
            frame, msg = decode(data)
        except SlacFrameError as exc:
            self._ignore(str(exc))
            return
        if frame.src == self.mac:
            return
        if frame.dst not in (self.mac, b"\xff" * 6):
            return
        if self.state is State.MATCHING:
            if isinstance(msg, SlacParmReq):
                self._on_parm(frame.src, msg, now)
            elif isinstance(msg, StartAttenCharInd):
                self._on_start(frame.src, msg, now)
            elif isinstance(msg, MnbcSoundInd):
                self._on_sound(frame.src, msg, now)
            elif isinstance(msg, AttenProfileInd):
                self._on_profile(msg, now)
            elif isinstance(msg, AttenCharRsp):
                self._on_atten_rsp(frame.src, msg)
            elif isinstance(msg, SlacMatchReq):
                self._on_match(frame.src, msg, now)
            elif isinstance(msg, ValidateReq):
                self._on_validate(frame.src, msg)
            return
        if self.state in (State.MATCHED, State.JOINED) and self.matched is not None:
            # The CNF may have been lost: answer a repeated MATCH.REQ of the matched run.
            if (isinstance(msg, SlacMatchReq) and frame.src == self.matched.ev_mac
                    and msg.run_id == self.matched.run_id):
                self._send(frame.src, self._match_cnf(msg))
            elif isinstance(msg, ValidateReq):
                self._on_validate(frame.src, msg)
            elif (isinstance(msg, SlacParmReq) and self.state is State.MATCHED
                  and frame.src == self.matched.ev_mac and msg.run_id != self.matched.run_id):
                # The matched EV starts over with a new RunID: it never got our MATCH.CNF
                # (or could not join). Match again, with the key the modem already has.
                log.info("SLAC EVSE: matched EV %s restarts SLAC; matching again",
                         mac_str(frame.src))
                self.state = State.MATCHING
                self.matched = None  # self._kept still holds it
                self._had_runs = False
                self._deadline = None
                self._on_parm(frame.src, msg, now)

    def handle_timer(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline:
            if self.state is State.MATCHING and not self._runs:
                if self._had_runs:
                    self._fail(f"{self._last_drop}; the EV did not start over within "
                               "TT_matching_repetition")
                else:
                    self._fail("no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init")
                return
            if self.state is State.SETTING_KEY:
                self._fail("the modem did not confirm the new NMK")
                return
            if self.state is State.MATCHED:
                self._fail("the EV did not join the network within TT_match_join")
                return
        for key, run in list(self._runs.items()):
            if now >= run.session_deadline:
                self._drop(key, "no CM_SLAC_MATCH.REQ within TT_EVSE_match_session")
            elif now >= run.deadline:
                self._run_timeout(key, run, now)
        if self.state is State.MATCHING and not self._runs and self._had_runs \
                and self._deadline is None:
            if self.hlc_active:
                self._keep_going("every run of the re-matching ended")
            else:
                # Every run failed. The EV repeats a failed matching (new RunID) within
                # TT_matching_repetition: wait that long for it before giving up.
                self._deadline = now + self.t.TT_matching_repetition

    # -- outputs ----------------------------------------------------------------------------
    def next_action(self) -> Action | None:
        return self._actions.pop(0) if self._actions else None

    def get_timer(self) -> float | None:
        times = [r.deadline for r in self._runs.values()]
        times += [r.session_deadline for r in self._runs.values()]
        if self._deadline is not None:
            times.append(self._deadline)
        return min(times) if times else None

    # -- internals ----------------------------------------------------------------------------
    _had_runs = False
    _last_drop = ""

    def _ignore(self, why: str) -> None:
        self.ignored.append(why)
        log.warning("SLAC EVSE: ignored frame: %s", why)

    def _send(self, dst: bytes, msg: Mme) -> None:
        self._actions.append(SendFrame(encode(dst, self.mac, msg)))

    def _keep_going(self, reason: str) -> None:
        """No failure while a V2G session is up: back to the previous match, or keep
        listening without a deadline if there was none."""
        self._runs.clear()
        self._deadline = None
        if self._kept is not None:
            self.state, self.matched = State.MATCHED, self._kept
        elif self.state is not State.MATCHING:
            self.state = State.MATCHING
        log.warning("SLAC EVSE: %s; not failing, a V2G session is up (state %s)", reason,
                    self.state.value)

    def _fail(self, reason: str) -> None:
        if self.hlc_active:
            self._keep_going(reason)
            return
        log.warning("SLAC EVSE failed: %s", reason)
        self.state = State.FAILED
        self._runs.clear()
        self._deadline = None
        self._actions.append(Failed(reason))

    def _drop(self, key: tuple[bytes, bytes], reason: str) -> None:
        run = self._runs.pop(key)
        self._had_runs = True
        self._last_drop = f"EV {mac_str(run.ev_mac)}: {reason}"
        log.info("SLAC EVSE: run with %s ended: %s", mac_str(run.ev_mac), reason)

    def _on_parm(self, src: bytes, msg: SlacParmReq, now: float) -> None:
        key = (src, msg.run_id)
        run = self._runs.get(key)
        if run is None:
            # a new RunID from the same EV restarts its run
            for k in [k for k in self._runs if k[0] == src]:
                self._drop(k, "restarted with a new RunID")
            run = _Run(src, msg.run_id, RunState.WAIT_START,
                       deadline=now + self.t.TT_match_sequence,
                       session_deadline=now + self.t.TT_EVSE_match_session)
            self._runs[key] = run
            self._deadline = None  # TT_EVSE_SLAC_init is satisfied
        elif run.state is RunState.WAIT_START:
            run.deadline = now + self.t.TT_match_sequence  # a repeat: our CNF was lost
        self._send(src, SlacParmCnf(forwarding_sta=src, run_id=msg.run_id,
                                    num_sounds=self.t.C_EV_match_MNBC,
                                    time_out=round(self.t.TT_EVSE_match_MNBC * 10)))

    def _run_for(self, src: bytes, run_id: bytes) -> _Run | None:
        run = self._runs.get((src, run_id))
        if run is None:
            self._ignore(f"{mac_str(src)}: no SLAC run with this RunID")
        return run

    def _begin_sounding(self, run: _Run, now: float) -> None:
        run.state = RunState.SOUNDING
        run.deadline = now + self.t.TT_EVSE_match_MNBC

    def _on_start(self, src: bytes, msg: StartAttenCharInd, now: float) -> None:
        run = self._run_for(src, msg.run_id)
        if run is not None and run.state is RunState.WAIT_START:
            self._begin_sounding(run, now)

    def _on_sound(self, src: bytes, msg: MnbcSoundInd, now: float) -> None:
        run = self._run_for(src, msg.run_id)
        if run is None:
            return
        if run.state is RunState.WAIT_START:  # the START_ATTEN_CHAR.INDs were all lost
            self._begin_sounding(run, now)
        if run.state is RunState.SOUNDING:
            run.sounds.add(msg.countdown)
            self._maybe_complete(run, now)

    def _on_profile(self, msg: AttenProfileInd, now: float) -> None:
        runs = [r for r in self._runs.values()
                if r.ev_mac == msg.pev_mac and r.state is RunState.SOUNDING]
        if not runs:
            self._ignore(f"attenuation profile for {mac_str(msg.pev_mac)} outside sounding")
            return
        run = runs[0]
        if run.profiles >= self.t.C_EV_match_MNBC:
            return
        run.profiles += 1
        run.sums = [a + b for a, b in zip(run.sums, msg.aag, strict=True)]
        self._maybe_complete(run, now)

    def _maybe_complete(self, run: _Run, now: float) -> None:
        if run.profiles >= self.t.C_EV_match_MNBC and len(run.sounds) >= self.t.C_EV_match_MNBC:
            self._send_atten_char(run, now)

    def _send_atten_char(self, run: _Run, now: float) -> None:
        n = run.profiles
        aag = tuple(round(s / n) for s in run.sums)
        run.average = sum(aag) / len(aag)
        ind = AttenCharInd(source_address=run.ev_mac, run_id=run.run_id, num_sounds=n, aag=aag)
        run.atten_frame = encode(run.ev_mac, self.mac, ind)
        run.atten_tries = 1
        run.state = RunState.WAIT_RSP
        run.deadline = now + self.t.TT_match_response
        self._actions.append(SendFrame(run.atten_frame))

    def _run_timeout(self, key: tuple[bytes, bytes], run: _Run, now: float) -> None:
        if run.state is RunState.WAIT_START:
            self._drop(key, "no CM_START_ATTEN_CHAR.IND or sound within TT_match_sequence")
        elif run.state is RunState.SOUNDING:
            if run.profiles == 0:
                self._drop(key, "the EV never sounded (no attenuation profile)")
            else:
                self._send_atten_char(run, now)
        elif run.state is RunState.WAIT_RSP:
            if run.atten_tries > self.t.C_EV_match_retry:
                self._drop(key, "no CM_ATTEN_CHAR.RSP after retries")
            else:
                run.atten_tries += 1
                run.deadline = now + self.t.TT_match_response
                self._actions.append(SendFrame(run.atten_frame))
        elif run.state is RunState.WAIT_MATCH:
            run.deadline = run.session_deadline

    def _on_atten_rsp(self, src: bytes, msg: AttenCharRsp) -> None:
        run = self._run_for(src, msg.run_id)
        if run is None or run.state is not RunState.WAIT_RSP:
            return
        if msg.result != 0:
            self._drop((src, msg.run_id), f"CM_ATTEN_CHAR.RSP result {msg.result}")
            return
        run.state = RunState.WAIT_MATCH
        run.deadline = run.session_deadline

    def _on_validate(self, src: bytes, msg: ValidateReq) -> None:
        """Validation (BCB toggles on the CP line) is optional for the EVSE and not done
        here: every CM_VALIDATE.REQ (step 1 or 2) gets result FAILURE, toggles 0, so the EV
        skips validation with this EVSE instead of toggling or retrying (as EVerest does)."""
        log.info("SLAC EVSE: CM_VALIDATE.REQ from %s (timer %d, result %d): validation not "
                 "supported, answering failure", mac_str(src), msg.timer, msg.result)
        self._send(src, ValidateCnf(msg.signal_type, 0, ValidateResult.FAILURE))

    def _match_cnf(self, msg: SlacMatchReq) -> SlacMatchCnf:
        return SlacMatchCnf(pev_mac=msg.pev_mac, evse_mac=self.mac, run_id=msg.run_id,
                            nid=self.nid, nmk=self.nmk, pev_id=msg.pev_id, evse_id=self.evse_id)

    def _on_match(self, src: bytes, msg: SlacMatchReq, now: float) -> None:
        run = self._run_for(src, msg.run_id)
        if run is None:
            return
        if run.state not in (RunState.WAIT_MATCH, RunState.WAIT_RSP):
            self._ignore(f"{mac_str(src)}: CM_SLAC_MATCH.REQ before the attenuation results")
            return
        if msg.evse_mac != self.mac or msg.pev_mac != src:
            self._ignore(f"{mac_str(src)}: CM_SLAC_MATCH.REQ names other MAC addresses")
            return
        self._send(src, self._match_cnf(msg))
        self.matched = self._kept = Matched(src, msg.run_id, self.nid, self.nmk, run.average)
        for key in [k for k in self._runs if k != (src, msg.run_id)]:
            self._drop(key, "another EV matched")
        self._runs.clear()
        self.state = State.MATCHED
        self._deadline = None
        self._actions.append(self.matched)
        if self.link_detection:
            self._deadline = now + self.t.TT_match_join
