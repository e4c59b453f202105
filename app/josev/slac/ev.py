"""EV side of SLAC for the simulator (ISO 15118-3 clause 9), sans-I/O.

`start(now)` broadcasts CM_SLAC_PARM.REQ; every EVSE that answers gets the sounds; after
TT_EV_atten_results the EV picks the EVSE with the lowest average attenuation (at most
`max_attenuation` dB) and sends CM_SLAC_MATCH.REQ; the CNF's NMK/NID become a SetKey action
(joining the EVSE's network through the EV's own modem).

Simulated link: there is no modem on the EVSE side to measure the sounds, so this EV sends,
for each sound, the CM_ATTEN_PROFILE.IND that the EVSE's modem would have sent to its host,
with attenuation values from a configured model (`attenuation(evse_mac) -> dB`). The EVSE
code cannot tell the difference.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from josev.slac.evse import Failed, SendFrame, SetKey
from josev.slac.frames import (
    BROADCAST,
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
    decode,
    encode,
    mac_str,
)
from josev.slac.timers import DEFAULT_TIMERS, SlacTimers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvMatched:
    evse_mac: bytes
    nid: bytes
    nmk: bytes
    attenuation: float


EvAction = SendFrame | SetKey | EvMatched | Failed


class EvState(enum.Enum):
    IDLE = "idle"
    WAIT_PARM_CNF = "wait_parm_cnf"
    WAIT_RESULTS = "wait_atten_char"
    WAIT_MATCH_CNF = "wait_match_cnf"
    MATCHED = "matched"
    FAILED = "failed"


@dataclass
class _Candidate:
    mac: bytes
    average: float | None = None


@dataclass
class EvSlacConfig:
    attenuation: Callable[[bytes], float] = field(default=lambda mac: 20.0)
    max_attenuation: float | None = 50.0
    sounds: int | None = None     # None: as many as the EVSE asks for; 0: an EV that never sounds
    timers: SlacTimers = DEFAULT_TIMERS
    # repeat a failed matching (new RunID) until TT_matching_repetition has passed since start
    repeat: bool = True


class EvSlac:
    def __init__(
        self, mac: bytes, config: EvSlacConfig | None = None,
        *, random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.mac = mac
        self.cfg = config or EvSlacConfig()
        self.t = self.cfg.timers
        self._random = random
        self.state = EvState.IDLE
        self.run_id = b""
        self._candidates: dict[bytes, _Candidate] = {}
        self._actions: list[EvAction] = []
        self._deadline: float | None = None
        self._tries = 0
        self._match_frame = b""
        self._chosen: _Candidate | None = None
        self.matched: EvMatched | None = None
        self.ignored: list[str] = []
        self._first_start = 0.0
        self.attempts = 0
        self.reasons: list[str] = []  # why each attempt failed

    def start(self, now: float) -> None:
        self._first_start = now
        self.attempts = 0
        self._begin(now)

    def _begin(self, now: float) -> None:
        self.attempts += 1
        self.run_id = self._random(8)
        self._candidates.clear()
        self.state = EvState.WAIT_PARM_CNF
        self._tries = 1
        self._send(BROADCAST, SlacParmReq(self.run_id))
        self._deadline = now + self.t.TT_match_response

    def next_action(self) -> EvAction | None:
        return self._actions.pop(0) if self._actions else None

    def get_timer(self) -> float | None:
        return self._deadline

    def _send(self, dst: bytes, msg: Mme) -> None:
        self._actions.append(SendFrame(encode(dst, self.mac, msg)))

    def _fail(self, reason: str, now: float) -> None:
        self.reasons.append(reason)
        if self.cfg.repeat and now < self._first_start + self.t.TT_matching_repetition:
            log.info("SLAC EV: %s; repeating the matching (attempt %d)", reason,
                     self.attempts + 1)
            self._chosen = None
            self._begin(now)
            return
        log.warning("SLAC EV failed: %s", reason)
        self.state = EvState.FAILED
        self._deadline = None
        self._actions.append(Failed(reason))

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        if self.state is EvState.WAIT_PARM_CNF:
            if self._candidates:
                self._sound(now)
            elif self._tries > self.t.C_EV_match_retry:
                self._fail("no CM_SLAC_PARM.CNF", now)
            else:
                self._tries += 1
                self._send(BROADCAST, SlacParmReq(self.run_id))
                self._deadline = now + self.t.TT_match_response
        elif self.state is EvState.WAIT_RESULTS:
            self._decide(now)
        elif self.state is EvState.WAIT_MATCH_CNF:
            if self._tries > self.t.C_EV_match_retry:
                self._fail("no CM_SLAC_MATCH.CNF", now)
            else:
                self._tries += 1
                self._actions.append(SendFrame(self._match_frame))
                self._deadline = now + self.t.TT_match_response

    def receive_frame(self, data: bytes, now: float) -> None:
        try:
            frame, msg = decode(data)
        except SlacFrameError as exc:
            self.ignored.append(str(exc))
            log.warning("SLAC EV: ignored frame: %s", exc)
            return
        if frame.src == self.mac or frame.dst != self.mac:
            return
        if isinstance(msg, SlacParmCnf) and msg.run_id == self.run_id:
            if self.state is EvState.WAIT_PARM_CNF and frame.src not in self._candidates:
                # Every EVSE that hears us answers (crosstalk included): collect them all
                # until TT_match_response ends, then sound once for all of them.
                self._candidates[frame.src] = _Candidate(frame.src)
        elif isinstance(msg, AttenCharInd) and msg.run_id == self.run_id:
            cand = self._candidates.get(frame.src)
            if cand is None or self.state not in (EvState.WAIT_RESULTS, EvState.WAIT_MATCH_CNF):
                return
            if msg.source_address != self.mac:
                return
            cand.average = msg.average
            self._send(frame.src, AttenCharRsp(self.mac, self.run_id, 0))
        elif isinstance(msg, SlacMatchCnf) and msg.run_id == self.run_id:
            if self.state is EvState.WAIT_MATCH_CNF and self._chosen is not None \
                    and frame.src == self._chosen.mac and msg.pev_mac == self.mac:
                self.state = EvState.MATCHED
                self._deadline = None
                self.matched = EvMatched(frame.src, msg.nid, msg.nmk,
                                         self._chosen.average or 0.0)
                self._actions.append(SetKey(msg.nid, msg.nmk))
                self._actions.append(self.matched)

    def _sound(self, now: float) -> None:
        self.state = EvState.WAIT_RESULTS
        n = self.t.C_EV_match_MNBC if self.cfg.sounds is None else self.cfg.sounds
        for _ in range(self.t.C_EV_start_atten_char_inds):
            self._send(BROADCAST, StartAttenCharInd(self.mac, self.run_id, self.t.C_EV_match_MNBC,
                                                    round(self.t.TT_EVSE_match_MNBC * 10)))
        for i in range(n):
            self._send(BROADCAST, MnbcSoundInd(n - 1 - i, self.run_id, self._random(16)))
            for cand in self._candidates.values():
                level = max(0, min(255, round(self.cfg.attenuation(cand.mac))))
                self._send(cand.mac, AttenProfileInd(self.mac, (level,) * NUM_GROUPS))
        self._deadline = now + self.t.TT_EV_atten_results

    def _decide(self, now: float) -> None:
        results = [c for c in self._candidates.values() if c.average is not None]
        if not results:
            self._fail("no CM_ATTEN_CHAR.IND from any EVSE", now)
            return
        best = min(results, key=lambda c: c.average or 0.0)
        assert best.average is not None
        limit = self.cfg.max_attenuation
        if limit is not None and best.average > limit:
            self._fail(f"best EVSE {mac_str(best.mac)} at {best.average:.1f} dB is beyond "
                       f"{limit:.1f} dB (not the EVSE this EV is plugged into)", now)
            return
        self._chosen = best
        self.state = EvState.WAIT_MATCH_CNF
        self._match_frame = encode(best.mac, self.mac,
                                   SlacMatchReq(self.mac, best.mac, self.run_id))
        self._tries = 1
        self._actions.append(SendFrame(self._match_frame))
        self._deadline = now + self.t.TT_match_response
