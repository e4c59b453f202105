"""Bad input raises ExiError (with a position and a reason) and nothing else, quickly."""

from __future__ import annotations

import random

import pytest

from josev import exi
from josev.exi import ExiError
from josev.exi.fuzz import run
from josev.exi.runtime import w_uint

from .conftest import FAMILIES, VECTOR_DIR, vectors


def _decode_err(data: bytes, family: str) -> ExiError:
    with pytest.raises(ExiError) as info:
        exi.decode(data, family)
    err = info.value
    assert isinstance(err.reason, str) and err.reason
    assert 0 <= err.bit_position <= len(data) * 8
    return err


@pytest.mark.parametrize("family", FAMILIES)
def test_every_truncation_is_rejected(family: str) -> None:
    small = [v for v in vectors(family) if len(v["exi"]) <= 1200][:6]
    assert small
    for vec in small:
        data = bytes.fromhex(vec["exi"])
        for n in range(len(data)):
            try:
                exi.decode(data[:n], family)
            except ExiError:
                continue
            # a shorter prefix can only decode if all dropped bytes were padding zeros
            assert data[n:] == b"\x00" * (len(data) - n), (vec["message"], n)


def test_trailing_garbage_header_and_padding() -> None:
    data = bytes.fromhex(vectors("din")[0]["exi"])
    err = _decode_err(data + b"\x00\x01", "din")
    assert "trailing" in err.reason
    err = _decode_err(b"\x81" + data[1:], "din")
    assert "header" in err.reason and err.bit_position == 0
    _decode_err(b"", "din")
    # a set bit in the padding of the last byte
    vec = next(v for v in vectors("appHand") if int(v["exi"][-2:], 16) & 1 == 0)
    raw = bytes.fromhex(vec["exi"])
    try:
        exi.decode(raw[:-1] + bytes([raw[-1] | 1]), "appHand")
    except ExiError as e:
        assert e.reason
    with pytest.raises(ExiError):
        exi.decode(data, "no-such-family")


def test_huge_string_length_is_rejected_before_allocating() -> None:
    # supportedAppProtocolReq / AppProtocol / ProtocolNamespace with a length of 2**60
    a = (0x80 << 2) | 0  # SE(supportedAppProtocolReq): 2 globals + SE(*) -> 2 bits, index 0
    a = (a << 1) | 0  # SE(AppProtocol)
    a = (a << 1) | 0  # SE(ProtocolNamespace)
    a = (a << 1) | 0  # CH
    a = w_uint(2**60, a)
    a = (a << 64) | 0x4142434445464748
    n = a.bit_length()
    data = (a << (-n % 8)).to_bytes((n + 7) // 8, "big")
    err = _decode_err(data, "appHand")
    assert "exceeds the remaining input" in err.reason


def test_enum_index_out_of_range_is_rejected() -> None:
    # supportedAppProtocolRes: ResponseCode has 3 values coded in 2 bits; index 3 is invalid
    a = (0x80 << 2) | 1  # SE(supportedAppProtocolRes)
    a = (a << 1) | 0  # SE(ResponseCode)
    a = (a << 1) | 0  # CH
    a = (a << 2) | 3  # enumeration index 3
    a = (a << 8)  # the rest of the document (EE events), so the read itself is not truncated
    n = a.bit_length()
    data = (a << (-n % 8)).to_bytes((n + 7) // 8, "big")
    err = _decode_err(data, "appHand")
    assert "enumeration index out of range" in err.reason


def test_random_bytes_never_escape() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        data = bytes([0x80]) + rng.randbytes(rng.randrange(0, 40))
        for fam in ("din", "iso2", "iso20_DC"):
            try:
                exi.decode(data, fam)
            except ExiError:
                pass


def test_fuzz_bounded_run_finds_no_bugs() -> None:
    """A few thousand mutated vectors per run; the long run is `python -m josev.exi.fuzz`."""
    stats = run(4000, seed=12345, vector_dir=VECTOR_DIR, quiet=True)
    assert stats["inputs"] == 4000
    assert stats["bugs"] == 0, stats["bug_samples"]
    assert stats["rejected"] > 0 and stats["decoded"] > 0
