SUMMARY = "RAUC update bundle of the Josev appliance"
DESCRIPTION = "A signed verity bundle that carries josev-image's root filesystem for slot A or B."
HOMEPAGE = "https://josev.invalid/"
LICENSE = "MIT"

# Nothing to fetch: the bundle class takes the image from DEPLOY_DIR_IMAGE.
SRC_URI = ""

inherit bundle

RAUC_BUNDLE_FORMAT = "verity"
RAUC_BUNDLE_COMPATIBLE = "${JOSEV_RAUC_COMPATIBLE}"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}"
RAUC_BUNDLE_DESCRIPTION = "Josev appliance ${DISTRO_VERSION} for ${MACHINE}"
RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "josev-image"
RAUC_SLOT_rootfs[fstype] = "ext4"
