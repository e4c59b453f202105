"""SDP codec, the SECC's answer rule, and the EV client's 250 ms / 50 tries rule (driven clock)."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from josev.sdp import (
    SdpClient,
    SdpError,
    SdpRequest,
    SdpResponse,
    Security,
    Transport,
    answer,
)

ADDR = ipaddress.IPv6Address("fe80::1")


def test_request_bytes() -> None:
    assert SdpRequest(Security.NO_TLS, Transport.TCP).encode() == bytes.fromhex(
        "01fe9000000000021000"
    )


def test_response_round_trip() -> None:
    resp = SdpResponse(ADDR, 50000, Security.TLS, Transport.TCP)
    data = resp.encode()
    assert len(data) == 8 + 20
    assert SdpResponse.parse(data) == resp


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes.fromhex("01fe900000000002ff00"), "unknown SDP security value 0xff"),
        (bytes.fromhex("01fe900000000002 0077".replace(" ", "")), "unknown SDP transport"),
        (bytes.fromhex("01fe90000000000310000a"), "expected 2"),
        (bytes.fromhex("01fe900100000002 1000".replace(" ", "")), "unexpected payload type"),
        (bytes.fromhex("02fd9000000000021000"), "wrong protocol version"),
        (bytes.fromhex("01fe9000000000051000"), "does not match"),
    ],
)
def test_bad_requests(data: bytes, reason: str) -> None:
    with pytest.raises(SdpError, match=reason):
        SdpRequest.parse(data)


def test_response_with_port_zero_is_refused() -> None:
    data = SdpResponse(ADDR, 1, Security.TLS, Transport.TCP).encode()
    data = data[:8 + 16] + b"\x00\x00" + data[8 + 18 :]
    with pytest.raises(SdpError, match="port 0"):
        SdpResponse.parse(data)


def test_station_without_tls_answers_tls_request_with_no_tls() -> None:
    resp = answer(SdpRequest(Security.TLS, Transport.TCP), ADDR, None, 50001)
    assert resp == SdpResponse(ADDR, 50001, Security.NO_TLS, Transport.TCP)


def test_station_with_both_answers_what_was_asked() -> None:
    tls = answer(SdpRequest(Security.TLS, Transport.TCP), ADDR, 50000, 50001)
    plain = answer(SdpRequest(Security.NO_TLS, Transport.TCP), ADDR, 50000, 50001)
    assert (tls and tls.security, tls and tls.port) == (Security.TLS, 50000)
    assert (plain and plain.security, plain and plain.port) == (Security.NO_TLS, 50001)


def test_tls_only_station_answers_plain_request_with_tls() -> None:
    resp = answer(SdpRequest(Security.NO_TLS, Transport.TCP), ADDR, 50000, None)
    assert resp is not None and resp.security is Security.TLS


def test_udp_transport_gets_no_answer() -> None:
    assert answer(SdpRequest(Security.TLS, Transport.UDP), ADDR, 50000, 50001) is None


def test_client_resends_every_250ms_and_gives_up_after_50() -> None:
    c = SdpClient(Security.TLS)
    now = 100.0
    c.start(now)
    sends = []
    while not c.done:
        if c.datagram_to_send() is not None:
            sends.append(now)
        timer = c.get_timer()
        assert timer is not None
        c.handle_timer(timer - 0.001)  # early: nothing happens
        assert c.datagram_to_send() is None
        now = timer
        c.handle_timer(now)
    assert c.failed and c.response is None
    assert len(sends) == 50
    assert all(b - a >= 0.25 - 1e-9 for a, b in itertools.pairwise(sends))


def test_client_ignores_garbage_and_takes_a_valid_response() -> None:
    c = SdpClient(Security.NO_TLS)
    c.start(0.0)
    assert c.datagram_to_send() == SdpRequest(Security.NO_TLS, Transport.TCP).encode()
    assert c.receive_datagram(b"\x01\xfe\x90\x01junk", 0.1) is None
    assert c.ignored and not c.done
    resp = SdpResponse(ADDR, 50000, Security.NO_TLS, Transport.TCP)
    assert c.receive_datagram(resp.encode(), 0.2) == resp
    assert c.done and c.get_timer() is None
