"""upload_logs on a real broker, to a real HTTP(S) server on loopback (a self-made CA), with a
real journal (written by systemd-journal-remote, read by journalctl)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from josev.api import models
from josev_hal.service import HalService
from tests.broker import Broker
from tests.integration.hal.conftest import Running, hal_config, running_hal, wait_for
from tests.integration.hal.uploadserver import UploadServer, make_ca, server_cert

JOURNAL_REMOTE = Path("/lib/systemd/systemd-journal-remote")


@pytest.fixture
def servers() -> Iterator[list[UploadServer]]:
    made: list[UploadServer] = []
    yield made
    for s in made:
        s.stop()


def _serve(made: list[UploadServer], **kw: Any) -> UploadServer:
    server = UploadServer(**kw).start()
    made.append(server)
    return server


def _request(request_id: int, url: str, **kw: Any) -> models.UploadLogsRequest:
    return models.UploadLogsRequest(request_id=request_id, log_type="DiagnosticsLog",
                                    remote_location=url, **kw)


def _statuses(hal: Running, request_id: int) -> list[str]:
    return [u.status for u in hal.seen("log_status") if u.request_id == request_id]


async def _final(hal: Running, request_id: int) -> str:
    done = {"Uploaded", "UploadFailure", "PermissionDenied", "NotSupportedOperation",
            "BadMessage"}
    await wait_for(lambda: any(s in done for s in _statuses(hal, request_id)),
                   f"final log_status of {request_id}", timeout=30)
    return [s for s in _statuses(hal, request_id) if s in done][-1]


def _members(body: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        out = {}
        for m in tar.getmembers():
            f = tar.extractfile(m)
            out[m.name] = f.read() if f is not None else b""
        return out


def _write_journal(directory: Path, entries: list[tuple[str, str, float]]) -> None:
    """A real journal file: export format through systemd-journal-remote."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (unit, message, when) in enumerate(entries):
        us = int(when * 1e6)
        lines.append(
            f"__CURSOR=s=0;i={i + 1}\n__REALTIME_TIMESTAMP={us}\n__MONOTONIC_TIMESTAMP={us}\n"
            f"_BOOT_ID=0123456789abcdef0123456789abcdef\nMESSAGE={message}\n"
            f"_SYSTEMD_UNIT={unit}.service\nSYSLOG_IDENTIFIER={unit}\nPRIORITY=6\n"
            f"_HOSTNAME=station\n\n")
    subprocess.run([str(JOURNAL_REMOTE), "-o", str(directory / "test.journal"), "-"],
                   input="".join(lines).encode(), check=True, capture_output=True, timeout=30)


async def test_https_upload_with_journal_files_and_window(
    mosquitto: Broker, tmp_path: Path, servers: list[UploadServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="josev_hal")  # as `josev-hal run` logs
    ca = make_ca(tmp_path / "pki", "test-log-ca")
    server = _serve(servers, tls=server_cert(ca, tmp_path / "pki"))
    now = time.time()
    _write_journal(tmp_path / "journal", [  # in time order, as journald writes
        ("josev-hal", "hal journal line before the window", now - 7200),
        ("josev-hal", "hal journal line in the window", now - 60),
        ("josev-iso15118", "iso15118 journal line in the window", now - 30),
        ("sshd", "a unit that is not ours", now - 20),
    ])
    varlog = tmp_path / "varlog"
    (varlog / "sub").mkdir(parents=True)
    (varlog / "josev-ocpp.log").write_text("ocpp file line\n")
    (varlog / "sub" / "meter.log").write_text("meter file line\n")
    stale = varlog / "old.log"
    stale.write_text("older than the window\n")
    os.utime(stale, (now - 7200, now - 7200))
    cfg = hal_config(mosquitto, tmp_path, logs={
        "data_dir": str(tmp_path / "archives"), "log_dir": str(varlog),
        "journal_directory": str(tmp_path / "journal"), "ca_file": str(ca.cert)})
    async with running_hal(HalService(cfg), mosquitto) as hal:
        logging.getLogger("josev_hal").info("a record of the HAL itself")
        oldest = dt.datetime.fromtimestamp(now - 600, dt.UTC)
        resp = await hal.josev.request("upload_logs", _request(
            7, server.url, oldest_timestamp=oldest, retries=0))
        assert resp.status == "accepted"
        assert resp.filename is not None and resp.filename.endswith(".tar.gz")
        assert await _final(hal, 7) == "Uploaded"
        assert _statuses(hal, 7) == ["Uploading", "Uploaded"]
    [up] = server.uploads
    assert up.method == "PUT" and up.path == f"/upload/{resp.filename}"
    assert up.headers["Content-Type"] == "application/gzip"
    files = _members(up.body)
    journal = files["journal.txt"].decode()
    assert "hal journal line in the window" in journal
    assert "iso15118 journal line in the window" in journal
    assert "not ours" not in journal
    assert "before the window" not in journal
    assert files["files/josev-ocpp.log"] == b"ocpp file line\n"
    assert files["files/sub/meter.log"] == b"meter file line\n"
    assert "files/old.log" not in files
    assert b"a record of the HAL itself" in files["josev-hal.log"]
    manifest = files["MANIFEST.txt"].decode()
    assert "request_id: 7" in manifest and "log_type: DiagnosticsLog" in manifest
    assert (tmp_path / "archives" / resp.filename).exists()  # kept on the data partition


async def test_server_with_an_unknown_ca_fails_the_upload(
    mosquitto: Broker, tmp_path: Path, servers: list[UploadServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours = make_ca(tmp_path / "ours", "our-ca")
    theirs = make_ca(tmp_path / "theirs", "other-ca")
    server = _serve(servers, tls=server_cert(theirs, tmp_path / "theirs"))
    cfg = hal_config(mosquitto, tmp_path, logs={
        "data_dir": str(tmp_path / "archives"), "log_dir": None, "ca_file": str(ours.cert)})
    caplog.set_level(logging.WARNING, logger="josev_hal.logs")
    async with running_hal(HalService(cfg), mosquitto) as hal:
        resp = await hal.josev.request("upload_logs", _request(3, server.url, retries=1,
                                                               retry_interval=0))
        assert resp.status == "accepted"
        assert await _final(hal, 3) == "UploadFailure"
    assert server.uploads == []
    failures = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert len(failures) == 2  # the first try and one retry
    assert "certificate was not accepted" in failures[-1]
    assert "unable to get local issuer certificate" in failures[-1]


async def test_retries_until_the_server_takes_it(
    mosquitto: Broker, tmp_path: Path, servers: list[UploadServer]
) -> None:
    server = _serve(servers, codes=[500, 503, 200])
    async with running_hal(HalService(hal_config(mosquitto, tmp_path)), mosquitto) as hal:
        await hal.josev.request("upload_logs", _request(11, server.url, retries=3,
                                                        retry_interval=0))
        assert await _final(hal, 11) == "Uploaded"
    assert server.attempts == 3 and len(server.uploads) == 1


async def test_post_multipart_and_basic_auth(
    mosquitto: Broker, tmp_path: Path, servers: list[UploadServer]
) -> None:
    server = _serve(servers)
    cfg = hal_config(mosquitto, tmp_path, logs={"data_dir": str(tmp_path / "a"),
                                                "upload_method": "post"})
    url = server.url.replace("http://", "http://cpo:s3cret@") + "station.tgz"
    async with running_hal(HalService(cfg), mosquitto) as hal:
        await hal.josev.request("upload_logs", _request(12, url, retries=0))
        assert await _final(hal, 12) == "Uploaded"
    [up] = server.uploads
    assert up.method == "POST" and up.path == "/upload/station.tgz"
    assert up.headers["Authorization"] == "Basic Y3BvOnMzY3JldA=="  # cpo:s3cret
    assert up.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"' in up.body and b"\x1f\x8b" in up.body  # the gzip inside the form


async def test_refusals_and_failures_are_reported_not_raised(
    mosquitto: Broker, tmp_path: Path, servers: list[UploadServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    denied = _serve(servers, codes=[403])
    wrong_method = _serve(servers, codes=[405])
    caplog.set_level(logging.WARNING, logger="josev_hal.logs")
    async with running_hal(HalService(hal_config(mosquitto, tmp_path)), mosquitto) as hal:
        for n, url in enumerate(["ftp://logs.example/up", "not a url", "https://:99/x",
                                 "http://127.0.0.1:99999/"]):
            resp = await hal.josev.request("upload_logs", _request(20 + n, url))
            assert resp.status == "rejected", url
        assert any("ftp upload is not supported" in r.getMessage() for r in caplog.records)

        await hal.josev.request("upload_logs", _request(30, denied.url, retries=5,
                                                        retry_interval=0))
        assert await _final(hal, 30) == "PermissionDenied"
        assert denied.attempts == 1  # retrying a refusal is pointless

        await hal.josev.request("upload_logs", _request(31, wrong_method.url, retries=0))
        assert await _final(hal, 31) == "NotSupportedOperation"

        # Nobody listens on this port: connection refused, each retry logged, then a failure.
        from tests.broker import free_port
        url = f"http://127.0.0.1:{free_port()}/up"
        await hal.josev.request("upload_logs", _request(32, url, retries=2, retry_interval=0))
        assert await _final(hal, 32) == "UploadFailure"
        assert _statuses(hal, 32) == ["Uploading", "UploadFailure"]
        assert sum("upload_logs 32: upload" in r.getMessage() and "Connection refused"
                   in r.getMessage() for r in caplog.records) == 3
        # The station carried on throughout.
        limits = await hal.josev.request("cs_status_and_limits",
                                         models.CsStatusAndLimitsRequest())
        assert limits.evses[0].status_code == "evse_ready"


async def test_a_second_request_cancels_a_hanging_upload_and_the_loop_keeps_running(
    mosquitto: Broker, tmp_path: Path, servers: list[UploadServer]
) -> None:
    stall = threading.Event()
    hanging = _serve(servers, stall=stall)
    good = _serve(servers)
    async with running_hal(HalService(hal_config(mosquitto, tmp_path)), mosquitto) as hal:
        first = await hal.josev.request("upload_logs", _request(40, hanging.url))
        assert first.status == "accepted"
        await wait_for(lambda: hanging.attempts == 1, "the upload reaching the server")
        # The server holds the upload; the control loop keeps stepping meanwhile.
        steps = hal.service.steps
        await wait_for(lambda: hal.service.steps > steps + 20, "control steps during the upload")
        second = await hal.josev.request("upload_logs", _request(41, good.url))
        assert second.status == "accepted_canceled"
        await wait_for(lambda: "AcceptedCanceled" in _statuses(hal, 40), "AcceptedCanceled")
        assert await _final(hal, 41) == "Uploaded"
        assert _statuses(hal, 40) == ["Uploading", "AcceptedCanceled"]
        # Another one hangs while the service stops: shutdown does not wait for it.
        await hal.josev.request("upload_logs", _request(42, hanging.url))
    assert len(good.uploads) == 1


async def test_size_cap_keeps_the_newest_and_says_so(
    mosquitto: Broker, tmp_path: Path, servers: list[UploadServer]
) -> None:
    server = _serve(servers)
    varlog = tmp_path / "varlog"
    varlog.mkdir()
    big = varlog / "big.log"
    with big.open("w") as f:
        for i in range(200_000):
            f.write(f"line {i:07d} of a log that is far too big to send whole\n")
    cap = 256 * 1024
    cfg = hal_config(mosquitto, tmp_path, logs={"data_dir": str(tmp_path / "a"),
                                                "log_dir": str(varlog), "max_bytes": cap,
                                                "journal_directory": str(tmp_path / "nojournal")})
    async with running_hal(HalService(cfg), mosquitto) as hal:
        await hal.josev.request("upload_logs", _request(50, server.url, retries=0))
        assert await _final(hal, 50) == "Uploaded"
    files = _members(server.uploads[0].body)
    assert sum(len(v) for k, v in files.items() if k != "MANIFEST.txt") <= cap
    kept = files["files/big.log"].decode()
    assert kept.startswith("line ") and kept.endswith("line 0199999 of a log that is far too "
                                                      "big to send whole\n")
    manifest = files["MANIFEST.txt"].decode()
    assert f"{big}: {big.stat().st_size} bytes, TRUNCATED to the last" in manifest
    assert "journal (josev-hal" in manifest  # an empty journal directory: said so, no failure
