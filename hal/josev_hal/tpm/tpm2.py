"""The TPM key store (tpm2-pytss): key pairs made inside the TPM, CSRs signed by the TPM.

Keys are created under the TPM's standard storage primary (the owner-hierarchy ECC SRK at
the well-known handle 0x40000001, as the TSS2 key-file convention expects) and written as
"TSS2 PRIVATE KEY" PEM files: the private part is wrapped by the TPM and useless without it,
and OpenSSL's tpm2 provider loads these files for TLS directly. The CSR is built with
`cryptography` and signed through tpm2-pytss's key adapter, so the private key never leaves
the TPM. TCTI: None = the library default (the resource manager, or /dev/tpmrm0).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from tpm2_pytss import ESAPI, TCTILdr
from tpm2_pytss.constants import TPM2_ECC
from tpm2_pytss.cryptography import tpm_ecc_private_key, tpm_rsa_private_key
from tpm2_pytss.tsskey import TSSPrivKey

from josev_hal.config import TpmConfig
from josev_hal.tpm.base import Algorithm, CertificateType, CsrError, KeyStore, Subject, key_spec
from josev_hal.tpm.file import subject_name

log = logging.getLogger(__name__)

_HASH: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


def open_tcti(spec: str | None) -> TCTILdr | None:
    if spec is None:
        return None
    name, _, conf = spec.partition(":")
    return TCTILdr(name, conf or None)


class TpmKeyStore(KeyStore):
    def __init__(self, key_dir: Path, tcti: str | None) -> None:
        super().__init__(key_dir)
        self.tcti = tcti
        self._tcti = open_tcti(tcti)
        self.ectx = ESAPI(self._tcti)
        self.ectx.get_random(8)  # fails here, at start, when no TPM answers
        self._lock = threading.Lock()
        log.info("TPM key store ready (TCTI %s), keys in %s", tcti or "default", key_dir)

    @classmethod
    def from_config(cls, cfg: TpmConfig) -> TpmKeyStore:
        return cls(cfg.key_dir, cfg.tcti)

    def generate_csr(self, cert_type: CertificateType, subject: Subject,
                     algorithm: Algorithm | None) -> str:
        spec = key_spec(cert_type, algorithm)
        with self._lock:
            try:
                if spec.kind == "ec":
                    curve = TPM2_ECC.NIST_P256 if spec.curve == "secp256r1" else TPM2_ECC.NIST_P521
                    key = TSSPrivKey.create_ecc(self.ectx, curveID=curve)
                else:
                    key = TSSPrivKey.create_rsa(self.ectx, keyBits=spec.rsa_bits)
                handle = key.load(self.ectx)
                try:
                    signer: Any = (tpm_ecc_private_key(self.ectx, handle) if spec.kind == "ec"
                                   else tpm_rsa_private_key(self.ectx, handle))
                    csr = (x509.CertificateSigningRequestBuilder()
                           .subject_name(subject_name(subject))
                           .sign(signer, _HASH[spec.hash]()))
                finally:
                    self.ectx.flush_context(handle)
            except Exception as exc:  # TSS2_Exception and friends: report, do not crash
                raise CsrError(f"TPM could not make the {cert_type} key: {exc}") from exc
            self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.pending_path(cert_type)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key.to_pem())
        return csr.public_bytes(serialization.Encoding.PEM).decode()
