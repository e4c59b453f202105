"""Key store for the station's certificates: keys made inside the TPM, or a logged file fallback."""

from josev_hal.tpm.base import CsrError, KeyStore, key_spec

__all__ = ["CsrError", "KeyStore", "key_spec"]
