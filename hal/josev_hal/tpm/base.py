"""The key-store interface and the rules that pick a curve and hash per certificate type.

ISO 15118-2 and the OCPP charging-station certificate use secp256r1 with ECDSA-SHA256;
ISO 15118-20 uses secp521r1 with ECDSA-SHA512 (../shared/standards.md, "Certificates").
A pending key waits for `certificate_installation_status`: installed promotes it, a failed
installation discards it, deleted removes the active key.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

CertificateType = Literal["charging_station_certificate", "v2g_certificate", "v2g20_certificate"]
Algorithm = Literal["ECDSA_SHA256", "ECDSA_SHA512", "RSA_SHA256", "RSA_SHA384"]


class CsrError(Exception):
    """The CSR cannot be made (unsupported algorithm, TPM failure, fallback forbidden)."""


@dataclass(frozen=True, slots=True)
class KeySpec:
    kind: Literal["ec", "rsa"]
    curve: Literal["secp256r1", "secp521r1"] | None
    hash: Literal["sha256", "sha384", "sha512"]
    rsa_bits: int = 0


def key_spec(cert_type: CertificateType, algorithm: Algorithm | None) -> KeySpec:
    """The key and signature a certificate type needs; refuses combinations the PKI forbids."""
    if cert_type == "v2g20_certificate":
        if algorithm not in (None, "ECDSA_SHA512"):
            raise CsrError("v2g20_certificate needs ECDSA_SHA512 on secp521r1")
        return KeySpec("ec", "secp521r1", "sha512")
    if cert_type == "v2g_certificate":
        if algorithm not in (None, "ECDSA_SHA256"):
            raise CsrError("v2g_certificate (ISO 15118-2) needs ECDSA_SHA256 on secp256r1")
        return KeySpec("ec", "secp256r1", "sha256")
    match algorithm:
        case None | "ECDSA_SHA256":
            return KeySpec("ec", "secp256r1", "sha256")
        case "ECDSA_SHA512":
            return KeySpec("ec", "secp521r1", "sha512")
        case "RSA_SHA256":
            return KeySpec("rsa", None, "sha256", 2048)
        case "RSA_SHA384":
            return KeySpec("rsa", None, "sha384", 3072)
    raise CsrError(f"unsupported algorithm {algorithm}")


@dataclass(frozen=True, slots=True)
class Subject:
    common_name: str
    organization_name: str
    country_name: str
    domain_component: str | None = None  # "CPO" for SECC leaves (ISO 15118 leaf profile)


class KeyStore(abc.ABC):
    """Makes key pairs, returns CSRs, keeps key files under `key_dir`."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir

    def pending_path(self, cert_type: CertificateType) -> Path:
        return self.key_dir / f"{cert_type}.pending.key"

    def active_path(self, cert_type: CertificateType) -> Path:
        return self.key_dir / f"{cert_type}.key"

    @abc.abstractmethod
    def generate_csr(self, cert_type: CertificateType, subject: Subject,
                     algorithm: Algorithm | None) -> str:
        """Make a new key pair (pending until installed) and return the CSR as PEM."""

    def installation_status(
        self, cert_type: CertificateType,
        status: Literal["installed", "deleted", "failed_installation"],
    ) -> Path | None:
        """Apply a certificate_installation_status update; returns the active key path."""
        pending, active = self.pending_path(cert_type), self.active_path(cert_type)
        if status == "installed":
            if not pending.exists():
                log.warning("%s installed but no pending key: keeping %s", cert_type, active)
                return active if active.exists() else None
            pending.replace(active)
            log.info("%s installed: key %s is now active", cert_type, active)
            return active
        if status == "failed_installation":
            pending.unlink(missing_ok=True)
            log.warning("%s installation failed: pending key discarded", cert_type)
            return active if active.exists() else None
        active.unlink(missing_ok=True)
        log.info("%s deleted: key %s removed", cert_type, active)
        return None
