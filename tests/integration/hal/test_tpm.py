"""generate_csr against swtpm + tpm2-abrmd: keys inside the TPM, usable by OpenSSL's provider."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from josev.api import models
from josev_hal.config import ConfigError, HalConfig
from josev_hal.devices import build
from josev_hal.service import HalService
from josev_hal.tpm.base import Subject
from josev_hal.tpm.file import FileKeyStore
from josev_hal.tpm.tpm2 import TpmKeyStore
from tests.broker import Broker
from tests.integration.hal.conftest import hal_config, running_hal, wait_for
from tests.integration.hal.softtpm import SoftTpm


@pytest.fixture(scope="module")
def softtpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftTpm]:
    tpm = SoftTpm(tmp_path_factory.mktemp("swtpm"))
    try:
        tpm.start()
        yield tpm
    finally:
        tpm.stop()


@pytest.mark.parametrize(("cert_type", "curve"), [
    ("charging_station_certificate", "secp256r1"),
    ("v2g_certificate", "secp256r1"),
    ("v2g20_certificate", "secp521r1"),
])
def test_csr_from_the_tpm_and_openssl_uses_the_key(
    softtpm: SoftTpm, tmp_path: Path, cert_type: str, curve: str
) -> None:
    store = TpmKeyStore(tmp_path / "keys", softtpm.tcti)
    pem = store.generate_csr(cert_type, Subject("SECC01", "Josev", "DE", "CPO"), None)  # type: ignore[arg-type]
    csr = x509.load_pem_x509_csr(pem.encode())
    assert csr.is_signature_valid
    pub = csr.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == curve
    key_file = store.pending_path(cert_type)  # type: ignore[arg-type]
    assert key_file.read_text().startswith("-----BEGIN TSS2 PRIVATE KEY-----")
    assert key_file.stat().st_mode & 0o777 == 0o600
    # OpenSSL's tpm2 provider signs with the key file; the CSR's public key verifies it.
    message = tmp_path / "m"
    message.write_bytes(b"josev tpm check")
    digest = "-sha512" if curve == "secp521r1" else "-sha256"
    subprocess.run(["openssl", "dgst", digest, "-provider", "tpm2", "-provider", "default",
                    "-propquery", "?provider=tpm2", "-sign", str(key_file),
                    "-out", str(tmp_path / "sig"), str(message)],
                   env=softtpm.env(), check=True, capture_output=True)
    (tmp_path / "pub.pem").write_bytes(pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    verify = subprocess.run(["openssl", "dgst", digest, "-verify", str(tmp_path / "pub.pem"),
                             "-signature", str(tmp_path / "sig"), str(message)],
                            capture_output=True, text=True)
    assert verify.stdout.strip() == "Verified OK"


async def test_generate_csr_over_the_api(softtpm: SoftTpm, mosquitto: Broker,
                                         tmp_path: Path) -> None:
    cfg = hal_config(mosquitto, tmp_path)
    cfg = cfg.model_copy(update={"tpm": cfg.tpm.model_copy(
        update={"backend": "tpm", "tcti": softtpm.tcti})})
    service = HalService(cfg)
    assert isinstance(service.built.keystore, TpmKeyStore)
    async with running_hal(service, mosquitto) as hal:
        resp = await hal.josev.request("generate_csr", models.GenerateCsrRequest(
            certificate_type="v2g20_certificate", common_name="SECC01",
            organization_name="Josev", country_name="DE"), timeout=30)
        assert resp.status == "accepted" and resp.csr
        await hal.josev.update("certificate_installation_status",
                               models.CertificateInstallationStatusUpdate(
                                   certificate_type="v2g20_certificate", status="installed"))
        active = cfg.tpm.key_dir / "v2g20_certificate.key"
        await wait_for(active.exists, "key promoted on installed")
        rejected = await hal.josev.request("generate_csr", models.GenerateCsrRequest(
            certificate_type="v2g_certificate", common_name="SECC01",
            organization_name="Josev", country_name="DE", algorithm="RSA_SHA256"))
        assert rejected.status == "rejected"  # ISO 15118-2 needs P-256


def test_file_fallback_is_logged_and_can_be_forbidden(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = "swtpm:host=127.0.0.1,port=1"  # nothing listens there
    cfg = HalConfig.model_validate({"tpm": {"backend": "auto", "tcti": broken,
                                            "key_dir": str(tmp_path)}})
    with caplog.at_level(logging.WARNING):
        built = build(cfg)
    assert isinstance(built.keystore, FileKeyStore)
    assert "FILE KEY STORE" in caplog.text
    strict = HalConfig.model_validate({"tpm": {"backend": "auto", "tcti": broken,
                                               "allow_file_fallback": False,
                                               "key_dir": str(tmp_path)}})
    with pytest.raises(ConfigError, match="fallback forbidden"):
        build(strict)
