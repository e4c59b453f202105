SUMMARY = "Josev HAL: the charging-station side of the Josev API"
DESCRIPTION = "CP/PP, contactors, IMD, RFID, meter, CAN power modules and the TPM, each behind \
one interface with a Linux backend and a simulator backend."

require recipes-josev/python3-josev/josev-src.inc

SRC_URI = "file://hal/ \
           file://LICENSE \
          "
S = "${UNPACKDIR}/hal"

inherit python_setuptools_build_meta

RDEPENDS:${PN} += "python3-josev \
    python3-can \
    python3-pyserial \
    python3-pyudev \
    ${@bb.utils.contains('DISTRO_FEATURES', 'tpm2', 'python3-tpm2-pytss', '', d)} \
"
