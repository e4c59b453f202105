#!/usr/bin/env python3
"""Download the dependency wheels of the Josev distributions for an image whose base rootfs
already provides some of them as Debian packages (armhf: PyPI has no armv7 wheel of cffi).

    resolve-wheels.py --rootfs BASE --dest DIR [--constraints FILE] [--platform TAG ...]
                      --machine armv7l JOSEV_WHEEL...

pip's own resolver cannot be told that a requirement is met by a package of the target's
Debian, so this walks the requirement graph itself: every requirement (markers evaluated for
the target) is either met by a Debian package in BASE (its version must satisfy it) or gets the
newest wheel pip finds for the target platform (`pip download --no-deps --only-binary=:all:`),
whose own requirements are then walked. Nothing is built from source; a requirement that no
wheel and no Debian package meets stops the build with the reason. No backtracking: a version
that later turns out not to fit is an error, fixed by a line in the constraints file.
"""

from __future__ import annotations

import argparse
import email.parser
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def wheel_metadata(wheel: Path) -> tuple[str, Version, list[Requirement]]:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.parser.Parser().parsestr(zf.read(name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return canonicalize_name(meta["Name"]), Version(meta["Version"]), reqs


def debian_provided(rootfs: Path) -> dict[str, Version]:
    """Distributions Debian installed in the base rootfs (dist-info or egg-info metadata)."""
    found: dict[str, Version] = {}
    for folder in rootfs.glob("usr/lib/python3*/dist-packages"):
        for info in [*folder.glob("*.dist-info"), *folder.glob("*.egg-info")]:
            meta_file = info / ("METADATA" if info.suffix == ".dist-info" else "PKG-INFO")
            if info.is_file():  # a single-file egg-info
                meta_file = info
            if not meta_file.is_file():
                continue
            meta = email.parser.Parser().parsestr(meta_file.read_text(errors="replace"))
            if meta["Name"] and meta["Version"]:
                found[canonicalize_name(meta["Name"])] = Version(meta["Version"])
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", type=Path, required=True)
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--constraints", type=Path)
    parser.add_argument("--platform", action="append", required=True)
    parser.add_argument("--machine", required=True, help="platform_machine of the target")
    parser.add_argument("wheels", type=Path, nargs="+")
    args = parser.parse_args(argv)

    env = {**default_environment(), "platform_machine": args.machine, "sys_platform": "linux",
           "platform_system": "Linux", "platform_python_implementation": "CPython",
           "implementation_name": "cpython", "python_version": "3.11",
           "python_full_version": "3.11.2"}
    provided = debian_provided(args.rootfs)
    ours: set[str] = set()
    queue: list[tuple[Requirement, str]] = []
    for wheel in args.wheels:
        name, _, reqs = wheel_metadata(wheel)
        ours.add(name)
        queue += [(r, name) for r in reqs]
    pins: dict[str, Version] = {}
    args.dest.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
           "--dest", str(args.dest)]
    for tag in args.platform:
        pip += ["--platform", tag]
    if args.constraints:
        pip += ["--constraint", str(args.constraints)]
    while queue:
        req, wanted_by = queue.pop(0)
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in ours:
            continue
        if name in provided:
            if not req.specifier.contains(provided[name], prereleases=True):
                print(f"error: {wanted_by} needs {req}; the base rootfs has Debian's "
                      f"{name} {provided[name]} (add a constraint)", file=sys.stderr)
                return 1
            print(f"{name} {provided[name]}: Debian package (for {wanted_by}: {req})")
            continue
        if name in pins:
            if not req.specifier.contains(pins[name], prereleases=True):
                print(f"error: {wanted_by} needs {req}, but {name} {pins[name]} was chosen "
                      "(add a constraint)", file=sys.stderr)
                return 1
            continue
        before = set(args.dest.glob("*.whl"))
        spec = f"{req.name}{req.specifier}"
        proc = subprocess.run([*pip, spec], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"error: no {args.machine} wheel for {spec} (wanted by {wanted_by}):\n"
                  f"{proc.stderr.strip()[-1500:]}", file=sys.stderr)
            return 1
        new = set(args.dest.glob("*.whl")) - before
        candidates = new or {w for w in args.dest.glob("*.whl")
                             if canonicalize_name(w.name.split("-")[0]) == name}
        for wheel in sorted(candidates):
            got, version, reqs = wheel_metadata(wheel)
            if got == name and req.specifier.contains(version, prereleases=True):
                pins[name] = version
                print(f"{name} {version}: {wheel.name} (for {wanted_by}: {req})")
                queue += [(r, name) for r in reqs]
                break
        else:
            print(f"error: pip downloaded nothing usable for {spec}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
