SUMMARY = "Controller Area Network interface module for Python"
DESCRIPTION = "python-can >= 4.3 (josev-hal's range); meta-python scarthgap has 4.2.2. \
4.4.2 is the newest release whose build needs no newer setuptools than scarthgap's."
HOMEPAGE = "https://github.com/hardbyte/python-can"
LICENSE = "LGPL-3.0-only"
LIC_FILES_CHKSUM = "file://LICENSE.txt;md5=e6a600fd5e1d9cbde2d983680233ad02"

SRC_URI[sha256sum] = "1c46c0935f39f7a9c3e76b03249af0580689ebf7a1844195e92f87257f009df5"

PYPI_PACKAGE = "python_can"

inherit pypi python_setuptools_build_meta

RDEPENDS:${PN} += "python3-ctypes \
    python3-logging \
    python3-misc \
    python3-msgpack \
    python3-packaging \
    python3-typing-extensions \
    python3-wrapt \
"
