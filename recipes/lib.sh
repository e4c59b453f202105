# Shared helpers of the Debian-based QEMU image recipe (sourced, not run).
# shellcheck shell=bash

RECIPES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$RECIPES/.." && pwd)"
LAYER_FILES="$REPO/meta-josev/recipes-josev/josev-services/files"
# Everything built lives outside the clone, so a fresh CI clone reuses a warm cache.
CACHE="${JOSEV_IMAGE_CACHE:-/var/cache/josev-image}"
SUITE="${JOSEV_IMAGE_SUITE:-bookworm}"
# The Debian mirror: the one this host's apt uses (override with JOSEV_IMAGE_MIRROR).
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -f "$f" ] || continue
        awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}
             /^deb / && $3 ~ /\/debian\/?$/ {print $3; exit}' "$f" | grep . && return 0
    done
    return 1
}
MIRROR="${JOSEV_IMAGE_MIRROR:-$(host_mirror || true)}"

log() { printf '[image %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Package names from a list file (comments and blank lines dropped), comma-joined.
package_csv() { grep -v '^\s*#' "$1" | grep -v '^\s*$' | paste -sd, -; }

# Cache key of the base rootfs for ARCH: what it is made of, nothing from the checkout's Python.
base_key() {
    local arch="$1"
    cat "$RECIPES/base-packages-$arch.txt" "$RECIPES/build-base.sh" | sha256sum | cut -c1-16
}

# qemu-user through binfmt_misc runs the arm maintainer scripts; a fresh machine may have the
# handlers installed but not registered (no binfmt_misc mount in a container).
ensure_binfmt() {
    local qarch="$1" debarch="$2"
    if ! arch-test "$debarch" >/dev/null 2>&1; then
        mountpoint -q /proc/sys/fs/binfmt_misc ||
            mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
        update-binfmts --enable "qemu-$qarch" || true
    fi
    arch-test "$debarch" >/dev/null || die "cannot run $debarch binaries (qemu-user-static binfmt)"
}
