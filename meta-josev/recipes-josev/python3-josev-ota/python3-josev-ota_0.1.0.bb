SUMMARY = "Josev OTA: A/B updates with RAUC, driven over the Josev API"
DESCRIPTION = "Receives update_firmware, verifies and installs the bundle with RAUC over D-Bus, \
reports firmware_status and lets the bootloader fall back when the new slot is not healthy."

require recipes-josev/python3-josev/josev-src.inc

SRC_URI = "file://ota/ \
           file://LICENSE \
          "
S = "${UNPACKDIR}/ota"

inherit python_setuptools_build_meta

RDEPENDS:${PN} += "python3-josev \
    rauc \
"
