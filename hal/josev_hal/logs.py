"""`upload_logs` (OCPP 2.0.1 GetLog, N01): collect the station's logs and upload them.

A request is accepted or rejected at once (the location must be an http(s) URL; FTP is not
supported and says so); the work runs afterwards: collect the journal of the Josev units
(`journalctl`, when the system has one), the configured log directory and josev-hal's own
recent log records into one size-capped `.tar.gz` under the data directory, then upload it
with HTTP PUT (or POST, multipart) with the server certificate validated, retrying as the
request says. `log_status` reports Uploading, then Uploaded, UploadFailure, PermissionDenied
(401/403) or NotSupportedOperation (405/501); a second request cancels the first
(AcceptedCanceled for the first, `accepted_canceled` answers the second).

Every blocking step (subprocess, files, compression, sockets) runs in a daemon thread of its
own, never in the event loop (the safety supervisor shares that loop) and never in asyncio's
default executor (whose threads the interpreter waits for at exit: a stuck upload must not hold
up SIGTERM). A cancelled upload is told through an Event, its socket has a timeout, its
journalctl child is killed.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import http.client
import io
import logging
import os
import re
import shutil
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, TypeVar

from josev.api import models
from josev.tasks import cancel_and_wait
from josev_hal.config import LogsConfig

log = logging.getLogger("josev_hal.logs")

T = TypeVar("T")
Status = Literal["BadMessage", "Idle", "NotSupportedOperation", "PermissionDenied", "Uploaded",
                 "UploadFailure", "Uploading", "AcceptedCanceled"]  # models.LogStatusUpdate
CHUNK = 64 * 1024


class Cancelled(Exception):
    """The upload was cancelled (a newer request, or the service is stopping)."""


class UploadError(Exception):
    """One upload attempt failed; `status` is what log_status reports if it was the last."""

    def __init__(self, message: str, status: Status = "UploadFailure", retry: bool = True):
        super().__init__(message)
        self.status = status
        self.retry = retry


# -- josev-hal's own recent log records ---------------------------------------------------------


class RecentRecords(logging.Handler):
    """The last `maxlen` formatted records of this process: the HAL always has its own log to
    send, also where there is no journal (the simulator, a container)."""

    def __init__(self, maxlen: int = 5000) -> None:
        super().__init__(logging.INFO)
        self.records: collections.deque[tuple[float, str]] = collections.deque(maxlen=maxlen)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append((record.created, self.format(record)))
        except Exception:  # a broken record must not break logging
            self.handleError(record)

    def lines(self, since: float | None, until: float | None) -> list[str]:
        return [text for t, text in list(self.records)
                if (since is None or t >= since) and (until is None or t <= until)]


# -- the request ----------------------------------------------------------------------------------


def check_location(url: str) -> urllib.parse.SplitResult:
    """Parse `remote_location`; ValueError with the reason when we cannot upload there."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        raise ValueError(f"unparsable URL: {exc}") from None
    if parts.scheme in ("ftp", "ftps", "sftp"):
        raise ValueError(f"{parts.scheme} upload is not supported (http and https are)")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {parts.scheme!r} (http and https are)")
    if not parts.hostname:
        raise ValueError("no host in the URL")
    del port
    return parts


def archive_name(identity: str, log_type: str, request_id: int, now: dt.datetime) -> str:
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", identity)[:80]
    return f"{safe}-{log_type}-{request_id}-{stamp}.tar.gz"


@dataclass
class Job:
    req: models.UploadLogsRequest
    filename: str
    cancel: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    status: Status | None = None  # the last log_status sent


# -- collection (runs in a worker thread) --------------------------------------------------------


@dataclass
class Source:
    name: str  # the member name in the archive
    note: str  # what the manifest says about it


class Collector:
    """Builds the archive; every source is capped so the whole stays under `max_bytes`."""

    def __init__(self, cfg: LogsConfig, recent: RecentRecords | None,
                 cancel: threading.Event) -> None:
        self.cfg = cfg
        self.recent = recent
        self.cancel = cancel

    def build(self, job: Job, since: float | None, until: float | None) -> Path:
        cfg = self.cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        work = cfg.data_dir / f".collect-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        try:
            budget = cfg.max_bytes
            sources: list[tuple[Source, Path | None]] = []
            journal = work / "journal.txt"
            src = self._journal(journal, since, until, max(budget // 2, 1))
            sources.append((src, journal if journal.exists() else None))
            budget -= journal.stat().st_size if journal.exists() else 0
            own = work / "josev-hal.log"
            sources.append((self._own(own, since, until, max(budget // 4, 1)), own))
            budget -= own.stat().st_size
            for src, path in self._files(work, since, budget):
                sources.append((src, path))
            self._check()
            target = cfg.data_dir / job.filename
            partial = target.with_suffix(".partial")
            manifest = self._manifest(job, since, until, [s for s, _ in sources])
            with tarfile.open(partial, "w:gz") as tar:
                _add_bytes(tar, "MANIFEST.txt", manifest.encode())
                for src, path in sources:
                    self._check()
                    if path is not None and path.exists():
                        tar.add(path, arcname=src.name, recursive=False)
            partial.replace(target)
            self._prune(keep=target)
            return target
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def _journal(self, out: Path, since: float | None, until: float | None,
                 cap: int) -> Source:
        cfg = self.cfg
        if not cfg.journal_units:
            return Source("journal.txt", "journal: no units configured")
        exe = shutil.which(cfg.journalctl)
        if exe is None:
            return Source("journal.txt", f"journal: {cfg.journalctl} not found on this system")
        cmd = [exe, "--no-pager", "--output=short-iso-precise", "--utc"]
        if cfg.journal_directory is not None:
            cmd.append(f"--directory={cfg.journal_directory}")
        for unit in cfg.journal_units:
            cmd.append(f"--unit={unit}")
        if since is not None:
            cmd.append(f"--since=@{since:.0f}")
        if until is not None:
            cmd.append(f"--until=@{until:.0f}")
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL)
        except OSError as exc:
            return Source("journal.txt", f"journal: {exe} could not run: {exc}")
        assert proc.stdout is not None and proc.stderr is not None
        total, kept = 0, 0
        try:
            total = _tail_into(proc.stdout, out, cap, self.cancel)
            kept = out.stat().st_size
            err = proc.stderr.read(4096).decode(errors="replace").strip()
            rc = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self._check()
        units = ", ".join(cfg.journal_units)
        said = err.splitlines()[-1] if err else ""
        if rc != 0:
            out.unlink(missing_ok=True)
            return Source("journal.txt", f"journal ({units}): journalctl exit {rc}: "
                                         f"{said or 'no output'}")
        note = f"journal ({units}): {total} bytes"
        if total > kept:
            note += f", TRUNCATED to the newest {kept} bytes (cap {cap})"
        if said:
            note += f" (journalctl: {said})"
        return Source("journal.txt", note)

    def _own(self, out: Path, since: float | None, until: float | None, cap: int) -> Source:
        lines = self.recent.lines(since, until) if self.recent is not None else []
        data = "".join(line + "\n" for line in lines).encode()
        note = f"josev-hal.log: this process's last {len(lines)} records (in memory)"
        if len(data) > cap:
            data = _from_line(data[-cap:])
            note += f", TRUNCATED to the newest {len(data)} bytes (cap {cap})"
        out.write_bytes(data)
        return Source("josev-hal.log", note)

    def _files(self, work: Path, since: float | None,
               budget: int) -> Iterator[tuple[Source, Path | None]]:
        root = self.cfg.log_dir
        if root is None:
            return
        if not root.is_dir():
            yield Source(f"files/{root.name}", f"log directory {root}: not present"), None
            return
        found: list[tuple[float, Path, int]] = []
        for path in sorted(root.rglob("*")):
            self._check()
            try:
                st = path.lstat()
            except OSError:
                continue
            if not path.is_file() or path.is_symlink():
                continue
            if since is not None and st.st_mtime < since:
                continue  # nothing in it is newer than the window's start
            found.append((st.st_mtime, path, st.st_size))
        # Newest first: when the cap bites, the most recent logs are the ones kept.
        for _mtime, path, size in sorted(found, key=lambda f: -f[0]):
            self._check()
            rel = path.relative_to(root).as_posix()
            name = f"files/{rel}"
            if budget <= 0:
                yield Source(name, f"{path}: {size} bytes, LEFT OUT (size cap reached)"), None
                continue
            copy = work / "files" / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            try:
                kept = _copy_tail(path, copy, budget)
            except OSError as exc:
                yield Source(name, f"{path}: unreadable: {exc.strerror or exc}"), None
                continue
            budget -= kept
            note = f"{path}: {size} bytes"
            if kept < size:
                note += f", TRUNCATED to the last {kept} bytes (size cap)"
            yield Source(name, note), copy

    def _manifest(self, job: Job, since: float | None, until: float | None,
                  sources: list[Source]) -> str:
        def when(t: float | None) -> str:
            return "-" if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat()

        lines = [
            f"request_id: {job.req.request_id}",
            f"log_type: {job.req.log_type}",
            f"window: {when(since)} .. {when(until)}",
            f"created: {dt.datetime.now(dt.UTC).isoformat()}",
            f"size cap: {self.cfg.max_bytes} bytes of log text",
            "",
            *(s.note for s in sources),
        ]
        return "\n".join(lines) + "\n"

    def _prune(self, keep: Path) -> None:
        archives = sorted(self.cfg.data_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        old = [p for p in archives if p != keep][: max(0, len(archives) - self.cfg.keep_archives)]
        for path in old:
            with contextlib.suppress(OSError):
                path.unlink()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _from_line(data: bytes) -> bytes:
    """Cut a tail so that it starts at a line boundary."""
    nl = data.find(b"\n")
    return data[nl + 1:] if 0 <= nl < len(data) - 1 else data


def _tail_into(stream: IO[bytes], out: Path, cap: int, cancel: threading.Event) -> int:
    """Keep the newest `cap` bytes of a stream of unknown length with bounded disk and memory:
    two halves alternate, the older one is overwritten when the current one is full."""
    half = max(cap // 2, 1)
    parts = [out.with_suffix(".a"), out.with_suffix(".b")]
    cur, filled, total, swapped = 0, 0, 0, False
    f = parts[0].open("wb")
    try:
        while chunk := stream.read(CHUNK):
            if cancel.is_set():
                raise Cancelled()
            total += len(chunk)
            f.write(chunk)
            filled += len(chunk)
            if filled >= half:
                f.close()
                cur, filled, swapped = cur ^ 1, 0, True
                f = parts[cur].open("wb")  # truncates the older half
    finally:
        f.close()
    data = (parts[cur ^ 1].read_bytes() if swapped else b"") + parts[cur].read_bytes()
    if len(data) > cap:
        data = data[-cap:]
    if len(data) < total:
        data = _from_line(data)
    out.write_bytes(data)
    for p in parts:
        p.unlink(missing_ok=True)
    return total


def _copy_tail(src: Path, dst: Path, cap: int) -> int:
    with src.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - cap))
        data = f.read(cap)
    if len(data) < size:
        data = _from_line(data)
    dst.write_bytes(data)
    return len(data)


# -- upload (runs in a worker thread) -------------------------------------------------------------


def upload(path: Path, url: str, cfg: LogsConfig, cancel: threading.Event) -> int:
    """One attempt: send the archive, return the HTTP status; UploadError on failure."""
    parts = check_location(url)
    host = parts.hostname or ""
    target = parts.path or "/"
    if target.endswith("/"):
        target += path.name  # as `curl -T file URL/` does
    if parts.query:
        target += "?" + parts.query
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context(
            cafile=str(cfg.ca_file) if cfg.ca_file is not None else None)
        conn = http.client.HTTPSConnection(host, parts.port, timeout=cfg.timeout_s,
                                           context=context)
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=cfg.timeout_s)
    headers = {"User-Agent": "josev-hal"}
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        cred = f"{user}:{urllib.parse.unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
    size = path.stat().st_size
    if cfg.upload_method == "post":
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{path.name}\"\r\nContent-Type: application/gzip\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    else:
        head, tail = b"", b""
        headers["Content-Type"] = "application/gzip"
    headers["Content-Length"] = str(len(head) + size + len(tail))
    try:
        conn.putrequest(cfg.upload_method.upper(), target, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        conn.send(head)
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                if cancel.is_set():
                    raise Cancelled()
                conn.send(chunk)
        conn.send(tail)
        resp = conn.getresponse()
        resp.read(65536)
        status = resp.status
    except ssl.SSLCertVerificationError as exc:
        raise UploadError(f"TLS: the server's certificate was not accepted: "
                          f"{exc.verify_message or exc}") from None
    except ssl.SSLError as exc:
        raise UploadError(f"TLS: {exc}") from None
    except http.client.HTTPException as exc:
        raise UploadError(f"bad HTTP answer: {type(exc).__name__}: {exc}", "BadMessage") from None
    except TimeoutError:
        raise UploadError(f"no answer within {cfg.timeout_s:g} s") from None
    except OSError as exc:
        raise UploadError(f"{type(exc).__name__}: {exc.strerror or exc}") from None
    finally:
        conn.close()
    if 200 <= status < 300:
        return status
    if status in (401, 403):
        raise UploadError(f"HTTP {status}: permission denied", "PermissionDenied", retry=False)
    if status in (405, 501):
        raise UploadError(f"HTTP {status}: the server does not take uploads this way",
                          "NotSupportedOperation", retry=False)
    raise UploadError(f"HTTP {status}")


def in_thread(fn: Callable[[], T], name: str) -> Awaitable[T]:
    """Run `fn` in a daemon thread of its own; the interpreter never waits for it at exit."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: object) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)  # type: ignore[arg-type]
        else:
            fut.set_exception(value)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result: object = fn()
            ok = True
        except BaseException as exc:  # handed to the awaiting coroutine
            result, ok = exc, False
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, ok, result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return fut


# -- the service side -----------------------------------------------------------------------------


Send = Callable[[models.LogStatusUpdate], Awaitable[None]]


class LogUploader:
    """Answers `upload_logs` and runs one upload at a time in the background."""

    def __init__(self, cfg: LogsConfig, identity: str, send: Send,
                 recent: RecentRecords | None = None) -> None:
        self.cfg = cfg
        self.identity = identity
        self.send = send
        self.recent = recent
        self.current: Job | None = None
        self.finished: list[Job] = []  # for tests and the state dump

    async def request(self, req: models.UploadLogsRequest) -> models.UploadLogsResponse:
        try:
            check_location(req.remote_location)
        except ValueError as exc:
            log.warning("upload_logs %d rejected: %s: %s", req.request_id,
                        _redact(req.remote_location), exc)
            return models.UploadLogsResponse(status="rejected")
        if (req.oldest_timestamp and req.latest_timestamp
                and req.oldest_timestamp > req.latest_timestamp):
            log.warning("upload_logs %d rejected: oldest_timestamp after latest_timestamp",
                        req.request_id)
            return models.UploadLogsResponse(status="rejected")
        status: Literal["accepted", "accepted_canceled"] = "accepted"
        old = self.current
        if old is not None and old.task is not None and not old.task.done():
            log.info("upload_logs %d cancels the running upload %d", req.request_id,
                     old.req.request_id)
            await self._cancel(old)
            await self._status(old, "AcceptedCanceled")
            status = "accepted_canceled"
        job = Job(req, archive_name(self.identity, req.log_type, req.request_id,
                                    dt.datetime.now(dt.UTC)))
        self.current = job
        job.task = asyncio.create_task(self._run(job), name=f"hal:upload-logs:{req.request_id}")
        log.info("upload_logs %d (%s) accepted: %s to %s", req.request_id, req.log_type,
                 job.filename, _redact(req.remote_location))
        return models.UploadLogsResponse(status=status, filename=job.filename)

    async def _cancel(self, job: Job) -> None:
        job.cancel.set()
        if job.task is not None:
            await cancel_and_wait([job.task], 1.0, f"upload_logs {job.req.request_id}")

    async def close(self) -> None:
        """Stop a running upload (service shutdown): no waiting for its thread."""
        if self.current is not None:
            await self._cancel(self.current)

    async def _status(self, job: Job, status: Status) -> None:
        job.status = status
        try:
            await self.send(models.LogStatusUpdate(status=status, request_id=job.req.request_id))
        except Exception as exc:
            log.warning("upload_logs %d: log_status %s not sent: %s", job.req.request_id,
                        status, exc)

    async def _run(self, job: Job) -> None:
        req = job.req
        since = req.oldest_timestamp.timestamp() if req.oldest_timestamp else None
        until = req.latest_timestamp.timestamp() if req.latest_timestamp else None
        collector = Collector(self.cfg, self.recent, job.cancel)
        try:
            path = await in_thread(lambda: collector.build(job, since, until),
                                   f"collect-logs-{req.request_id}")
        except Cancelled:
            return
        except Exception as exc:
            log.error("upload_logs %d: collecting the logs failed: %s: %s", req.request_id,
                      type(exc).__name__, exc)
            await self._status(job, "UploadFailure")
            self._done(job)
            return
        log.info("upload_logs %d: %s ready (%d bytes)", req.request_id, path,
                 path.stat().st_size)
        retries = self.cfg.default_retries if req.retries is None else req.retries
        interval = (self.cfg.default_retry_interval_s if req.retry_interval is None
                    else float(req.retry_interval))
        await self._status(job, "Uploading")
        final: Status = "UploadFailure"
        for attempt in range(retries + 1):
            try:
                code = await in_thread(
                    lambda: upload(path, req.remote_location, self.cfg, job.cancel),
                    f"upload-logs-{req.request_id}")
            except Cancelled:
                return
            except UploadError as exc:
                final = exc.status
                more = exc.retry and attempt < retries
                log.warning("upload_logs %d: upload of %s to %s failed (attempt %d of %d): %s%s",
                            req.request_id, path.name, _redact(req.remote_location),
                            attempt + 1, retries + 1, exc,
                            f"; retry in {interval:g} s" if more else "")
                if not more:
                    break
                await asyncio.sleep(interval)
                continue
            log.info("upload_logs %d: %s uploaded to %s (HTTP %d)", req.request_id, path.name,
                     _redact(req.remote_location), code)
            final = "Uploaded"
            break
        await self._status(job, final)
        self._done(job)

    def _done(self, job: Job) -> None:
        self.finished.append(job)
        del self.finished[:-20]


def _redact(url: str) -> str:
    """A URL for the log: without a password."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username}:***@{parts.hostname}"
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url[:200]
