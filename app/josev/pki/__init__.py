"""Test and demo PKI for ISO 15118 (-2 and -20), and the station's certificate store layout.

`create_pki(dir)` writes complete hierarchies, profiled as in ISO 15118-2 Annex F / -20:
V2G root -> CPO Sub-CA 1 (pathlen 1) -> CPO Sub-CA 2 (pathlen 0) -> SECC leaf, plus the CPS,
MO (contract), OEM (provisioning) and, for -20, vehicle chains. For production, real
certificates are installed into the same layout (keys then live in the TPM; not here).

Store layout (default root /var/lib/josev/pki), one folder per certificate profile:

    iso2/   secp256r1 + ECDSA-SHA256: DIN 70121 and ISO 15118-2 (TLS 1.2, server-only auth)
    iso20/  secp521r1 + ECDSA-SHA512: ISO 15118-20 (TLS 1.3, mutual auth)

    <profile>/secc_chain.pem   SECC leaf, CPO Sub-CA 2, CPO Sub-CA 1 (what the TLS server sends)
    <profile>/secc.key         its private key (PKCS#8 PEM, mode 0600)
    <profile>/v2g_root.pem     trust anchor an EV uses to verify the SECC
    <profile>/oem_root.pem     trust anchor the SECC uses to verify -20 vehicle certificates
    <profile>/vehicle_chain.pem, vehicle.key   the EV's TLS client chain (-20; simulator side)
    <profile>/<name>.pem, <name>.key           every other certificate of the hierarchy
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEFAULT_STORE = Path("/var/lib/josev/pki")
Profile = Literal["iso2", "iso20"]
PROFILES: tuple[Profile, ...] = ("iso2", "iso20")

_CURVES: dict[Profile, ec.EllipticCurve] = {"iso2": ec.SECP256R1(), "iso20": ec.SECP521R1()}
_HASHES: dict[Profile, hashes.SHA256 | hashes.SHA512] = {
    "iso2": hashes.SHA256(),
    "iso20": hashes.SHA512(),
}


@dataclass(frozen=True)
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(cn: str, org: str, dc: str | None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
    ]
    if dc:
        attrs.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc))
    return x509.Name(attrs)


_LEAF_USAGE = {
    # SECC, vehicle, OEM provisioning, CPS: signatures and ECDH
    "leaf": dict(digital_signature=True, key_agreement=True),
    # contract certificate (ISO 15118-2 Table F.3)
    "contract": dict(
        digital_signature=True, content_commitment=True, key_encipherment=True, key_agreement=True
    ),
}


def issue(
    cn: str,
    profile: Profile,
    issuer: Issued | None,
    *,
    ca: bool,
    pathlen: int | None = None,
    dc: str | None = None,
    org: str = "Josev Test",
    usage: str = "leaf",
    not_before: dt.datetime | None = None,
    days: int = 365,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Issued:
    """One certificate; issuer None makes a self-signed root."""
    key = key or ec.generate_private_key(_CURVES[profile])
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    subject = _name(cn, org, dc)
    ku = dict(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )
    if ca:
        ku.update(key_cert_sign=True, crl_sign=True)
    else:
        ku.update(_LEAF_USAGE[usage])
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen if ca else None), True)
        .add_extension(x509.KeyUsage(**ku), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False
        )
    )
    return Issued(builder.sign(signer_key, _HASHES[profile]), key)


def chain(profile: Profile, cns: Sequence[str], dc: str, *, leaf_usage: str = "leaf",
          root: Issued | None = None, leaf_days: int = 365,
          leaf_not_before: dt.datetime | None = None) -> list[Issued]:
    """root -> Sub-CA 1 (pathlen 1) -> Sub-CA 2 (pathlen 0) -> leaf; returns [root, ..., leaf].

    With more than four names the extra CAs carry no path length (for over-long-chain tests).
    """
    root = root or issue(cns[0], profile, None, ca=True, pathlen=None, dc=dc, days=3650)
    out = [root]
    n_sub = len(cns) - 2
    for i, cn in enumerate(cns[1:-1]):
        pathlen = n_sub - 1 - i if n_sub <= 2 else None
        out.append(issue(cn, profile, out[-1], ca=True, pathlen=pathlen, dc=dc, days=1825))
    out.append(
        issue(cns[-1], profile, out[-1], ca=False, dc=dc, usage=leaf_usage, days=leaf_days,
              not_before=leaf_not_before)
    )
    return out


def write(directory: Path, name: str, item: Issued) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.pem").write_bytes(item.cert_pem())
    key_path = directory / f"{name}.key"
    key_path.write_bytes(item.key_pem())
    os.chmod(key_path, 0o600)


def write_chain(path: Path, leaf_first: Sequence[Issued]) -> None:
    """A PEM chain file: leaf first, then its issuers up to (not including) the root."""
    path.write_bytes(b"".join(i.cert_pem() for i in leaf_first))


def create_profile(directory: Path, profile: Profile) -> dict[str, Issued]:
    """Every hierarchy of one profile, written to directory/profile."""
    d = directory / profile
    v2g = chain(profile, ["V2G Root CA", "CPO Sub-CA 1", "CPO Sub-CA 2", "SECC-DE*JOS*E1"], "CPO")
    cps = chain(profile, ["V2G Root CA", "CPS Sub-CA 1", "CPS Sub-CA 2", "CPS Leaf"], "CPS",
                root=v2g[0])
    mo = chain(profile, ["MO Root CA", "MO Sub-CA 1", "MO Sub-CA 2", "DEJOSC00000001"], "MO",
               leaf_usage="contract")
    oem = chain(profile, ["OEM Root CA", "OEM Sub-CA 1", "OEM Sub-CA 2", "JOSEVPCID00000001"],
                "OEM")
    items = {
        "v2g_root": v2g[0], "cpo_sub_ca1": v2g[1], "cpo_sub_ca2": v2g[2], "secc": v2g[3],
        "cps_sub_ca1": cps[1], "cps_sub_ca2": cps[2], "cps_leaf": cps[3],
        "mo_root": mo[0], "mo_sub_ca1": mo[1], "mo_sub_ca2": mo[2], "contract": mo[3],
        "oem_root": oem[0], "oem_sub_ca1": oem[1], "oem_sub_ca2": oem[2], "oem_prov": oem[3],
    }
    for name, item in items.items():
        write(d, name, item)
    write_chain(d / "secc_chain.pem", [v2g[3], v2g[2], v2g[1]])
    write_chain(d / "contract_chain.pem", [mo[3], mo[2], mo[1]])
    if profile == "iso20":
        veh = chain(profile, ["OEM Root CA", "Vehicle Sub-CA 1", "Vehicle Sub-CA 2",
                              "WJOSEV0000000001"], "OEM", root=oem[0])
        items.update(vehicle_sub_ca1=veh[1], vehicle_sub_ca2=veh[2], vehicle=veh[3])
        for name in ("vehicle_sub_ca1", "vehicle_sub_ca2", "vehicle"):
            write(d, name, items[name])
        write_chain(d / "vehicle_chain.pem", [veh[3], veh[2], veh[1]])
    return items


def create_pki(directory: Path | str, profiles: Sequence[Profile] = PROFILES) -> Path:
    """Write a complete test PKI; returns the directory (use it as the station store)."""
    directory = Path(directory)
    for profile in profiles:
        create_profile(directory, profile)
    return directory


def load(directory: Path | str, name: str) -> Issued:
    """A certificate and key written by `write` (to issue more certificates under it)."""
    d = Path(directory)
    cert = x509.load_pem_x509_certificate((d / f"{name}.pem").read_bytes())
    key = serialization.load_pem_private_key((d / f"{name}.key").read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{name}.key is not an EC key")
    return Issued(cert, key)
