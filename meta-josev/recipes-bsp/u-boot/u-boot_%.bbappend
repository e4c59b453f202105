# The environment lives in a FAT file on the boot partition (RAUC's uboot backend edits it).
# DISTRO = "josev" only.
FILESEXTRAPATHS:prepend:josev := "${THISDIR}/files:"
SRC_URI:append:josev = " file://josev-env-fat-${JOSEV_BOOT_DEVTYPE}.cfg"
