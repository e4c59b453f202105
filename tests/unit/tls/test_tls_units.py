"""TLS helpers without sockets: ClientHello version sniffing, contexts, error phrasing."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from josev.pki import create_pki
from josev.transport.tls import (
    TLS13_SUITES,
    TlsPolicyError,
    TlsProfile,
    TlsServerConfig,
    client_context,
    client_credentials_from_store,
    client_hello_max_version,
    describe_error,
    server_context,
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
    creds = client_credentials_from_store(store, TlsProfile.TLS13)  # secp521r1 only
    with pytest.raises(ssl.SSLError):
        handshake(client_context(TlsProfile.TLS13, creds), server)


def test_unknown_tls13_group_is_refused(store: Path) -> None:
    from dataclasses import replace

    creds = replace(client_credentials_from_store(store, TlsProfile.TLS13), group="prime256v1")
    with pytest.raises(ValueError, match="not one of secp521r1, X448"):
        client_context(TlsProfile.TLS13, creds)
