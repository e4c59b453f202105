"""TLS helpers without sockets: ClientHello version sniffing, contexts, error phrasing."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest

from josev.pki import create_pki
from josev.transport.tls import (
    TLS13_GROUPS,
    TLS13_SUITES,
    TlsPolicyError,
    TlsProfile,
    TlsServerConfig,
    check_session,
    client_context,
    client_credentials_from_store,
    client_hello_max_version,
    describe_error,
    parse_client_hello,
    server_context,
    session_group,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_pki(tmp_path_factory.mktemp("pki"))


def hello_from(ctx: ssl.SSLContext) -> bytes:
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=None)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


@pytest.mark.parametrize(("profile", "version"), [(TlsProfile.TLS12, 0x0303),
                                                  (TlsProfile.TLS13, 0x0304)])
def test_client_hello_version(store: Path, profile: TlsProfile, version: int) -> None:
    hello = hello_from(client_context(profile, client_credentials_from_store(store, profile)))
    assert client_hello_max_version(hello) == version
    assert client_hello_max_version(hello[:4]) is None
    assert client_hello_max_version(hello[: len(hello) // 2]) is None


@pytest.mark.parametrize("data", [b"\x17\x03\x03\x00\x05hello", b"GET / HTTP/1.1\r\n\r\n"])
def test_not_a_client_hello(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a TLS handshake record"):
        client_hello_max_version(data)


def test_truncated_client_hello_body() -> None:
    with pytest.raises(ValueError, match="truncated"):
        client_hello_max_version(b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03")


def test_server_contexts_follow_the_profiles(store: Path) -> None:
    cfg = TlsServerConfig.from_store(store)
    assert cfg.tls12 is not None and cfg.tls13 is not None
    c12 = server_context(TlsProfile.TLS12, cfg.tls12)
    assert c12.maximum_version == ssl.TLSVersion.TLSv1_2
    tls12_names = {c["name"] for c in c12.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12_names == {"ECDHE-ECDSA-AES128-SHA256"}
    assert c12.verify_mode == ssl.CERT_NONE  # -2: server-only authentication
    c13 = server_context(TlsProfile.TLS13, cfg.tls13)
    assert c13.minimum_version == ssl.TLSVersion.TLSv1_3
    assert c13.verify_mode == ssl.CERT_REQUIRED  # -20: mutual
    assert TLS13_SUITES <= {c["name"] for c in c13.get_ciphers()}


def test_error_phrases() -> None:
    assert describe_error(TimeoutError()) == "handshake timed out"
    assert describe_error(ConnectionAbortedError(
        "SSL handshake is taking longer than 1.0 seconds: aborting")) == "handshake timed out"
    assert "too long" in describe_error(TlsPolicyError("too long"))
    err = ssl.SSLCertVerificationError(1, "x")
    err.verify_message = "certificate has expired"
    assert describe_error(err) == "certificate refused: certificate has expired"


def handshake(
    client: ssl.SSLContext, server: ssl.SSLContext
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """A whole TLS handshake in memory (no sockets): pump bytes between two BIO pairs."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname=None)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, obj in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return c, s
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("group", ["secp521r1", "X448"])
def test_tls13_mutual_handshake_with_each_iso20_group(store: Path, group: str) -> None:
    from dataclasses import replace

    cfg = TlsServerConfig.from_store(store)
    assert cfg.tls13 is not None
    server = server_context(TlsProfile.TLS13, replace(cfg.tls13, group=group))
    creds = replace(client_credentials_from_store(store, TlsProfile.TLS13), group=group)
    c, s = handshake(client_context(TlsProfile.TLS13, creds), server)
    assert c.version() == "TLSv1.3" and c.cipher()[0] == "TLS_AES_256_GCM_SHA384"  # type: ignore[index]
    assert s.getpeercert(binary_form=True) is not None  # the server saw the vehicle cert


def test_tls13_group_mismatch_fails(store: Path) -> None:
    from dataclasses import replace

    cfg = TlsServerConfig.from_store(store)
    assert cfg.tls13 is not None
    server = server_context(TlsProfile.TLS13, replace(cfg.tls13, group="X448"))
    creds = replace(client_credentials_from_store(store, TlsProfile.TLS13), group="secp521r1")
    with pytest.raises(ssl.SSLError, match="NO_SUITABLE_KEY_SHARE"):
        handshake(client_context(TlsProfile.TLS13, creds), server)


@pytest.mark.parametrize("group", ["secp521r1", "X448"])
def test_default_iso20_contexts_offer_both_groups(store: Path, group: str) -> None:
    """Our EV (default: both groups) meets a server limited to one, and our server (default:
    both) meets a client limited to one; the group used is the one both allow."""
    from dataclasses import replace

    cfg = TlsServerConfig.from_store(store)
    assert cfg.tls13 is not None
    ev = client_credentials_from_store(store, TlsProfile.TLS13)
    c, s = handshake(client_context(TlsProfile.TLS13, ev),
                     server_context(TlsProfile.TLS13, replace(cfg.tls13, group=group)))
    assert session_group(c) == session_group(s) == group
    c, s = handshake(client_context(TlsProfile.TLS13, replace(ev, group=group)),
                     server_context(TlsProfile.TLS13, cfg.tls13))
    assert session_group(c) == session_group(s) == group
    hello = hello_from(client_context(TlsProfile.TLS13, ev))
    info = parse_client_hello(hello)
    assert info is not None and info.group_names == TLS13_GROUPS


def test_tls12_contexts_keep_secp256r1_only(store: Path) -> None:
    creds = client_credentials_from_store(store, TlsProfile.TLS12)
    info = parse_client_hello(hello_from(client_context(TlsProfile.TLS12, creds)))
    assert info is not None and info.max_version == 0x0303
    assert info.group_names == ("prime256v1",)


def test_check_session_refuses_a_tls13_group_outside_iso20(store: Path) -> None:
    """Contexts that are not ours (plain ssl, P-256) complete TLS 1.3; our policy refuses it."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    server.set_ecdh_curve("prime256v1")
    server.load_cert_chain(store / "iso20/secc_chain.pem", store / "iso20/secc.key")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.load_verify_locations(store / "iso20/v2g_root.pem")
    client.set_ecdh_curve("prime256v1")
    c, _ = handshake(client, server)
    assert c.version() == "TLSv1.3" and session_group(c) == "prime256v1"
    with pytest.raises(TlsPolicyError, match="group prime256v1 is not allowed"):
        check_session(c)


def test_group_route_unusable_is_loud_and_keeps_secp521r1(
    store: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """If the ctypes route cannot be verified (another interpreter, another layout), the
    context still works with secp521r1, and an ERROR says so. (The failure is simulated:
    it cannot happen on this CPython.)"""
    from josev.transport import ossl

    def unusable(ctx: ssl.SSLContext, groups: object) -> None:
        raise ossl.OsslUnavailable("SSL_CTX options do not match SSLContext.options")

    monkeypatch.setattr(ossl, "set_groups", unusable)
    cfg = TlsServerConfig.from_store(store)
    assert cfg.tls13 is not None
    with caplog.at_level(logging.ERROR, logger="josev.transport.tls"):
        server = server_context(TlsProfile.TLS13, cfg.tls13)
    assert "cannot offer both ISO 15118-20 groups (secp521r1:X448); offering secp521r1 only" \
        in caplog.text
    c, _ = handshake(client_context(TlsProfile.TLS13,
                                    client_credentials_from_store(store, TlsProfile.TLS13)),
                     server)
    assert session_group(c) == "secp521r1"


def test_ossl_pointer_checks() -> None:
    from josev.transport import ossl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    before = ctx.options
    assert ossl.ssl_ctx_pointer(ctx) != 0
    assert ctx.options == before  # the probe flips an option and restores it
    with pytest.raises(ossl.OsslUnavailable, match="smaller than expected"):
        ossl.ssl_ctx_pointer(object())  # type: ignore[arg-type]
    with pytest.raises(ssl.SSLError, match="refused the group list"):
        ossl.set_groups(ctx, ["no-such-group"])


def test_client_hello_groups_parsed_and_truncation_refused() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ecdh_curve("secp384r1")
    hello = hello_from(ctx)
    info = parse_client_hello(hello)
    assert info is not None and info.groups == (24,) and info.max_version == 0x0304
    ext = hello.find(b"\x00\x0a\x00\x04\x00\x02\x00\x18")  # supported_groups: secp384r1
    assert ext > 0
    bad = bytearray(hello)
    bad[ext + 4 : ext + 6] = b"\x00\x40"  # a list longer than the extension
    with pytest.raises(ValueError, match="truncated"):
        parse_client_hello(bytes(bad))


def test_unknown_tls13_group_is_refused(store: Path) -> None:
    from dataclasses import replace

    creds = replace(client_credentials_from_store(store, TlsProfile.TLS13), group="prime256v1")
    with pytest.raises(ValueError, match="not one of secp521r1, X448"):
        client_context(TlsProfile.TLS13, creds)
