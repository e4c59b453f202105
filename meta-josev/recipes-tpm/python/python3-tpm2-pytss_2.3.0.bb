SUMMARY = "Python bindings for the TPM 2.0 TSS (ESAPI, FAPI, TCTI loader, marshalling)"
DESCRIPTION = "josev-hal's TPM key store imports tpm2_pytss.cryptography, which tpm2-pytss \
added in 2.3.0; meta-security/meta-tpm scarthgap has 2.1.0. Built like meta-tpm's recipe \
(the setup.py of 2.1.0 and 2.3.0 generate the CFFI bindings the same way); wins by layer \
priority. Used only with meta-tpm in the build (it provides tpm2-tss)."
HOMEPAGE = "https://github.com/tpm2-software/tpm2-pytss"
LICENSE = "BSD-2-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=500b2e742befc3da00684d8a1d5fd9da"

SRC_URI[sha256sum] = "20071129379656f5f3c3bc16d364612672b147d81191fb4eb9f9ff9fbee48410"

PYPI_PACKAGE = "tpm2-pytss"

DEPENDS = "python3-asn1crypto-native \
    python3-cryptography-native \
    python3-pkgconfig-native \
    python3-pycparser-native \
    python3-setuptools-scm-native \
    tpm2-tss \
"

inherit autotools pkgconfig pypi setuptools3_legacy

# setup.cfg's install_requires; libtss2 holds the ESAPI/FAPI/TCTI libraries the bindings load.
RDEPENDS:${PN} += "libtss2 \
    python3-asn1crypto \
    python3-cffi \
    python3-cryptography \
    python3-packaging \
    python3-pyyaml \
"
