"""A real HTTP(S) upload server on loopback for the upload_logs tests, and a self-made CA."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Ca:
    cert: Path
    key: ec.EllipticCurvePrivateKey
    obj: x509.Certificate


def make_ca(directory: Path, name: str) -> Ca:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Ca(path, key, cert)


def server_cert(ca: Ca, directory: Path) -> tuple[Path, Path]:
    """A leaf for 127.0.0.1 (IP SAN, as the HAL checks the host name) signed by `ca`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.obj.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Upload:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class UploadServer:
    """Answers each upload with the next code of `codes` (the last one repeats); `stall`
    makes it read nothing and answer nothing until set (an upload that hangs)."""

    codes: list[int] = field(default_factory=lambda: [201])
    tls: tuple[Path, Path] | None = None
    uploads: list[Upload] = field(default_factory=list)
    attempts: int = 0
    stall: threading.Event | None = None
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}/upload/"

    def start(self) -> UploadServer:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _take(self) -> None:
                owner.attempts += 1
                if owner.stall is not None:
                    owner.stall.wait(60)
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                code = owner.codes[min(owner.attempts - 1, len(owner.codes) - 1)]
                if 200 <= code < 300:
                    owner.uploads.append(Upload(self.command, self.path,
                                                dict(self.headers.items()), body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = _take
            do_POST = _take

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.stall is not None:
            self.stall.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
