"""What a test needs from the machine, checked in one place: missing is a failure, never a skip.

`./dev test` installs every package a test needs (.ci/packages-test-*.txt) and CI runs as root,
so a missing tool or namespace support means a broken set-up that must show up red.
"""

from __future__ import annotations

import shutil

import pytest

from josev import netsim


def require_netns() -> None:
    """Network namespaces and veth pairs (root, or user namespaces)."""
    reason = netsim.unavailable_reason()
    if reason is not None:
        pytest.fail(f"network namespaces unavailable: {reason} (run the tests as root)",
                    pytrace=False)


def require_tools(*tools: str, package: str) -> None:
    """Command-line tools from a Debian package that ./dev installs."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: Debian package {package} "
                    "(.ci/packages-test-*.txt; ./dev test installs it)", pytrace=False)
