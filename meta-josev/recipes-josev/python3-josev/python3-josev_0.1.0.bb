SUMMARY = "Josev: the protocol brain of an EV charging station"
DESCRIPTION = "SLAC, SDP, the SECC for DIN 70121 and ISO 15118-2/-20, the EV simulator and \
the Josev MQTT API client shared by every Josev service."

require josev-src.inc

SRC_URI = "file://app/ \
           file://LICENSE \
          "
S = "${UNPACKDIR}/app"

inherit python_setuptools_build_meta

RDEPENDS:${PN} += "python3-aiomqtt \
    python3-asyncio \
    python3-core \
    python3-cryptography \
    python3-json \
    python3-logging \
    python3-pydantic \
    python3-scapy \
    python3-sqlite3 \
"
