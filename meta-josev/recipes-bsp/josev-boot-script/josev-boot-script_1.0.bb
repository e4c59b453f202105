SUMMARY = "Josev A/B U-Boot boot script (RAUC uboot backend)"
DESCRIPTION = "boot.scr for the boot partition: picks slot A or B from BOOT_ORDER and the \
attempt counters, and boots that slot's kernel with rauc.slot= on the command line."
HOMEPAGE = "https://josev.invalid/"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

DEPENDS = "u-boot-mkimage-native"

SRC_URI = "file://boot.cmd.in"

UNPACKDIR ??= "${WORKDIR}"
S = "${UNPACKDIR}"

inherit deploy kernel-arch nopackages

PACKAGE_ARCH = "${MACHINE_ARCH}"

JOSEV_BOOT_CMD = "${@'booti' if d.getVar('KERNEL_IMAGETYPE') == 'Image' else 'bootz'}"
# By default the kernel's device tree is loaded from the slot; machines whose firmware or QEMU
# hands U-Boot a device tree override JOSEV_FDT_LOAD/JOSEV_FDT_ADDR in the distro conf.
JOSEV_FDT_LOAD ?= "load ${JOSEV_BOOT_DEVTYPE} 0:\${josev_part} \${fdt_addr_r} /boot/${@os.path.basename((d.getVar('KERNEL_DEVICETREE') or 'none.dtb').split()[0])}"
JOSEV_FDT_ADDR ?= "\${fdt_addr_r}"

do_compile() {
    sed -e 's,@PART_PREFIX@,${JOSEV_PART_PREFIX},g' \
        -e 's,@CONSOLE@,${JOSEV_SERIAL_CONSOLE},g' \
        -e 's,@DEVTYPE@,${JOSEV_BOOT_DEVTYPE},g' \
        -e 's,@KERNEL_IMAGE@,${KERNEL_IMAGETYPE},g' \
        -e 's,@FDT_LOAD@,${JOSEV_FDT_LOAD},g' \
        -e 's,@FDT_ADDR@,${JOSEV_FDT_ADDR},g' \
        -e 's,@BOOTCMD@,${JOSEV_BOOT_CMD},g' \
        ${S}/boot.cmd.in > ${B}/boot.cmd
    mkimage -A ${UBOOT_ARCH} -T script -C none -n "Josev A/B" -d ${B}/boot.cmd ${B}/boot.scr
}

do_deploy() {
    install -m 0644 ${B}/boot.scr ${DEPLOYDIR}/boot.scr
}
addtask deploy after do_compile before do_build
