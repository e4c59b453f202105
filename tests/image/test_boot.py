"""Boot the arm64 QEMU image and check the appliance as it runs (marker `image`).

One build and one boot serve every test here (session fixture in conftest.py); the guest's
check unit reports facts, these tests judge them. The full charging session inside the image
needs the sessions issue: the guest runs /usr/libexec/josev/josev-image-session-check when it
exists and reports its output under result["session"] (see docs/image.md).
"""

from __future__ import annotations

import pytest

from tests.image.conftest import BootedImage

pytestmark = pytest.mark.image

ENABLED = ("josev-iso15118", "josev-hal", "josev-ota")
BROKER_USERS = ("iso15118", "hal", "ota", "ocpp", "evsim")


def test_boots_to_multi_user_with_no_failed_units(booted_image: BootedImage) -> None:
    result = booted_image.result
    assert result["failed_units"] == [], result["failed_units"]
    assert result["system_state"] == "running", result["system_state"]


@pytest.mark.parametrize("unit", ENABLED)
def test_josev_unit_is_active_and_sent_ready(booted_image: BootedImage, unit: str) -> None:
    facts = booted_image.result["units"][unit]
    # Type=notify: systemd enters "active" only once the service has sent READY=1.
    assert facts["Type"] == "notify"
    assert (facts["ActiveState"], facts["SubState"]) == ("active", "running"), facts
    assert int(facts["ActiveEnterTimestampMonotonic"]) > 0
    assert facts["NRestarts"] == "0", facts
    assert booted_image.result["josev_unit_files"][f"{unit}.service"] == "enabled"


def test_ocpp_unit_is_installed_but_not_enabled_yet(booted_image: BootedImage) -> None:
    assert booted_image.result["josev_unit_files"]["josev-ocpp.service"] == "disabled"


def test_broker_accepts_only_the_configured_users(booted_image: BootedImage) -> None:
    broker = booted_image.result["broker"]
    assert broker["anonymous"]["rc"] != 0, broker["anonymous"]
    assert broker["unknown_user"]["rc"] != 0, broker["unknown_user"]
    for user in BROKER_USERS:
        assert broker[user]["rc"] == 0, (user, broker[user])
        assert broker[f"{user}_wrong_password"]["rc"] != 0, (user, broker[f"{user}_wrong_password"])


def test_broker_acl_lets_hal_but_not_iso15118_write_the_simulator_topics(
    booted_image: BootedImage,
) -> None:
    # hal published a retained "from-hal", then iso15118 tried to overwrite it (not granted):
    # evsim reads back hal's value.
    check = booted_image.result["broker"]["acl_retained_sim"]
    assert check == {"rc": 0, "output": "from-hal"}, check


def test_root_is_read_only_and_state_is_on_the_data_partition(booted_image: BootedImage) -> None:
    mounts = {}

    def walk(nodes: list[dict[str, str]]) -> None:
        for node in nodes:
            mounts[node["target"]] = node
            walk(node.get("children", []))  # type: ignore[arg-type]

    walk(booted_image.result["mounts"]["filesystems"])
    assert mounts["/"]["options"].split(",")[0] == "ro"
    assert mounts["/var/lib/josev"]["source"] == "/dev/vda4"
    assert mounts["/var/lib/josev"]["options"].split(",")[0] == "rw"


def test_rauc_reports_both_slots_and_boots_slot_a(booted_image: BootedImage) -> None:
    rauc = booted_image.result["rauc"]
    assert rauc.get("booted") == "A", rauc
    slots = {name for entry in rauc["slots"] for name in entry}
    assert {"rootfs.0", "rootfs.1"} <= slots
    assert "rauc.slot=A" in booted_image.result["cmdline"]


@pytest.mark.parametrize("unit", (*ENABLED, "josev-ocpp"))
def test_unit_exposure_measured_in_the_guest_is_at_most_3(
    booted_image: BootedImage, unit: str
) -> None:
    assert float(booted_image.result["security"][unit]) <= 3.0


def test_figures(booted_image: BootedImage) -> None:
    """Print the figures the issue asks for (boot to ready, memory, image size, times)."""
    result = booted_image.result
    lines = ["", "QEMU arm64 image figures (TCG, cortex-a57, 2 CPUs, 1 GiB):"]
    lines.append(f"  image build (this run): {booted_image.build_wall_s:.0f} s; "
                 f"boot to power-off: {booted_image.boot['wall_s']:.0f} s")
    lines.append(f"  disk {booted_image.image['disk_bytes'] / 2**20:.0f} MiB "
                 f"({booted_image.image['disk_allocated_bytes'] / 2**20:.0f} MiB allocated), "
                 f"root filesystem {booted_image.image['base_rootfs_bytes'] / 2**20:.0f} MiB base")
    analyze = result["systemd_analyze"].splitlines()
    lines.append(f"  {analyze[0] if analyze else 'systemd-analyze: no output'}")
    for unit in (*ENABLED, "mosquitto"):
        facts = result["units"][unit]
        ready_s = int(facts["ActiveEnterTimestampMonotonic"]) / 1e6
        rss = facts["rss_kib"]
        lines.append(f"  {unit:16} ready at {ready_s:6.1f} s after kernel start, "
                     f"RSS {rss / 1024 if rss else 0:6.1f} MiB")
        assert ready_s > 0 and rss
    print("\n".join(lines))
