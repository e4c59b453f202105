SUMMARY = "The idiomatic asyncio MQTT client, wrapped around paho-mqtt"
DESCRIPTION = "asyncio client of the Josev API. 2.1.0 is the newest release that accepts \
the paho-mqtt 2.0 of meta-python scarthgap."
HOMEPAGE = "https://github.com/empicano/aiomqtt"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=a462083fa4d830bdcf8c22a8ddf453cf"

SRC_URI[sha256sum] = "8501c373c00fa7074a990a951285f31340c29b6541aea15e040da9ea33d79719"

inherit pypi python_poetry_core

# The sdist names poetry-dynamic-versioning as its backend, which only rewrites the version from
# git tags; the version in the sdist is final, so poetry-core builds it directly.
PEP517_BUILD_API = "poetry.core.masonry.api"

RDEPENDS:${PN} += "python3-asyncio \
    python3-logging \
    python3-paho-mqtt \
"
