#!/usr/bin/env bash
# Prove meta-josev by parsing it with real layers, offline (no source downloads, no build):
#   tests/image/bitbake_parse.sh POKY META_OPENEMBEDDED META_RAUC [MACHINE...]
# For each machine (default: qemuarm64 qemuarm) it runs, with BB_NO_NETWORK = "1":
#   bitbake -p             parse every recipe of the layer set
#   bitbake -g josev-image the full task graph of the image (every dependency resolves)
# and writes the logs to $JOSEV_BITBAKE_BUILD (default /var/cache/josev-image/bitbake-build).
# JOSEV_EXTRA_LAYERS (space-separated layer folders, e.g. meta-security/meta-tpm) are added to
# bblayers.conf after meta-rauc; JOSEV_REQUIRE_RECIPES (space-separated recipe names) must then
# all be in the image's build list (pn-buildlist), or the machine fails.
# bitbake refuses to run as root: as root, the script runs it as the user josev-bitbake.
set -euo pipefail

POKY="$(realpath "${1:?usage: bitbake_parse.sh POKY META_OPENEMBEDDED META_RAUC [MACHINE...]}")"
META_OE="$(realpath "${2:?missing META_OPENEMBEDDED}")"
META_RAUC="$(realpath "${3:?missing META_RAUC}")"
shift 3
MACHINES=("$@")
[ ${#MACHINES[@]} -gt 0 ] || MACHINES=(qemuarm64 qemuarm)
LAYER="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../meta-josev" && pwd)"
BUILD="${JOSEV_BITBAKE_BUILD:-/var/cache/josev-image/bitbake-build}"
BBUSER=josev-bitbake
EXTRA_LAYERS=()
for extra in ${JOSEV_EXTRA_LAYERS:-}; do
    [ -f "$extra/conf/layer.conf" ] || { echo "not a layer: $extra" >&2; exit 2; }
    EXTRA_LAYERS+=("$(realpath "$extra")")
done
REQUIRE_RECIPES="${JOSEV_REQUIRE_RECIPES:-}"

log() { printf '[bitbake-parse %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
    # poky's sanity check wants these host tools even to parse.
    missing=()
    for tool in chrpath diffstat gawk cpio socat lz4c zstd; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing host tools for bitbake: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chrpath diffstat gawk cpio socat lz4 zstd >/dev/null
    fi
    # bitbake insists on the en_US.UTF-8 locale.
    if ! locale -a 2>/dev/null | grep -qi '^en_US.utf-\?8$'; then
        log "generating the en_US.UTF-8 locale"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends locales >/dev/null
        grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
        locale-gen >/dev/null
    fi
    id "$BBUSER" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$BBUSER"
    mkdir -p "$BUILD"
    chown -R "$BBUSER:" "$BUILD"
    exec runuser -u "$BBUSER" -- env JOSEV_BITBAKE_BUILD="$BUILD" \
        JOSEV_EXTRA_LAYERS="${EXTRA_LAYERS[*]}" JOSEV_REQUIRE_RECIPES="$REQUIRE_RECIPES" \
        bash "$(realpath "${BASH_SOURCE[0]}")" "$POKY" "$META_OE" "$META_RAUC" "${MACHINES[@]}"
fi

export LC_ALL=en_US.UTF-8 LANG=en_US.UTF-8
mkdir -p "$BUILD/conf"
# One "  <layer> \" line per extra layer (nothing at all without one: an empty line would end
# the BBLAYERS assignment).
EXTRA_BBLAYERS=""
for extra in "${EXTRA_LAYERS[@]}"; do EXTRA_BBLAYERS+="  $extra \\"$'\n'; done
"$LAYER/scripts/josev-dev-keys" "$BUILD/josev-dev-keys" >/dev/null
cat > "$BUILD/conf/bblayers.conf" <<CONF
POKY_BBLAYERS_CONF_VERSION = "2"
BBPATH = "\${TOPDIR}"
BBFILES ?= ""
BBLAYERS ?= " \\
  $POKY/meta \\
  $POKY/meta-poky \\
  $POKY/meta-yocto-bsp \\
  $META_OE/meta-oe \\
  $META_OE/meta-python \\
  $META_OE/meta-networking \\
  $META_RAUC \\
${EXTRA_BBLAYERS}  $LAYER \\
  "
CONF
log "layers: $POKY $META_OE $META_RAUC ${EXTRA_LAYERS[*]} $LAYER"
cat > "$BUILD/conf/local.conf" <<CONF
CONF_VERSION = "2"
DISTRO = "josev"
MACHINE ??= "qemuarm64"
BB_NO_NETWORK = "1"
BB_NUMBER_THREADS = "2"
BB_NUMBER_PARSE_THREADS = "2"
DL_DIR = "\${TOPDIR}/downloads"
SSTATE_DIR = "\${TOPDIR}/sstate-cache"
JOSEV_RAUC_KEY_DIR = "\${TOPDIR}/josev-dev-keys"
CONF

cd "$BUILD"
export PATH="$POKY/bitbake/bin:$POKY/scripts:$PATH"
export BBPATH="$BUILD" BB_ENV_PASSTHROUGH_ADDITIONS="MACHINE"
status=0
for machine in "${MACHINES[@]}"; do
    export MACHINE="$machine"
    start=$(date +%s)
    log "$machine: bitbake -p"
    if ! bitbake -p > "$BUILD/parse-$machine.log" 2>&1; then
        log "$machine: bitbake -p FAILED (tail of $BUILD/parse-$machine.log):"
        tail -30 "$BUILD/parse-$machine.log" >&2; status=1; continue
    fi
    parsed=$(( $(date +%s) - start ))
    grep -E "^(Parsing of|NOTE: Parsing|Summary|WARNING|ERROR)" "$BUILD/parse-$machine.log" | tail -5 >&2 || true
    log "$machine: bitbake -g josev-image"
    start=$(date +%s)
    mkdir -p "$BUILD/graph-$machine"
    if ! (cd "$BUILD/graph-$machine" && bitbake -g josev-image) > "$BUILD/graph-$machine.log" 2>&1; then
        log "$machine: bitbake -g josev-image FAILED (tail of $BUILD/graph-$machine.log):"
        tail -30 "$BUILD/graph-$machine.log" >&2; status=1; continue
    fi
    graphed=$(( $(date +%s) - start ))
    tasks=$(grep -c -- '->' "$BUILD/graph-$machine/task-depends.dot" || true)
    recipes=$(wc -l < "$BUILD/graph-$machine/pn-buildlist")
    missing_recipes=()
    for recipe in $REQUIRE_RECIPES; do
        if grep -qx "$recipe" "$BUILD/graph-$machine/pn-buildlist"; then
            log "$machine: $recipe is in the build list"
        else
            missing_recipes+=("$recipe")
        fi
    done
    if [ ${#missing_recipes[@]} -gt 0 ]; then
        log "$machine: FAILED: not in the build list of josev-image: ${missing_recipes[*]}"
        status=1; continue
    fi
    log "$machine: OK: parse ${parsed} s, graph ${graphed} s, ${recipes} recipes in the build list, ${tasks} task dependency edges"
    grep -E "^(WARNING|ERROR)" "$BUILD/graph-$machine.log" | sort | uniq -c | head -20 >&2 || true
done
exit "$status"
