"""The independent `iso15118` package (PyPI 0.31.2) as a test peer, in its own venv
(../shared/peers.md). Installed at test time; its code never enters our tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ISO15118_PEER = "iso15118==0.31.2"
ISO15118_VENV = Path(__file__).resolve().parents[1] / ".cache" / "peers" / "iso15118-venv"


def iso15118_python() -> Path:
    """The peer venv's python, made (or repaired) on first use."""
    py = ISO15118_VENV / "bin" / "python"
    if shutil.which("java") is None:
        pytest.fail("the iso15118 peer needs Java 17 (apt: openjdk-17-jre-headless)")
    ok = py.exists() and subprocess.run([py, "-c", "import iso15118, aiofile"],
                                        capture_output=True, check=False).returncode == 0
    if not ok:
        subprocess.run([sys.executable, "-m", "venv", "--clear", ISO15118_VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", ISO15118_PEER, "aiofile"],
                       check=True, timeout=600)
    return py
