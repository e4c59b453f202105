"""V2GTP framing: good messages in any chunking, bad headers ignored [V2G2-800]."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from josev.v2gtp import (
    HEADER_LEN,
    BadHeader,
    Message,
    PayloadType,
    Skipped,
    V2GTPError,
    V2GTPParser,
    encode,
    parse_datagram,
)


def feed_all(parser: V2GTPParser, data: bytes, chunk: int = 0) -> list[object]:
    if chunk:
        for i in range(0, len(data), chunk):
            parser.receive_data(data[i : i + chunk])
    else:
        parser.receive_data(data)
    return list(parser.events())


def test_encode_header_layout() -> None:
    frame = encode(PayloadType.EXI, b"\x80\x01")
    assert frame == b"\x01\xfe\x80\x01\x00\x00\x00\x02\x80\x01"


def test_one_message() -> None:
    p = V2GTPParser()
    assert feed_all(p, encode(0x8001, b"abc")) == [Message(0x8001, b"abc")]
    assert p.buffered == 0


@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_any_chunking_gives_the_same_messages(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(encode(0x8002, pl) for pl in payloads)
    p = V2GTPParser()
    assert feed_all(p, stream, chunk) == [Message(0x8002, pl) for pl in payloads]


def test_wrong_version_is_ignored_and_the_next_message_is_parsed() -> None:
    bad = b"\x02\xfd\x80\x01\x00\x00\x00\x03xyz"
    p = V2GTPParser()
    events = feed_all(p, bad + encode(0x8001, b"ok"))
    assert isinstance(events[0], BadHeader)
    assert "wrong protocol version 0x02/0xfd" in events[0].reason
    assert events[-1] == Message(0x8001, b"ok")


def test_inverse_version_mismatch_is_ignored() -> None:
    p = V2GTPParser()
    events = feed_all(p, b"\x01\xff\x80\x01\x00\x00\x00\x00" + encode(0x8001, b"ok"))
    assert isinstance(events[0], BadHeader)
    assert events[-1] == Message(0x8001, b"ok")


def test_unknown_payload_type_is_skipped_without_buffering() -> None:
    p = V2GTPParser()
    header = b"\x01\xfe\x12\x34\x00\x00\x10\x00"  # type 0x1234, 4096 bytes
    p.receive_data(header + b"\x00" * 100)
    assert p.events() == [Skipped(0x1234, 4096)]
    assert p.buffered == 0
    p.receive_data(b"\x01" * (4096 - 100))  # the rest is dropped as it arrives
    assert p.buffered == 0
    assert feed_all(p, encode(0x8001, b"next")) == [Message(0x8001, b"next")]


def test_sdp_type_on_the_tcp_stream_is_skipped() -> None:
    p = V2GTPParser()
    events = feed_all(p, encode(0x9000, b"\x10\x00") + encode(0x8001, b"x"))
    assert events == [Skipped(0x9000, 2), Message(0x8001, b"x")]


def test_length_beyond_maximum_is_refused_without_allocating() -> None:
    p = V2GTPParser(max_payload=1024)
    huge = b"\x01\xfe\x80\x01\xff\xff\xff\xff"
    events = feed_all(p, huge + b"garbage" + encode(0x8001, b"after"))
    assert isinstance(events[0], BadHeader)
    assert "exceeds the maximum 1024" in events[0].reason
    assert events[-1] == Message(0x8001, b"after")
    assert p.buffered == 0


def test_partial_header_waits() -> None:
    p = V2GTPParser()
    frame = encode(0x8001, b"hello")
    p.receive_data(frame[:5])
    assert p.next_event() is None
    p.receive_data(frame[5:])
    assert p.next_event() == Message(0x8001, b"hello")


@given(st.binary(max_size=200))
def test_garbage_never_raises(data: bytes) -> None:
    p = V2GTPParser(max_payload=64)
    p.receive_data(data)
    p.events()
    assert p.buffered <= 64 + HEADER_LEN


def test_datagram_parse() -> None:
    msg = parse_datagram(encode(0x9000, b"\x10\x00"), {0x9000})
    assert msg == Message(0x9000, b"\x10\x00")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01\xfe\x90", "shorter than a V2GTP header"),
        (b"\x02\xfe\x90\x00\x00\x00\x00\x02\x10\x00", "wrong protocol version"),
        (b"\x01\xfe\x80\x01\x00\x00\x00\x02\x10\x00", "unexpected payload type 0x8001"),
        (b"\x01\xfe\x90\x00\x00\x00\x00\x03\x10\x00", "does not match the datagram"),
        (b"\x01\xfe\x90\x00\x00\x01\x00\x00\x10\x00", "exceeds the maximum"),
    ],
)
def test_bad_datagrams(data: bytes, reason: str) -> None:
    with pytest.raises(V2GTPError, match=reason):
        parse_datagram(data, {0x9000}, max_payload=1024)
