# Josev's broker configuration replaces the stock one: loopback only, no anonymous clients,
# per-device passwords on the data partition, one ACL per service (josev-services). Only for
# DISTRO = "josev": adding the layer changes nothing for other distributions.
FILESEXTRAPATHS:prepend:josev := "${THISDIR}/../../recipes-josev/josev-services/files:"

SRC_URI:append:josev = " file://mosquitto.conf"

do_install:append:josev() {
    install -m 0644 ${UNPACKDIR}/mosquitto.conf ${D}${sysconfdir}/mosquitto/mosquitto.conf
}
