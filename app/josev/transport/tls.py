"""TLS contexts for V2G communication, from the station's certificate store.

- DIN 70121 / ISO 15118-2: TLS 1.2 only, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, group
  secp256r1, server-only authentication (the SECC is the server).
- ISO 15118-20: TLS 1.3 only, TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256, groups
  secp521r1 and X448 (both offered), mutual authentication.

What Python 3.11's ssl module allows (OpenSSL 3): `set_ecdh_curve` sets exactly ONE group per
context, so the -20 contexts get their group list ("secp521r1:X448", both offered) through
`josev.transport.ossl.set_groups` (SSL_CTX_set1_groups_list via ctypes, pointer verified first;
if that route is unusable an ERROR is logged and the context offers secp521r1 alone).
`set_ciphers` only governs TLS <= 1.2, the TLS 1.3 suite list cannot be set, so
the server prefers its own order (AES-256-GCM first) and `check_session` refuses a session that
negotiated any other suite (TLS_AES_128_GCM_SHA256). The verify depth cannot be set either, so
`check_session` also enforces the chain length ([V2G2-007]: at most 3 non-root certificates).
Certificates are always verified (CERT_REQUIRED); host names are not (the SECC certificate
carries an SECC ID, not a DNS name).
"""

from __future__ import annotations

import enum
import logging
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path

from josev.transport import ossl

log = logging.getLogger(__name__)

TLS12_CIPHERS = "ECDHE-ECDSA-AES128-SHA256"
TLS12_GROUP = "prime256v1"
TLS13_SUITES = frozenset({"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"})
TLS13_GROUP = "secp521r1"
MAX_NON_ROOT_CERTS = 3


class TlsProfile(enum.Enum):
    TLS12 = "iso2"   # DIN 70121, ISO 15118-2
    TLS13 = "iso20"  # ISO 15118-20


class TlsPolicyError(ssl.SSLError):
    """A completed handshake that our policy refuses (chain too long, wrong suite)."""


TLS13_GROUPS = ("secp521r1", "X448")  # ISO 15118-20; OpenSSL's names, in our preference


@dataclass(frozen=True)
class ServerCredentials:
    chain: Path          # leaf first, then Sub-CA 2 and Sub-CA 1
    key: Path
    client_roots: Path | None = None  # set: mutual authentication (-20)
    group: str | None = None  # restrict TLS 1.3 to one of TLS13_GROUPS (None: offer both)


@dataclass(frozen=True)
class ClientCredentials:
    roots: Path                       # trust anchors for the SECC (V2G root)
    chain: Path | None = None         # the EV's own chain (-20)
    key: Path | None = None
    group: str | None = None          # restrict TLS 1.3 to one of TLS13_GROUPS (None: both)


@dataclass(frozen=True)
class TlsServerConfig:
    tls12: ServerCredentials | None = None
    tls13: ServerCredentials | None = None
    max_non_root_certs: int = MAX_NON_ROOT_CERTS

    @classmethod
    def from_store(cls, store: Path, tls12: bool = True, tls13: bool = True) -> TlsServerConfig:
        """Credentials from the store layout documented in josev.pki."""
        return cls(
            tls12=ServerCredentials(store / "iso2/secc_chain.pem", store / "iso2/secc.key")
            if tls12 else None,
            tls13=ServerCredentials(
                store / "iso20/secc_chain.pem", store / "iso20/secc.key",
                client_roots=store / "iso20/oem_root.pem",
            ) if tls13 else None,
        )


def client_credentials_from_store(store: Path, profile: TlsProfile) -> ClientCredentials:
    d = store / profile.value
    if profile is TlsProfile.TLS13:
        return ClientCredentials(d / "v2g_root.pem", d / "vehicle_chain.pem", d / "vehicle.key")
    return ClientCredentials(d / "v2g_root.pem")


def _set_tls13_groups(ctx: ssl.SSLContext, group: str | None) -> tuple[str, ...]:
    """Offer both -20 groups (or the one configured); returns what the context offers."""
    if group is not None:
        if group not in TLS13_GROUPS:
            raise ValueError(f"TLS 1.3 group {group!r} is not one of {', '.join(TLS13_GROUPS)}")
        ctx.set_ecdh_curve(group)
        return (group,)
    try:
        ossl.set_groups(ctx, TLS13_GROUPS)
        return TLS13_GROUPS
    except (ossl.OsslUnavailable, ssl.SSLError) as exc:
        log.error("TLS 1.3: cannot offer both ISO 15118-20 groups (%s); offering %s only: %s",
                  ":".join(TLS13_GROUPS), TLS13_GROUP, exc)
        ctx.set_ecdh_curve(TLS13_GROUP)
        return (TLS13_GROUP,)


def server_context(profile: TlsProfile, cred: ServerCredentials) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_TICKET
    if profile is TlsProfile.TLS12:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(TLS12_CIPHERS)
        ctx.set_ecdh_curve(TLS12_GROUP)
    else:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        _set_tls13_groups(ctx, cred.group)
    ctx.load_cert_chain(cred.chain, cred.key)
    if cred.client_roots is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=cred.client_roots)
    return ctx


def client_context(profile: TlsProfile, cred: ClientCredentials) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the SECC certificate names an SECC ID, not a host
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET
    if profile is TlsProfile.TLS12:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(TLS12_CIPHERS)
        ctx.set_ecdh_curve(TLS12_GROUP)
    else:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        _set_tls13_groups(ctx, cred.group)
    ctx.load_verify_locations(cafile=cred.roots)
    if cred.chain is not None:
        ctx.load_cert_chain(cred.chain, cred.key)
    return ctx


_group_unknown_logged = False


def session_group(sslobj: ssl.SSLObject) -> str | None:
    """The negotiated key-exchange group (OpenSSL's name), None if it cannot be read."""
    global _group_unknown_logged
    try:
        return ossl.negotiated_group(sslobj)
    except ossl.OsslUnavailable as exc:
        if not _group_unknown_logged:
            _group_unknown_logged = True
            log.error("TLS: cannot read negotiated key-exchange groups: %s", exc)
        return None


def check_session(sslobj: ssl.SSLObject, max_non_root_certs: int = MAX_NON_ROOT_CERTS) -> None:
    """Refuse what the handshake let through but the standard forbids."""
    version = sslobj.version()
    cipher = sslobj.cipher()
    if version == "TLSv1.3" and cipher is not None and cipher[0] not in TLS13_SUITES:
        raise TlsPolicyError(f"TLS 1.3 suite {cipher[0]} is not allowed by ISO 15118-20")
    if version == "TLSv1.3":
        group = session_group(sslobj)
        if group is not None and group not in TLS13_GROUPS:
            raise TlsPolicyError(f"TLS 1.3 group {group} is not allowed by ISO 15118-20")
    if sslobj.getpeercert(binary_form=True) is None:
        return
    # public from Python 3.13; the same method on the inner object before
    get_chain = getattr(sslobj, "get_verified_chain", None) or getattr(
        getattr(sslobj, "_sslobj", None), "get_verified_chain", None
    )
    if get_chain is None:
        raise TlsPolicyError("cannot read the verified chain to check its length")
    verified = get_chain()
    non_root = len(verified) - 1
    if non_root > max_non_root_certs:
        raise TlsPolicyError(
            f"peer certificate chain has {non_root} non-root certificates, "
            f"at most {max_non_root_certs} allowed"
        )


def describe_error(exc: BaseException) -> str:
    """One clear phrase for a handshake failure (the verify reason when there is one)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate refused: {exc.verify_message}"
    if isinstance(exc, TlsPolicyError):
        return f"refused by policy: {exc.args[0] if exc.args else exc}"
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or str(exc)).replace("_", " ").lower()
        return f"TLS error: {reason}"
    if isinstance(exc, TimeoutError) or (
        isinstance(exc, ConnectionAbortedError) and "handshake is taking longer" in str(exc)
    ):
        return "handshake timed out"
    return f"{type(exc).__name__}: {exc}"


# IANA TLS SupportedGroups code points (RFC 8446 4.2.7, RFC 7919) -> OpenSSL's names
GROUP_NAMES = {23: "prime256v1", 24: "secp384r1", 25: "secp521r1", 29: "X25519", 30: "X448",
               256: "ffdhe2048", 257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144",
               260: "ffdhe8192"}


def group_name(code: int) -> str:
    return GROUP_NAMES.get(code, f"0x{code:04x}")


@dataclass(frozen=True)
class ClientHelloInfo:
    max_version: int              # 0x0303 = TLS 1.2, 0x0304 = TLS 1.3
    groups: tuple[int, ...] = ()  # supported_groups, IANA code points, in the client's order

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(group_name(g) for g in self.groups)


def parse_client_hello(data: bytes) -> ClientHelloInfo | None:
    """What a ClientHello offers: the highest TLS version and the key-exchange groups.

    Returns None while more bytes are needed; raises ValueError for something that is not a
    TLS ClientHello. Used to pick the -2 or the -20 server context on a shared port, and to
    say which groups an EV offered when a -20 handshake finds none in common.
    """
    if len(data) < 5:
        return None
    ctype, _rec_version, length = struct.unpack_from(">BHH", data)
    if ctype != 0x16:
        raise ValueError(f"not a TLS handshake record (content type {ctype:#04x})")
    if len(data) < 5 + length:
        return None
    body = data[5 : 5 + length]
    try:
        if body[0] != 0x01:
            raise ValueError("first handshake message is not a ClientHello")
        pos = 4
        version = int.from_bytes(body[pos : pos + 2], "big")
        pos += 2 + 32
        pos += 1 + body[pos]                                   # session id
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
        pos += 1 + body[pos]                                   # compression methods
        if pos >= len(body):
            return ClientHelloInfo(version)
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        groups: tuple[int, ...] = ()
        while pos + 4 <= end:
            etype, elen = struct.unpack_from(">HH", body, pos)
            pos += 4
            if etype == 0x002B:  # supported_versions
                n = body[pos]
                versions = [
                    int.from_bytes(body[pos + 1 + i : pos + 3 + i], "big") for i in range(0, n, 2)
                ]
                known = [v for v in versions if 0x0300 <= v <= 0x0304]
                version = max(known) if known else version
            elif etype == 0x000A:  # supported_groups
                n = int.from_bytes(body[pos : pos + 2], "big")
                if n > elen - 2 or pos + 2 + n > len(body):
                    raise IndexError
                groups = struct.unpack_from(f">{n // 2}H", body, pos + 2)
            pos += elen
        return ClientHelloInfo(version, groups)
    except (IndexError, struct.error):
        raise ValueError("truncated ClientHello") from None


def client_hello_max_version(data: bytes) -> int | None:
    """Highest TLS version offered by a ClientHello (None while more bytes are needed)."""
    info = parse_client_hello(data)
    return None if info is None else info.max_version
