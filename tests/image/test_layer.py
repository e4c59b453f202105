"""Fast checks of the Yocto layer, the kas files and the systemd units (no Yocto build needed).

A full bitbake build cannot run here; these checks catch what can be caught without one:
oelint-adv findings, kas schema errors, unpinned layers, dependencies that no layer provides,
unit hardening that regressed, and users/ACLs that drifted apart between the files.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

import kas

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "meta-josev"
FILES = LAYER / "recipes-josev" / "josev-services" / "files"
SHARED = REPO.parent / "shared"
JOSEV_UNITS = ("josev-iso15118", "josev-hal", "josev-ota", "josev-ocpp")
# Services and the broker user each one logs in as (the ACL's `user` lines).
BROKER_USERS = {"josev-iso15118": "iso15118", "josev-hal": "hal", "josev-ota": "ota",
                "josev-ocpp": "ocpp"}


def recipes() -> list[Path]:
    return sorted([*LAYER.rglob("*.bb"), *LAYER.rglob("*.bbappend")])


def kas_files() -> list[Path]:
    return [REPO / "kas.yml", *sorted((REPO / "kas").glob("*.yml"))]


def test_oelint_adv_reports_no_errors() -> None:
    exe = Path(sys.executable).with_name("oelint-adv")
    # homepageping would reach out to the network; every other rule of the default set runs.
    proc = subprocess.run(
        [str(exe), "--quiet", "--release", "scarthgap", "--hide", "info",
         "--suppress", "oelint.vars.homepageping", *map(str, recipes())],
        capture_output=True, text=True, timeout=300, check=False,
    )
    findings = (proc.stdout + proc.stderr).splitlines()
    errors = [line for line in findings if ":error:" in line]
    assert recipes(), "no recipes found in meta-josev"
    assert not errors, "oelint-adv errors:\n" + "\n".join(errors)
    print(f"\noelint-adv: {len(recipes())} recipes, 0 errors, "
          f"{sum(':warning:' in f for f in findings)} warnings")


def load_kas_schema() -> dict[str, Any]:
    schema_path = Path(kas.__file__).with_name("schema-kas.json")
    data: dict[str, Any] = json.loads(schema_path.read_text())
    return data


@pytest.mark.parametrize("path", kas_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_kas_file_is_valid_and_pinned(path: Path) -> None:
    config = yaml.safe_load(path.read_text())
    jsonschema.validate(config, load_kas_schema())
    rel = str(path.relative_to(REPO))
    for include in config.get("header", {}).get("includes", []):
        assert (REPO / include).is_file(), f"{rel} includes missing {include}"
    for name, repo in (config.get("repos") or {}).items():
        if not repo or "url" not in repo:
            continue  # the repository holding the kas file itself (meta-josev)
        commit = str(repo.get("commit", ""))
        assert re.fullmatch(r"[0-9a-f]{40}", commit), f"{rel}: {name} is not pinned to a commit"


def test_kas_machines_cover_armv8_and_armv7() -> None:
    machines = set()
    for path in kas_files():
        config = yaml.safe_load(path.read_text())
        if "machine" in config:
            machines.add(config["machine"])
    assert {"qemuarm64", "qemuarm", "raspberrypi4-64", "beaglebone-yocto"} <= machines


def test_layer_conf_is_compatible_with_the_lts_and_the_next_release() -> None:
    text = (LAYER / "conf" / "layer.conf").read_text()
    compat = re.search(r'LAYERSERIES_COMPAT_josev\s*=\s*"([^"]*)"', text)
    assert compat and set(compat.group(1).split()) == {"scarthgap", "styhead"}


def _variable_words(text: str, name: str) -> set[str]:
    """Words assigned to NAME (any override, =, +=, :append), without ${...} expressions."""
    words: set[str] = set()
    pattern = re.compile(rf'^{name}(?::[^\s=+?:]+)*(?::append|:prepend)?\s*[+?:]?=\s*"(.*?)"',
                         re.S | re.M)
    for match in pattern.finditer(text.replace("\\\n", " ")):
        value = re.sub(r"\$\{@[^}]*\}", " ", match.group(1))
        value = re.sub(r"\$\{[^}]*\}", " ", value)
        words.update(w for w in value.split() if not w.startswith("("))
    return words


def test_every_dependency_is_provided_by_a_known_layer() -> None:
    index_path = SHARED / "yocto" / "scarthgap-recipes.json"
    if not index_path.is_file():
        pytest.fail(f"{index_path} is missing: CI runs with shared/ beside the clone")
    index: dict[str, dict[str, Any]] = json.loads(index_path.read_text())
    known: set[str] = set(index)
    for entry in index.values():
        known.update(entry.get("packages", []))
        known.update(entry.get("provides", []))
    own = {re.sub(r"_[^_]*$", "", p.stem) for p in LAYER.rglob("*.bb")}
    # What the conditional TPM stack pulls in comes from meta-security/meta-tpm (kas/tpm.yml).
    # (libtss2 is a package of tpm2-tss, which PROVIDES its packages.)
    meta_tpm = {"python3-tpm2-pytss", "tpm2-tools", "tpm2-abrmd", "tpm2-tss", "libtss2"}
    missing = []
    for recipe in recipes():
        text = recipe.read_text()
        for var in ("DEPENDS", "RDEPENDS", "IMAGE_INSTALL"):
            names = _variable_words(text, var) if var != "RDEPENDS" else (
                _variable_words(text, r"RDEPENDS:\$\{PN\}"))
            for dep in names:
                if dep not in known and dep not in own and dep not in meta_tpm:
                    missing.append(f"{recipe.relative_to(LAYER)}: {var} {dep}")
    assert not missing, "dependencies nobody provides:\n" + "\n".join(missing)
    # The conditional TPM packages are written into the recipes as expected.
    image = (LAYER / "recipes-core/images/josev-image.bb").read_text()
    assert "tpm2-abrmd" in image and "'tpm2'" in image


def test_own_source_licence_checksum_matches_the_repository_licence() -> None:
    inc = (LAYER / "recipes-josev/python3-josev/josev-src.inc").read_text()
    declared = re.search(r"file://\.\./LICENSE;md5=([0-9a-f]{32})", inc)
    assert declared, "josev-src.inc must checksum the repository LICENSE"
    actual = hashlib.md5((REPO / "LICENSE").read_bytes()).hexdigest()
    assert declared.group(1) == actual


def unit_settings(name: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (FILES / f"{name}.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.parametrize("unit", JOSEV_UNITS)
def test_unit_is_notify_with_watchdog_restart_and_a_dedicated_user(unit: str) -> None:
    s = unit_settings(unit)
    assert s["Type"] == ["notify"]
    assert s["WatchdogSec"] and s["Restart"] == ["always"]
    assert s["User"] == [unit] and "DynamicUser" not in s
    assert "mosquitto.service" in " ".join(s["After"])
    exec_start = s["ExecStart"][0]
    assert f"--username {BROKER_USERS[unit]}" in exec_start
    assert "--password-file %d/broker-password" in exec_start
    assert s["LoadCredential"] == [
        f"broker-password:/var/lib/josev/credentials/{BROKER_USERS[unit]}.password"]
    # Only the SLAC service holds a capability, and only CAP_NET_RAW.
    expected_caps = ["CAP_NET_RAW"] if unit == "josev-iso15118" else [""]
    assert s["CapabilityBoundingSet"] == expected_caps
    assert s["AmbientCapabilities"] == expected_caps
    if unit != "josev-ota":
        assert "tpm2-abrmd.service" in " ".join(s["After"])


@pytest.mark.parametrize("unit", JOSEV_UNITS)
def test_unit_exposure_is_at_most_3(unit: str) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager",
         str(FILES / f"{unit}.service")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    exposure = float(match.group(1))
    print(f"\n{unit}: systemd-analyze security exposure {exposure}")
    assert exposure <= 3.0


def test_users_agree_between_sysusers_useradd_and_units() -> None:
    sysusers = {line.split()[1] for line in (FILES / "josev-sysusers.conf").read_text().splitlines()
                if line.startswith("u ")}
    recipe = (LAYER / "recipes-josev/josev-services/josev-services_1.0.bb").read_text()
    useradd = set(re.findall(r"--user-group(?: --groups \S+)? (josev-[a-z0-9]+)", recipe))
    assert sysusers == useradd == set(JOSEV_UNITS)


def acl_users() -> dict[str, list[tuple[str, str]]]:
    users: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in (FILES / "josev.acl").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["user"]:
            current = parts[1]
            users[current] = []
        elif parts[:1] == ["topic"] and current is not None:
            users[current].append((parts[1], parts[2]))
    return users


def test_broker_acl_and_credentials_agree() -> None:
    acl = acl_users()
    script = (FILES / "josev-broker-credentials").read_text()
    generated = set(re.search(r'USERS="([^"]*)"', script).group(1).split())  # type: ignore[union-attr]
    assert set(acl) == generated == {*BROKER_USERS.values(), "evsim"}
    # The station side publishes on cs/josev, Josev's side on josev/cs (shared/josev-api.md).
    assert ("write", "cs/josev") in acl["hal"] and ("read", "josev/cs") in acl["hal"]
    assert ("write", "josev/cs") in acl["iso15118"] and ("read", "cs/josev") in acl["iso15118"]
    assert ("write", "cs/josev") not in acl["iso15118"]
    conf = (FILES / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "listener 1883 127.0.0.1" in conf
