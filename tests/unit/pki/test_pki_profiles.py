"""The generated PKI follows the ISO 15118 certificate profiles in ../shared/standards.md."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from josev.pki import create_pki


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_pki(tmp_path_factory.mktemp("pki"))


def cert(store: Path, profile: str, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((store / profile / f"{name}.pem").read_bytes())


@pytest.mark.parametrize(("profile", "curve", "hash_name"),
                         [("iso2", "secp256r1", "sha256"), ("iso20", "secp521r1", "sha512")])
def test_curves_and_hashes(store: Path, profile: str, curve: str, hash_name: str) -> None:
    for name in ("v2g_root", "cpo_sub_ca1", "cpo_sub_ca2", "secc", "contract", "oem_prov"):
        c = cert(store, profile, name)
        key = c.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == curve
        assert c.signature_hash_algorithm is not None
        assert c.signature_hash_algorithm.name == hash_name


@pytest.mark.parametrize("profile", ["iso2", "iso20"])
def test_cpo_chain_constraints(store: Path, profile: str) -> None:
    sub1 = cert(store, profile, "cpo_sub_ca1").extensions.get_extension_for_class(
        x509.BasicConstraints)
    sub2 = cert(store, profile, "cpo_sub_ca2").extensions.get_extension_for_class(
        x509.BasicConstraints)
    assert sub1.critical and sub1.value.ca and sub1.value.path_length == 1
    assert sub2.critical and sub2.value.ca and sub2.value.path_length == 0
    ku = cert(store, profile, "cpo_sub_ca2").extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.value.key_cert_sign and ku.value.crl_sign
    secc = cert(store, profile, "secc")
    ku = secc.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_agreement and not ku.key_cert_sign
    dc = secc.subject.get_attributes_for_oid(x509.oid.NameOID.DOMAIN_COMPONENT)
    assert dc[0].value == "CPO"


def test_contract_profile(store: Path) -> None:
    c = cert(store, "iso2", "contract")
    ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and ku.key_encipherment
    assert ku.key_agreement


def test_iso2_certificates_fit_800_bytes(store: Path) -> None:
    for pem in (store / "iso2").glob("*.pem"):
        if pem.name.endswith("_chain.pem"):
            continue
        der = x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(
            serialization.Encoding.DER)
        assert len(der) <= 800, pem.name


@pytest.mark.parametrize(("profile", "chain", "root"),
                         [("iso2", "secc_chain", "v2g_root"), ("iso20", "secc_chain", "v2g_root"),
                          ("iso20", "vehicle_chain", "oem_root")])
def test_chains_verify_with_openssl(store: Path, profile: str, chain: str, root: str) -> None:
    d = store / profile
    pems = (d / f"{chain}.pem").read_text().split("-----END CERTIFICATE-----")
    leaf = pems[0] + "-----END CERTIFICATE-----\n"
    (d / "leaf.tmp").write_text(leaf)
    (d / "untrusted.tmp").write_text("-----END CERTIFICATE-----".join(pems[1:]))
    res = subprocess.run(["openssl", "verify", "-CAfile", str(d / f"{root}.pem"),
                          "-untrusted", str(d / "untrusted.tmp"), str(d / "leaf.tmp")],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_keys_are_private(store: Path) -> None:
    assert ((store / "iso2" / "secc.key").stat().st_mode & 0o777) == 0o600
