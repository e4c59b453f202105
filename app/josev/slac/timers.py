"""SLAC timers and counters (ISO 15118-3 Table A.1 / A.3), in seconds; configurable for tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlacTimers:
    # EVSE: from CP state B until the first CM_SLAC_PARM.REQ (20-50 s)
    TT_EVSE_SLAC_init: float = 50.0
    # EVSE: from CM_SLAC_PARM.CNF until CM_SLAC_MATCH.REQ
    TT_EVSE_match_session: float = 10.0
    # EVSE: collection window for the sounds (sent as 6 = 600 ms in CM_SLAC_PARM.CNF)
    TT_EVSE_match_MNBC: float = 0.6
    # EV: from the first CM_START_ATTEN_CHAR.IND until it decides on the ATTEN_CHAR results
    TT_EV_atten_results: float = 1.2
    # gap allowed between two messages of one sequence
    TT_match_sequence: float = 0.4
    # wait for a response before a retry
    TT_match_response: float = 0.2
    # after the match, the EV must join the EVSE's network within this
    TT_match_join: float = 12.0
    # the EV restarts matching within this after a failed attempt
    TT_matching_repetition: float = 10.0
    # retries of a request without response (C_EV_match_retry)
    C_EV_match_retry: int = 2
    # number of sounds (C_EV_match_MNBC) and START_ATTEN_CHAR repetitions
    C_EV_match_MNBC: int = 10
    C_EV_start_atten_char_inds: int = 3


DEFAULT_TIMERS = SlacTimers()
