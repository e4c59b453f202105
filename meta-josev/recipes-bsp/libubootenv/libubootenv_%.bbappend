# Where fw_printenv/fw_setenv (and so RAUC) find U-Boot's environment (DISTRO = "josev" only).
FILESEXTRAPATHS:prepend:josev := "${THISDIR}/files:"
SRC_URI:append:josev = " file://fw_env.config"

do_install:append:josev() {
    install -d ${D}${sysconfdir}
    install -m 0644 ${UNPACKDIR}/fw_env.config ${D}${sysconfdir}/fw_env.config
}
FILES:${PN}-bin:append:josev = " ${sysconfdir}/fw_env.config"
