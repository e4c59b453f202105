SUMMARY = "Josev charging-station appliance image"
DESCRIPTION = "Read-only root filesystem with the Josev services, the broker, RAUC and the TPM \
stack; an A/B + data partition layout (wic/josev-ab.wks.in)."
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "read-only-rootfs"

IMAGE_INSTALL = " \
    packagegroup-core-boot \
    kernel-image \
    kernel-devicetree \
    kernel-modules \
    python3-josev \
    python3-josev-hal \
    python3-josev-ota \
    josev-services \
    mosquitto \
    mosquitto-clients \
    rauc \
    libubootenv-bin \
    e2fsprogs-mke2fs \
    ${@bb.utils.contains('DISTRO_FEATURES', 'tpm2', 'tpm2-tools tpm2-abrmd', '', d)} \
"

IMAGE_FSTYPES += "ext4 wic wic.bmap"
# U-Boot is built for every machine (on QEMU it is the -bios; on boards it goes to the boot
# partition with the firmware) and the boot script reads the kernel from the slot's /boot.
EXTRA_IMAGEDEPENDS += "virtual/bootloader"
WKS_FILE = "josev-ab.wks.in"
# The boot partition carries the U-Boot boot script next to the firmware files.
WKS_FILE_DEPENDS:append = " josev-boot-script"
IMAGE_BOOT_FILES:append = " boot.scr"
do_image_wic[depends] += "josev-boot-script:do_deploy"
