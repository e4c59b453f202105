"""HomePlug Green PHY management frames used by SLAC (ISO 15118-3), in plain struct code.

Plain struct rather than scapy's HomePlug layers: importing scapy costs about half a second
and tens of MB (figures in docs/transport.md, measured by bench/link.py), this module costs
nothing measurable, and SLAC needs only a dozen fixed layouts.

Frame: Ethernet header (dst, src, EtherType 0x88E1), MMV (1 = HomePlug AV 1.1), MMTYPE
(little-endian), FMI (2 bytes, 0 = not fragmented), then the MME payload, padded to 60 bytes.
Payload layouts follow ISO 15118-3 Annex A (the same fields as scapy's homepluggp layers).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar

ETH_P_HOMEPLUG = 0x88E1
BROADCAST = b"\xff" * 6
MMV = 0x01
HEADER_LEN = 19  # 14 Ethernet + MMV 1 + MMTYPE 2 + FMI 2
MIN_FRAME = 60
NUM_GROUPS = 58
C_EV_MATCH_MNBC = 10
RUN_ID_LEN = 8
ID_LEN = 17  # PEV ID / EVSE ID fields


class MMType(enum.IntEnum):
    CM_SET_KEY_REQ = 0x6008
    CM_SET_KEY_CNF = 0x6009
    CM_SLAC_PARM_REQ = 0x6064
    CM_SLAC_PARM_CNF = 0x6065
    CM_START_ATTEN_CHAR_IND = 0x606A
    CM_ATTEN_CHAR_IND = 0x606E
    CM_ATTEN_CHAR_RSP = 0x606F
    CM_MNBC_SOUND_IND = 0x6076
    CM_VALIDATE_REQ = 0x6078
    CM_VALIDATE_CNF = 0x6079
    CM_SLAC_MATCH_REQ = 0x607C
    CM_SLAC_MATCH_CNF = 0x607D
    CM_ATTEN_PROFILE_IND = 0x6086


class SlacFrameError(ValueError):
    """A frame that is not a valid SLAC MME; ignored (and logged) by the caller."""


@dataclass(frozen=True, slots=True)
class Frame:
    dst: bytes
    src: bytes
    mmtype: int
    payload: bytes


def encode_frame(dst: bytes, src: bytes, mmtype: int, payload: bytes) -> bytes:
    head = dst + src + struct.pack(">H", ETH_P_HOMEPLUG) + struct.pack("<BHH", MMV, mmtype, 0)
    frame = head + payload
    return frame + b"\x00" * (MIN_FRAME - len(frame)) if len(frame) < MIN_FRAME else frame


def parse_frame(data: bytes) -> Frame:
    if len(data) < HEADER_LEN:
        raise SlacFrameError(f"frame of {len(data)} bytes is shorter than an MME header")
    (ethertype,) = struct.unpack_from(">H", data, 12)
    if ethertype != ETH_P_HOMEPLUG:
        raise SlacFrameError(f"EtherType {ethertype:#06x} is not HomePlug AV")
    mmv, mmtype, fmi = struct.unpack_from("<BHH", data, 14)
    if mmv != MMV:
        raise SlacFrameError(f"MMV {mmv} is not supported (want 1)")
    if fmi != 0:
        raise SlacFrameError("fragmented MMEs are not used by SLAC")
    return Frame(bytes(data[:6]), bytes(data[6:12]), mmtype, bytes(data[HEADER_LEN:]))


def encode_vendor_frame(dst: bytes, src: bytes, mmtype: int, oui: bytes, body: bytes) -> bytes:
    """A vendor-specific MME (MMTYPE 0xA000-0xBFFF): MMV 0 (HomePlug AV 1.0), no FMI, OUI."""
    head = dst + src + struct.pack(">H", ETH_P_HOMEPLUG) + struct.pack("<BH", 0, mmtype)
    frame = head + oui + body
    return frame + b"\x00" * (MIN_FRAME - len(frame)) if len(frame) < MIN_FRAME else frame


def parse_vendor_frame(data: bytes) -> tuple[Frame, bytes] | None:
    """(header, OUI) and the body after the OUI for an MMV-0 vendor MME, else None."""
    if len(data) < 20 or struct.unpack_from(">H", data, 12)[0] != ETH_P_HOMEPLUG:
        return None
    mmv, mmtype = struct.unpack_from("<BH", data, 14)
    if mmv != 0 or not 0xA000 <= mmtype <= 0xBFFF:
        return None
    return Frame(bytes(data[:6]), bytes(data[6:12]), mmtype, bytes(data[17:20])), data[20:]


def mac_str(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def mac_bytes(mac: str) -> bytes:
    b = bytes.fromhex(mac.replace(":", ""))
    if len(b) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return b


class Mme:
    """Base of the typed messages: a fixed struct layout (plus a variable tail for some)."""

    MMTYPE: ClassVar[MMType]
    FMT: ClassVar[struct.Struct]

    def pack(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def _fields(cls, payload: bytes) -> tuple[object, ...]:
        if len(payload) < cls.FMT.size:
            raise SlacFrameError(
                f"{cls.MMTYPE.name}: payload of {len(payload)} bytes, need {cls.FMT.size}"
            )
        return cls.FMT.unpack_from(payload)


def _app_sec(app: object, sec: object, name: str) -> None:
    # ISO 15118-3: application type 0 (PEV-EVSE matching), security type 0 (no security)
    if app != 0 or sec != 0:
        raise SlacFrameError(f"{name}: application/security type {app}/{sec}, expected 0/0")


@dataclass(frozen=True, slots=True)
class SlacParmReq(Mme):
    run_id: bytes
    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_PARM_REQ
    FMT: ClassVar[struct.Struct] = struct.Struct("<BB8s")

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.run_id)

    @classmethod
    def parse(cls, payload: bytes) -> SlacParmReq:
        app, sec, run_id = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        return cls(run_id)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SlacParmCnf(Mme):
    forwarding_sta: bytes
    run_id: bytes
    num_sounds: int = C_EV_MATCH_MNBC
    time_out: int = 6  # TT_EVSE_match_MNBC in units of 100 ms
    resp_type: int = 1  # 1 = send to another GP station (the EVSE host)
    msound_target: bytes = BROADCAST
    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_PARM_CNF
    FMT: ClassVar[struct.Struct] = struct.Struct("<6sBBB6sBB8s")

    def pack(self) -> bytes:
        return self.FMT.pack(self.msound_target, self.num_sounds, self.time_out, self.resp_type,
                             self.forwarding_sta, 0, 0, self.run_id)

    @classmethod
    def parse(cls, payload: bytes) -> SlacParmCnf:
        target, n, tmo, rtype, fwd, app, sec, run_id = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        return cls(fwd, run_id, n, tmo, rtype, target)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class StartAttenCharInd(Mme):
    forwarding_sta: bytes
    run_id: bytes
    num_sounds: int = C_EV_MATCH_MNBC
    time_out: int = 6
    resp_type: int = 1
    MMTYPE: ClassVar[MMType] = MMType.CM_START_ATTEN_CHAR_IND
    FMT: ClassVar[struct.Struct] = struct.Struct("<BBBBB6s8s")

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.num_sounds, self.time_out, self.resp_type,
                             self.forwarding_sta, self.run_id)

    @classmethod
    def parse(cls, payload: bytes) -> StartAttenCharInd:
        app, sec, n, tmo, rtype, fwd, run_id = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        return cls(fwd, run_id, n, tmo, rtype)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class MnbcSoundInd(Mme):
    countdown: int
    run_id: bytes
    random: bytes = b"\x00" * 16
    sender_id: bytes = b"\x00" * ID_LEN
    MMTYPE: ClassVar[MMType] = MMType.CM_MNBC_SOUND_IND
    FMT: ClassVar[struct.Struct] = struct.Struct("<BB17sB8s8s16s")

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.sender_id, self.countdown, self.run_id, b"\x00" * 8,
                             self.random)

    # What the EVSE uses ends with the RunID (byte 28). Qualcomm's own PEV emulator (pev,
    # open-plc-utils as packaged in Debian) sends 64-byte frames that cut the reserved bytes
    # and most of the random value; such a sound is taken, its missing tail read as zeros.
    USED_LEN: ClassVar[int] = 28

    @classmethod
    def parse(cls, payload: bytes) -> MnbcSoundInd:
        if cls.USED_LEN <= len(payload) < cls.FMT.size:
            payload = payload + b"\x00" * (cls.FMT.size - len(payload))
        app, sec, sender, cnt, run_id, _rsvd, rnd = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        return cls(cnt, run_id, rnd, sender)  # type: ignore[arg-type]


def _groups(payload: bytes, count_at: int, offset: int, name: str) -> tuple[int, ...]:
    n = payload[count_at]
    if n != NUM_GROUPS:
        raise SlacFrameError(f"{name}: {n} attenuation groups, expected {NUM_GROUPS}")
    if len(payload) < offset + n:
        raise SlacFrameError(f"{name}: truncated attenuation profile")
    return tuple(payload[offset : offset + n])


@dataclass(frozen=True, slots=True)
class AttenProfileInd(Mme):
    """Sent by the EVSE's modem to its host for each sound (in the simulated link: by the EV)."""

    pev_mac: bytes
    aag: tuple[int, ...]
    MMTYPE: ClassVar[MMType] = MMType.CM_ATTEN_PROFILE_IND
    FMT: ClassVar[struct.Struct] = struct.Struct("<6sBB")

    def pack(self) -> bytes:
        return self.FMT.pack(self.pev_mac, len(self.aag), 0) + bytes(self.aag)

    @classmethod
    def parse(cls, payload: bytes) -> AttenProfileInd:
        mac, _n, _rsvd = cls._fields(payload)
        return cls(mac, _groups(payload, 6, 8, cls.MMTYPE.name))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class AttenCharInd(Mme):
    source_address: bytes  # the EV's MAC
    run_id: bytes
    num_sounds: int
    aag: tuple[int, ...]
    source_id: bytes = b"\x00" * ID_LEN
    resp_id: bytes = b"\x00" * ID_LEN
    MMTYPE: ClassVar[MMType] = MMType.CM_ATTEN_CHAR_IND
    FMT: ClassVar[struct.Struct] = struct.Struct("<BB6s8s17s17sBB")

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.source_address, self.run_id, self.source_id,
                             self.resp_id, self.num_sounds, len(self.aag)) + bytes(self.aag)

    @classmethod
    def parse(cls, payload: bytes) -> AttenCharInd:
        app, sec, src, run_id, sid, rid, n, _ng = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        aag = _groups(payload, cls.FMT.size - 1, cls.FMT.size, cls.MMTYPE.name)
        return cls(src, run_id, n, aag, sid, rid)  # type: ignore[arg-type]

    @property
    def average(self) -> float:
        return sum(self.aag) / len(self.aag)


@dataclass(frozen=True, slots=True)
class AttenCharRsp(Mme):
    source_address: bytes
    run_id: bytes
    result: int = 0
    source_id: bytes = b"\x00" * ID_LEN
    resp_id: bytes = b"\x00" * ID_LEN
    MMTYPE: ClassVar[MMType] = MMType.CM_ATTEN_CHAR_RSP
    FMT: ClassVar[struct.Struct] = struct.Struct("<BB6s8s17s17sB")

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.source_address, self.run_id, self.source_id,
                             self.resp_id, self.result)

    @classmethod
    def parse(cls, payload: bytes) -> AttenCharRsp:
        app, sec, src, run_id, sid, rid, result = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        return cls(src, run_id, result, sid, rid)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SlacMatchReq(Mme):
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    pev_id: bytes = b"\x00" * ID_LEN
    evse_id: bytes = b"\x00" * ID_LEN
    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_MATCH_REQ
    FMT: ClassVar[struct.Struct] = struct.Struct("<BBH17s6s17s6s8s8s")
    MVF_LENGTH: ClassVar[int] = 0x3E

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.MVF_LENGTH, self.pev_id, self.pev_mac, self.evse_id,
                             self.evse_mac, self.run_id, b"\x00" * 8)

    @classmethod
    def parse(cls, payload: bytes) -> SlacMatchReq:
        app, sec, mvf, pev_id, pev_mac, evse_id, evse_mac, run_id, _r = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        if mvf != cls.MVF_LENGTH:
            raise SlacFrameError(f"{cls.MMTYPE.name}: MVFLength {mvf:#x}, expected 0x3e")
        return cls(pev_mac, evse_mac, run_id, pev_id, evse_id)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SlacMatchCnf(Mme):
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes
    pev_id: bytes = b"\x00" * ID_LEN
    evse_id: bytes = b"\x00" * ID_LEN
    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_MATCH_CNF
    FMT: ClassVar[struct.Struct] = struct.Struct("<BBH17s6s17s6s8s8s7sB16s")
    MVF_LENGTH: ClassVar[int] = 0x56

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.MVF_LENGTH, self.pev_id, self.pev_mac, self.evse_id,
                             self.evse_mac, self.run_id, b"\x00" * 8, self.nid, 0, self.nmk)

    @classmethod
    def parse(cls, payload: bytes) -> SlacMatchCnf:
        (app, sec, mvf, pev_id, pev_mac, evse_id, evse_mac, run_id, _r, nid, _r2,
         nmk) = cls._fields(payload)
        _app_sec(app, sec, cls.MMTYPE.name)
        if mvf != cls.MVF_LENGTH:
            raise SlacFrameError(f"{cls.MMTYPE.name}: MVFLength {mvf:#x}, expected 0x56")
        return cls(pev_mac, evse_mac, run_id, nid, nmk, pev_id, evse_id)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SetKeyReq(Mme):
    nid: bytes
    nmk: bytes
    my_nonce: int = 0
    MMTYPE: ClassVar[MMType] = MMType.CM_SET_KEY_REQ
    FMT: ClassVar[struct.Struct] = struct.Struct("<BIIBHBB7sB16s")

    def pack(self) -> bytes:
        # key type 1 = NMK (AES-128); PID 4 = HLE protocol; new EKS 1 = NMK
        return self.FMT.pack(1, self.my_nonce, 0, 4, 0, 0, 0, self.nid, 1, self.nmk)

    @classmethod
    def parse(cls, payload: bytes) -> SetKeyReq:
        _kt, nonce, _yn, _pid, _prn, _pmn, _cco, nid, _eks, nmk = cls._fields(payload)
        return cls(nid, nmk, nonce)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SetKeyCnf(Mme):
    result: int  # 0 = success
    MMTYPE: ClassVar[MMType] = MMType.CM_SET_KEY_CNF
    FMT: ClassVar[struct.Struct] = struct.Struct("<BIIBHBB")

    def pack(self) -> bytes:
        return self.FMT.pack(self.result, 0, 0, 4, 0, 0, 0)

    @classmethod
    def parse(cls, payload: bytes) -> SetKeyCnf:
        return cls(cls._fields(payload)[0])  # type: ignore[arg-type]


class ValidateResult(enum.IntEnum):
    """CM_VALIDATE result codes (ISO 15118-3 A.9.3; values as in EVerest's libslac
    definitions; where they came from: docs/transport.md)."""

    NOT_READY = 0
    READY = 1
    SUCCESS = 2
    FAILURE = 3
    NOT_REQUIRED = 4


VALIDATE_SIGNAL_S2_TOGGLES = 0  # the only signal type: the EV toggles S2 (CP state B/C)


def _signal_type(value: object, name: str) -> None:
    if value != VALIDATE_SIGNAL_S2_TOGGLES:
        raise SlacFrameError(f"{name}: signal type {value}, expected 0 (S2 toggles)")


@dataclass(frozen=True, slots=True)
class ValidateReq(Mme):
    """EV -> EVSE. Step 1: timer 0, result READY; step 2: the toggle window in `timer`."""

    signal_type: int = VALIDATE_SIGNAL_S2_TOGGLES
    timer: int = 0
    result: int = ValidateResult.READY
    MMTYPE: ClassVar[MMType] = MMType.CM_VALIDATE_REQ
    FMT: ClassVar[struct.Struct] = struct.Struct("<BBB")

    def pack(self) -> bytes:
        return self.FMT.pack(self.signal_type, self.timer, self.result)

    @classmethod
    def parse(cls, payload: bytes) -> ValidateReq:
        signal, timer, result = cls._fields(payload)
        _signal_type(signal, cls.MMTYPE.name)
        return cls(signal, timer, result)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ValidateCnf(Mme):
    """EVSE -> EV. An EVSE that does not validate answers FAILURE with no toggles counted:
    the EV then skips validation for this EVSE and may still match it."""

    signal_type: int = VALIDATE_SIGNAL_S2_TOGGLES
    toggle_num: int = 0
    result: int = ValidateResult.FAILURE
    MMTYPE: ClassVar[MMType] = MMType.CM_VALIDATE_CNF
    FMT: ClassVar[struct.Struct] = struct.Struct("<BBB")

    def pack(self) -> bytes:
        return self.FMT.pack(self.signal_type, self.toggle_num, self.result)

    @classmethod
    def parse(cls, payload: bytes) -> ValidateCnf:
        signal, toggles, result = cls._fields(payload)
        _signal_type(signal, cls.MMTYPE.name)
        return cls(signal, toggles, result)  # type: ignore[arg-type]


MESSAGES: dict[int, type[Mme]] = {
    cls.MMTYPE: cls
    for cls in (SlacParmReq, SlacParmCnf, StartAttenCharInd, MnbcSoundInd, AttenProfileInd,
                AttenCharInd, AttenCharRsp, SlacMatchReq, SlacMatchCnf, SetKeyReq, SetKeyCnf,
                ValidateReq, ValidateCnf)
}


def decode(data: bytes) -> tuple[Frame, Mme]:
    """Parse a raw Ethernet frame into its header and typed message (SlacFrameError if not)."""
    frame = parse_frame(data)
    cls = MESSAGES.get(frame.mmtype)
    if cls is None:
        raise SlacFrameError(f"MMTYPE {frame.mmtype:#06x} is not a SLAC message")
    msg: Mme = cls.parse(frame.payload)  # type: ignore[attr-defined]
    return frame, msg


def encode(dst: bytes, src: bytes, msg: Mme) -> bytes:
    return encode_frame(dst, src, msg.MMTYPE, msg.pack())


def nid_from_nmk(nmk: bytes, security_level: int = 0) -> bytes:
    """HomePlug AV NID: SHA-256 of the NMK iterated 5 times, 52 bits kept, plus the 2-bit
    security level (HomePlug AV 1.1, 4.4.3.1; the same derivation as open-plc-utils)."""
    import hashlib

    digest = nmk
    for _ in range(5):
        digest = hashlib.sha256(digest).digest()
    nid = bytearray(digest[:7])
    nid[6] = (nid[6] >> 4) | ((security_level & 0x03) << 4)
    return bytes(nid)
