"""The log collector's pieces that need no broker: the bounded tail of a stream, URL checks."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from josev_hal.logs import Cancelled, _tail_into, check_location


def _stream(n: int) -> tuple[io.BytesIO, bytes]:
    data = b"".join(f"record {i:06d}\n".encode() for i in range(n))
    return io.BytesIO(data), data


@pytest.mark.parametrize("n", [0, 10, 5000, 100_000])
def test_tail_keeps_the_newest_whole_lines_within_the_cap(tmp_path: Path, n: int) -> None:
    stream, data = _stream(n)
    cap = 20_000
    out = tmp_path / "journal.txt"
    total = _tail_into(stream, out, cap, threading.Event())
    kept = out.read_bytes()
    assert total == len(data)
    assert len(kept) <= cap
    assert data.endswith(kept)
    if len(data) <= cap:
        assert kept == data
    else:
        assert kept.startswith(b"record ") and len(kept) >= cap // 2 - 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.txt"]  # halves removed


def test_tail_stops_when_cancelled(tmp_path: Path) -> None:
    stream, _ = _stream(100_000)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        _tail_into(stream, tmp_path / "j.txt", 10_000, cancel)


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://h/x", "ftp upload is not supported"),
    ("sftp://h/x", "sftp upload is not supported"),
    ("file:///etc/passwd", "unsupported scheme 'file'"),
    ("https:///x", "no host"),
    ("http://h:70000/", "unparsable URL"),
])
def test_locations_we_cannot_upload_to(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_location(url)


def test_locations_we_upload_to() -> None:
    assert check_location("https://u:p@logs.example:8443/up/?k=v").port == 8443
    assert check_location("http://[::1]/x").hostname == "::1"
