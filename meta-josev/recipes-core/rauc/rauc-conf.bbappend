# Josev's system.conf (per machine through the JOSEV_* layout variables of the distro) and the
# keyring from the signing keys folder. DISTRO = "josev" only.
FILESEXTRAPATHS:prepend:josev := "${THISDIR}/files:${JOSEV_RAUC_KEY_DIR}:"

do_install:append:josev() {
    sed -i -e 's,@COMPATIBLE@,${JOSEV_RAUC_COMPATIBLE},g' \
           -e 's,@PART_PREFIX@,${JOSEV_PART_PREFIX},g' \
           -e 's,@MACHINE@,${MACHINE},g' \
           ${D}${sysconfdir}/rauc/system.conf
}
