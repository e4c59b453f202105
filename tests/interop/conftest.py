"""The independent `iso15118` package (PyPI 0.31.2) as a test peer, in its own venv
(../shared/peers.md). Installed at test time; its code never enters our tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peers import iso15118_python


@pytest.fixture(scope="session")
def peer_python() -> Path:
    return iso15118_python()
