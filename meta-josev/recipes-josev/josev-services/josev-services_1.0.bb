SUMMARY = "Josev systemd units, service users and broker configuration"
DESCRIPTION = "The units of josev-iso15118, josev-hal, josev-ota and josev-ocpp (Type=notify, \
watchdog, hardening), the first-boot broker credentials, the broker ACL, the service users \
and the RAUC mark-good unit. The same files build the Debian-based QEMU test image."
HOMEPAGE = "https://josev.invalid/"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

SRC_URI = " \
    file://josev-iso15118.service \
    file://josev-hal.service \
    file://josev-ota.service \
    file://josev-ocpp.service \
    file://josev-broker-credentials.service \
    file://josev-broker-credentials \
    file://josev-mark-good.service \
    file://mosquitto.service.d/josev.conf \
    file://josev.acl \
    file://josev-sysusers.conf \
    file://josev-tmpfiles.conf \
    file://josev.toml \
"

UNPACKDIR ??= "${WORKDIR}"
S = "${UNPACKDIR}"

inherit systemd useradd allarch

# josev-ocpp.service is installed but not enabled until the OCPP service exists.
SYSTEMD_SERVICE:${PN} = " \
    josev-iso15118.service \
    josev-hal.service \
    josev-ota.service \
    josev-broker-credentials.service \
    josev-mark-good.service \
"
SYSTEMD_AUTO_ENABLE = "enable"

# The same users as josev-sysusers.conf (systemd_sysusers_check compares them at rootfs time):
# the root filesystem is read-only, so they must exist in the image.
USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = " \
    --system --home-dir ${localstatedir}/lib/josev/iso15118 --no-create-home --shell /sbin/nologin --user-group josev-iso15118; \
    --system --home-dir ${localstatedir}/lib/josev/hal --no-create-home --shell /sbin/nologin --user-group --groups dialout josev-hal; \
    --system --home-dir ${localstatedir}/lib/josev/ota --no-create-home --shell /sbin/nologin --user-group josev-ota; \
    --system --home-dir ${localstatedir}/lib/josev/ocpp --no-create-home --shell /sbin/nologin --user-group josev-ocpp \
"

do_install() {
    install -d ${D}${systemd_system_unitdir} ${D}${systemd_system_unitdir}/mosquitto.service.d
    for unit in josev-iso15118 josev-hal josev-ota josev-ocpp josev-broker-credentials josev-mark-good; do
        install -m 0644 ${S}/$unit.service ${D}${systemd_system_unitdir}/
    done
    install -m 0644 ${S}/mosquitto.service.d/josev.conf ${D}${systemd_system_unitdir}/mosquitto.service.d/
    install -d ${D}${libexecdir}/josev
    install -m 0755 ${S}/josev-broker-credentials ${D}${libexecdir}/josev/
    install -d ${D}${sysconfdir}/mosquitto ${D}${sysconfdir}/josev/josev.toml.d
    install -m 0644 ${S}/josev.acl ${D}${sysconfdir}/mosquitto/josev.acl
    install -m 0644 ${S}/josev.toml ${D}${sysconfdir}/josev/josev.toml
    install -d ${D}${nonarch_libdir}/sysusers.d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${S}/josev-sysusers.conf ${D}${nonarch_libdir}/sysusers.d/josev.conf
    install -m 0644 ${S}/josev-tmpfiles.conf ${D}${nonarch_libdir}/tmpfiles.d/josev.conf
}

FILES:${PN} += "${systemd_system_unitdir} \
    ${libexecdir}/josev \
    ${nonarch_libdir}/sysusers.d \
    ${nonarch_libdir}/tmpfiles.d \
"
CONFFILES:${PN} = "${sysconfdir}/josev/josev.toml"

RDEPENDS:${PN} = "coreutils mosquitto rauc"
