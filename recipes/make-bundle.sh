#!/usr/bin/env bash
# Make a signed RAUC bundle (verity format) of an image built by build-image.sh:
#   recipes/make-bundle.sh OUTDIR [VERSION]   -> OUTDIR/update.raucb
# It carries OUTDIR/rootfs.ext4 for the rootfs slot class, signed with the development keys in
# the image cache (the image's keyring). lz4 squashfs: ~7 s instead of ~2 min with the default.
set -euo pipefail
# shellcheck source=recipes/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$(realpath "${1:?usage: make-bundle.sh OUTDIR [VERSION]}")"
VERSION="${2:-$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo dev)}"
[ -f "$OUT/rootfs.ext4" ] || die "$OUT/rootfs.ext4 missing: run build-image.sh first"
keys="$CACHE/rauc-dev-keys"
"$REPO/meta-josev/scripts/josev-dev-keys" "$keys" >/dev/null
# The image's own system.conf says what it accepts (the architecture is part of it).
compatible="$(debugfs -R "cat /etc/rauc/system.conf" "$OUT/rootfs.ext4" 2>/dev/null |
    sed -n 's/^compatible=//p')"
[ -n "$compatible" ] || die "no compatible= in $OUT/rootfs.ext4:/etc/rauc/system.conf"
content="$OUT/bundle-content"
rm -rf "$content" "$OUT/update.raucb"
mkdir -p "$content"
ln "$OUT/rootfs.ext4" "$content/rootfs.ext4" 2>/dev/null || cp --sparse=always "$OUT/rootfs.ext4" "$content/"
cat > "$content/manifest.raucm" <<MANIFEST
[update]
compatible=$compatible
version=$VERSION
description=Josev QEMU test image

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MANIFEST
rauc bundle --cert="$keys/development-1.cert.pem" --key="$keys/development-1.key.pem" \
    --keyring="$keys/ca.cert.pem" --mksquashfs-args="-comp lz4" \
    "$content" "$OUT/update.raucb" >&2
rm -rf "$content"
log "bundle $OUT/update.raucb ($(du -h "$OUT/update.raucb" | cut -f1))"
