#!/usr/bin/env bash
# Build the Debian-based QEMU test image of Josev (arm64 by default, or armhf = armv7):
#   recipes/build-image.sh OUTDIR [arm64|armhf]  -> OUTDIR/disk.img (GPT: ESP, root A, root B, data)
#
# 1. the BASE rootfs (Debian packages only) comes from build-base.sh, cached outside the clone;
# 2. the Josev part is layered on a copy: the three distributions of this checkout as wheels
#    (built on the host) plus their dependencies as arm64 / armv7l wheels, installed into
#    /opt/josev/venv (armhf: cffi is Debian's, PyPI has no armv7 wheel of it); the systemd
#    units, broker configuration and service users from
#    meta-josev/recipes-josev/josev-services/files (the same files the Yocto image uses);
#    RAUC's system.conf and a development keyring; GRUB EFI with the A/B grub.cfg;
# 3. the disk is assembled without loop devices: mkfs.ext4 -d / mkfs.vfat + mtools on plain
#    files, sfdisk on the disk file, dd at the partition offsets.
set -euo pipefail
# shellcheck source=recipes/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$(realpath -m "${1:?usage: build-image.sh OUTDIR [arm64|armhf]}")"
ARCH="${2:-arm64}"
case "$ARCH" in
    arm64) MACHINE=aarch64; EFI_NAME=BOOTAA64.EFI; SYSTEM_SITE=false ;;
    # The venv sees Debian's dist-packages: python3-cffi is the one dependency no wheel covers.
    armhf) MACHINE=armv7l; EFI_NAME=BOOTARM.EFI; SYSTEM_SITE=true ;;
    *) die "unsupported architecture $ARCH (arm64 or armhf)" ;;
esac
PY=python3.11
ESP_MIB=32
ROOT_MIB=1024
DATA_MIB=128
HOST_PYTHON="${JOSEV_HOST_PYTHON:-$REPO/.venv/bin/python}"
[ -x "$HOST_PYTHON" ] || HOST_PYTHON=python3

start=$(date +%s)
base="$("$RECIPES/build-base.sh" "$ARCH")"
log "base rootfs: $base"
mkdir -p "$OUT"
work="$OUT/work"
rm -rf "$work"
mkdir -p "$work"
root="$work/rootfs"

# --- wheels -----------------------------------------------------------------------------------
# The checkout's distributions are pure Python: built here. Their dependencies are downloaded
# once as wheels for the target (cached by the dependency declarations), so a warm run needs no
# network.
wheels="$work/wheels"
mkdir -p "$wheels"
"$HOST_PYTHON" -m pip wheel -q --no-deps -w "$wheels" "$REPO/app" "$REPO/hal" "$REPO/ota" >&2
constraints="$RECIPES/constraints-$ARCH.txt"
dep_key="$(cat "$REPO/app/pyproject.toml" "$REPO/hal/pyproject.toml" "$REPO/ota/pyproject.toml" \
    "$RECIPES/build-image.sh" "$RECIPES/resolve-wheels.py" "$RECIPES/base-packages-$ARCH.txt" \
    $( [ -f "$constraints" ] && echo "$constraints") | sha256sum | cut -c1-16)"
deps="$CACHE/wheels-$ARCH-$dep_key"
PLATFORMS=()
# bookworm has glibc 2.36: every manylinux tag up to it.
for tag in manylinux_2_36 manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_17 manylinux2014; do
    PLATFORMS+=(--platform "${tag}_$MACHINE")
done
PLATFORM_ARGS=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
    "${PLATFORMS[@]}")
if [ ! -f "$deps/.complete" ]; then
    log "downloading $ARCH dependency wheels into $deps"
    rm -rf "$deps" && mkdir -p "$deps"
    if [ "$SYSTEM_SITE" = true ]; then
        # Some requirements are met by the base's Debian packages: pip's resolver cannot be
        # told so, resolve-wheels.py walks the graph (wheels only; fails on a missing one).
        "$HOST_PYTHON" "$RECIPES/resolve-wheels.py" --rootfs "$base" --dest "$deps" \
            --machine "$MACHINE" "${PLATFORMS[@]}" \
            $( [ -f "$constraints" ] && echo "--constraints $constraints") \
            "$wheels"/*.whl >&2
    else
        "$HOST_PYTHON" -m pip download -q "${PLATFORM_ARGS[@]}" -d "$deps" \
            --find-links "$wheels" josev josev-hal josev-ota >&2
        # The checkout's own wheels are rebuilt every time; keep only the dependencies.
        rm -f "$deps"/josev-*.whl "$deps"/josev_*.whl
    fi
    touch "$deps/.complete"
fi

# --- root filesystem ----------------------------------------------------------------------------
log "copying the base rootfs"
cp -a "$base" "$root"
rm -f "$root/.josev-base-complete"

venv=/opt/josev/venv
site="$root$venv/lib/$PY/site-packages"
mkdir -p "$root$venv/bin" "$site"
ln -s "/usr/bin/$PY" "$root$venv/bin/python3"
ln -s python3 "$root$venv/bin/python"
printf 'home = /usr/bin\ninclude-system-site-packages = %s\nversion = 3.11\n' "$SYSTEM_SITE" \
    > "$root$venv/pyvenv.cfg"
"$HOST_PYTHON" -m pip install -q --no-deps --no-index --target "$site" "${PLATFORM_ARGS[@]}" \
    "$deps"/*.whl "$wheels"/*.whl >&2
rm -rf "$site/bin"
# Console scripts of the three distributions, pointing at the image's interpreter.
"$HOST_PYTHON" - "$site" "$root/usr/bin" "$venv/bin/python3" <<'PYEOF'
import configparser, pathlib, sys
site, bindir, python = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
for dist in ("josev", "josev_hal", "josev_ota"):
    (info,) = site.glob(f"{dist}-*.dist-info")
    entry_points = configparser.ConfigParser()
    entry_points.read(info / "entry_points.txt")
    for name, target in entry_points["console_scripts"].items():
        module, _, func = target.partition(":")
        script = bindir / name
        script.write_text(f"#!{python}\nimport sys\nfrom {module} import {func}\n"
                          f"sys.exit({func}())\n")
        script.chmod(0o755)
        print(f"script {name} -> {target}")
PYEOF
# The root filesystem is read-only at run time: compile the byte code now (same Python 3.11).
"$HOST_PYTHON" -m compileall -q -j 2 --invalidation-mode unchecked-hash -d "$venv/lib/$PY/site-packages" \
    "$site" >/dev/null || true

# Units, broker configuration and users: the one source of truth shared with meta-josev.
units="$root/usr/lib/systemd/system"
install -m 0644 "$LAYER_FILES"/josev-{iso15118,hal,ota,ocpp,broker-credentials,mark-good}.service "$units/"
install -d "$units/mosquitto.service.d"
install -m 0644 "$LAYER_FILES/mosquitto.service.d/josev.conf" "$units/mosquitto.service.d/"
install -D -m 0755 "$LAYER_FILES/josev-broker-credentials" "$root/usr/libexec/josev/josev-broker-credentials"
install -m 0644 "$LAYER_FILES/mosquitto.conf" "$root/etc/mosquitto/mosquitto.conf"
install -m 0644 "$LAYER_FILES/josev.acl" "$root/etc/mosquitto/josev.acl"
install -D -m 0644 "$LAYER_FILES/josev.toml" "$root/etc/josev/josev.toml"
install -d "$root/etc/josev/josev.toml.d"
install -D -m 0644 "$LAYER_FILES/josev-sysusers.conf" "$root/usr/lib/sysusers.d/josev.conf"
install -D -m 0644 "$LAYER_FILES/josev-tmpfiles.conf" "$root/usr/lib/tmpfiles.d/josev.conf"
systemd-sysusers --root="$root" >&2
# The test harness (this image only).
install -m 0644 "$RECIPES/files/josev-image-check.service" "$units/"
install -m 0755 "$RECIPES/files/josev-image-check" "$root/usr/libexec/josev/josev-image-check"
# The in-image charging session (josev demo), run by the check unit after the boot checks;
# JOSEV_IMAGE_SESSION=0 leaves it out (the host can also skip it per boot: no-session).
if [ "${JOSEV_IMAGE_SESSION:-1}" = 1 ]; then
    install -m 0755 "$RECIPES/files/josev-image-session-check" \
        "$root/usr/libexec/josev/josev-image-session-check"
fi
# josev-ocpp stays disabled until the OCPP service exists.
systemctl --root="$root" enable josev-iso15118.service josev-hal.service josev-ota.service \
    josev-broker-credentials.service josev-mark-good.service josev-image-check.service \
    mosquitto.service >&2
# Debian's arm64 kernel has no driver for the TPM QEMU's virt machine offers (tpm-tis-device;
# the kernel has only CRB built in), so tpm2-abrmd would wait 90 s for /dev/tpm0 and fail: it
# stays installed but disabled in this test image. The units' ordering on it is unaffected.
systemctl --root="$root" disable tpm2-abrmd.service >&2
# Nothing may write to the read-only root on a timer; the test image has no network to manage.
systemctl --root="$root" mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer e2scrub_reap.service >&2 2>/dev/null || true

# Mounts, RAUC, identity.
install -m 0644 "$RECIPES/files/fstab" "$root/etc/fstab"
mkdir -p "$root/var/lib/josev" "$root/boot/efi"
install -d "$root/etc/rauc"
sed "s/@ARCH@/$ARCH/" "$RECIPES/files/system.conf" > "$root/etc/rauc/system.conf"
keys="$CACHE/rauc-dev-keys"
"$REPO/meta-josev/scripts/josev-dev-keys" "$keys" >/dev/null
install -m 0644 "$keys/ca.cert.pem" "$root/etc/rauc/ca.cert.pem"
echo josev > "$root/etc/hostname"
: > "$root/etc/machine-id"
git -C "$REPO" describe --always --dirty 2>/dev/null > "$root/etc/josev/image-version" || true

# --- partitions ---------------------------------------------------------------------------------
log "making the partitions"
esp="$work/esp.vfat"
rm -f "$esp" && truncate -s "${ESP_MIB}M" "$esp"
mkfs.vfat -n JOSEV-ESP "$esp" >/dev/null
mmd -i "$esp" ::/EFI ::/EFI/BOOT
mcopy -i "$esp" "$root/usr/lib/josev-image/$EFI_NAME" "::/EFI/BOOT/$EFI_NAME"
mcopy -i "$esp" "$RECIPES/files/grub.cfg" ::/EFI/BOOT/grub.cfg
# A GRUB environment block (exactly 1024 bytes): slot A good and untried, B empty.
"$HOST_PYTHON" - "$work/grubenv" <<'PYEOF'
import sys
body = "# GRUB Environment Block\nORDER=A B\nA_OK=1\nB_OK=0\nA_TRY=0\nB_TRY=0\n"
open(sys.argv[1], "w").write(body + "#" * (1024 - len(body)))
PYEOF
mcopy -i "$esp" "$work/grubenv" ::/EFI/BOOT/grubenv
rootfs="$work/rootfs_a.ext4"
rm -f "$rootfs"
mkfs.ext4 -q -L rootfs_a -d "$root" "$rootfs" "${ROOT_MIB}M"
data="$work/data.ext4"
rm -f "$data"
mkfs.ext4 -q -L josev-data "$data" "${DATA_MIB}M"

disk="$OUT/disk.img"
rm -f "$disk"
total=$(( 1 + ESP_MIB + ROOT_MIB + ROOT_MIB + DATA_MIB + 1 ))
truncate -s "${total}M" "$disk"
sfdisk -q "$disk" <<SFDISK
label: gpt
start=1MiB, size=${ESP_MIB}MiB, type=uefi, name=esp
size=${ROOT_MIB}MiB, type=linux, name=rootfs_a
size=${ROOT_MIB}MiB, type=linux, name=rootfs_b
size=${DATA_MIB}MiB, type=linux, name=josev-data
SFDISK
put() {  # put IMAGE PARTITION_NUMBER: dd the image at the partition's offset
    local offset
    offset=$(sfdisk -J "$disk" | "$HOST_PYTHON" -c \
        "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$2-1]; print(p['start'])")
    dd if="$1" of="$disk" bs=512 seek="$offset" conv=notrunc,sparse status=none
}
put "$esp" 1
put "$rootfs" 2
put "$data" 4
# The root filesystem image stays: it is what an update bundle carries (make-bundle.sh).
mv "$rootfs" "$OUT/rootfs.ext4"
rm -f "$esp" "$data"
rm -rf "$root"
size_rootfs=$(du -sb "$base" | cut -f1)
log "image done in $(( $(date +%s) - start )) s: $disk"
printf '{"arch": "%s", "disk": "%s", "disk_bytes": %d, "disk_allocated_bytes": %d, "base_rootfs_bytes": %d, "build_s": %d}\n' \
    "$ARCH" "$disk" "$(stat -c %s "$disk")" "$(( $(stat -c %b "$disk") * 512 ))" "$size_rootfs" \
    "$(( $(date +%s) - start ))" > "$OUT/image.json"
cat "$OUT/image.json"
