#!/usr/bin/env bash
# Build the BASE root filesystem of the QEMU test image: Debian packages only, nothing from this
# checkout, cached outside the clone under a key made of the package list and this script.
#
#   recipes/build-base.sh [arm64|armhf]   prints the path of the cached base rootfs directory
#
# Why these tricks (measured on a 2-core builder, see docs/image.md):
# - every maintainer script runs under qemu-user; the expensive one is initramfs-tools building
#   an initramfs with MODULES=most. An essential hook pins MODULES=list with just the virtio and
#   ext4 modules QEMU's virt machine needs, which cuts the base build from ~50 to ~7 minutes.
# - documentation, man pages and locales are never installed (dpkg path-exclude).
# - the standalone GRUB EFI binary is made here, from the arm64 grub modules, because it does not
#   depend on the checkout either.
set -euo pipefail
# shellcheck source=recipes/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARCH="${1:-arm64}"
case "$ARCH" in
    arm64) QARCH=aarch64; GRUB_TARGET=arm64-efi; EFI_NAME=BOOTAA64.EFI ;;
    armhf) QARCH=arm; GRUB_TARGET=arm-efi; EFI_NAME=BOOTARM.EFI ;;
    *) die "unsupported architecture $ARCH (arm64 or armhf)" ;;
esac
KEY="$(base_key "$ARCH")"
OUT="$CACHE/base-$ARCH-$KEY"
if [ -f "$OUT/.josev-base-complete" ]; then
    echo "$OUT"; exit 0
fi

ensure_binfmt "$QARCH" "$ARCH"
mkdir -p "$CACHE"
rm -rf "$OUT.tmp"
log "building base rootfs $OUT (packages: $(package_csv "$RECIPES/base-packages-$ARCH.txt"))"
start=$(date +%s)
# The hooks run on the host with the rootfs path as $1.
essential_hook='mkdir -p "$1/etc/initramfs-tools/conf.d"
echo MODULES=list > "$1/etc/initramfs-tools/conf.d/josev-modules.conf"
printf "%s\n" virtio_mmio virtio_pci virtio_blk virtio_net ext4 > "$1/etc/initramfs-tools/modules"'
grub_modules="part_gpt fat ext2 normal linux boot configfile loadenv test echo search
search_label search_fs_file gzio reboot halt sleep cat ls true"
customize_hook='mkdir -p "$1/usr/lib/josev-image"
printf "%s\n" "search --no-floppy --label --set=root JOSEV-ESP" "set prefix=(\$root)/EFI/BOOT" \
    "configfile \$prefix/grub.cfg" > "$1/usr/lib/josev-image/grub-early.cfg"
chroot "$1" grub-mkimage -O '"$GRUB_TARGET"' -o /usr/lib/josev-image/'"$EFI_NAME"' \
    -c /usr/lib/josev-image/grub-early.cfg -p /EFI/BOOT '"$(echo $grub_modules)"''

# nice: the builder is shared (benchmarks run next to it); only the wall time suffers.
nice -n 19 mmdebstrap --arch="$ARCH" --variant=minbase \
    --include="$(package_csv "$RECIPES/base-packages-$ARCH.txt")" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --essential-hook="$essential_hook" \
    --customize-hook="$customize_hook" \
    "$SUITE" "$OUT.tmp" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" >&2
touch "$OUT.tmp/.josev-base-complete"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
log "base rootfs done in $(( $(date +%s) - start )) s: $(du -sh "$OUT" | cut -f1)"
echo "$OUT"
