"""The file fallback: keys as PEM files (mode 0600). For stations without a TPM, and logged so."""

from __future__ import annotations

import logging
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from josev_hal.tpm.base import Algorithm, CertificateType, KeySpec, KeyStore, Subject, key_spec

log = logging.getLogger(__name__)

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


def subject_name(subject: Subject) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COMMON_NAME, subject.common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject.organization_name),
        x509.NameAttribute(NameOID.COUNTRY_NAME, subject.country_name),
    ]
    if subject.domain_component:
        attrs.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, subject.domain_component))
    return x509.Name(attrs)


class FileKeyStore(KeyStore):
    def generate_csr(self, cert_type: CertificateType, subject: Subject,
                     algorithm: Algorithm | None) -> str:
        spec = key_spec(cert_type, algorithm)
        log.warning("no TPM: %s key is generated in software and stored as a file in %s",
                    cert_type, self.key_dir)
        key = _new_key(spec)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject_name(subject))
            .sign(key, _HASHES[spec.hash]())
        )
        self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.pending_path(cert_type)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return csr.public_bytes(serialization.Encoding.PEM).decode()


def _new_key(spec: KeySpec) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if spec.kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.rsa_bits)
    curve: ec.EllipticCurve = ec.SECP256R1() if spec.curve == "secp256r1" else ec.SECP521R1()
    return ec.generate_private_key(curve)
