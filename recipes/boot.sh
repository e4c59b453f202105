#!/usr/bin/env bash
# Boot the QEMU test image once, bounded, and collect what its check unit reports:
#   recipes/boot.sh DISK RESULTS_DIR [TIMEOUT_S] [arm64|armhf]
# arm64: qemu-system-aarch64 (TCG, cortex-a57); armhf: qemu-system-arm (TCG, cortex-a15,
# virt,highmem=off: Debian's armmp-lpae kernel); 2 CPUs, 1 GiB. UEFI firmware (edk2) -> GRUB
# EFI -> the slot's kernel. The guest's
# josev-image-check.service writes result.json and journal.txt to RESULTS_DIR over 9p and
# powers off; QEMU runs with -no-reboot under `timeout`, so a hung guest ends the run too.
# The console goes to RESULTS_DIR/console.log. DISK is used in place (copy it first to keep
# a pristine image).
set -euo pipefail
# shellcheck source=recipes/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DISK="$(realpath "${1:?usage: boot.sh DISK RESULTS_DIR [TIMEOUT_S] [arm64|armhf]}")"
RESULTS="$(realpath -m "${2:?missing RESULTS_DIR}")"
TIMEOUT_S="${3:-900}"
ARCH="${4:-arm64}"
case "$ARCH" in
    arm64) QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a57)
           FIRMWARE=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd; FIRMWARE_PKG=qemu-efi-aarch64 ;;
    armhf) QEMU=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15)
           FIRMWARE=/usr/share/AAVMF/AAVMF32_CODE.fd; FIRMWARE_PKG=qemu-efi-arm ;;
    *) die "unsupported architecture $ARCH (arm64 or armhf)" ;;
esac
[ -f "$FIRMWARE" ] || die "missing $FIRMWARE (Debian package $FIRMWARE_PKG)"

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.txt "$RESULTS"/*.log
# No TPM: QEMU's virt machine offers only tpm-tis-device, which Debian's arm64 kernel has no
# driver for (docs/image.md).

log "booting $DISK ($ARCH, timeout ${TIMEOUT_S} s)"
start=$(date +%s.%N)
rc=0
timeout --kill-after=10 "$TIMEOUT_S" "${QEMU[@]}" \
    -smp 2 -m 1024 -nographic -no-reboot \
    -bios "$FIRMWARE" \
    -drive "file=$DISK,if=none,format=raw,id=hd0" -device virtio-blk-device,drive=hd0 \
    -fsdev "local,id=results,path=$RESULTS,security_model=none" \
    -device virtio-9p-device,fsdev=results,mount_tag=josev-results \
    -nic none \
    > "$RESULTS/console.log" 2>&1 < /dev/null || rc=$?
end=$(date +%s.%N)
printf '{"qemu_rc": %d, "wall_s": %.1f}\n' "$rc" "$(awk "BEGIN{print $end - $start}")" > "$RESULTS/boot.json"
cat "$RESULTS/boot.json"
if [ "$rc" -ne 0 ]; then
    log "qemu ended with $rc (124 = timeout); console tail:"
    tail -20 "$RESULTS/console.log" >&2
    exit "$rc"
fi
[ -f "$RESULTS/result.json" ] || die "the guest powered off without writing result.json"
