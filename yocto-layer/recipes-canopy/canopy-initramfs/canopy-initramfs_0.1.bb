SUMMARY = "Makes the Canopy deployment named by ostree= the root file system"
DESCRIPTION = "canopy-prepare-root, which resolves the ostree= kernel argument to a \
deployment and mounts it as the root (with the stateroot's /var, a read-only /usr and \
the physical root on /sysroot), and an initramfs-framework module that runs it. Without \
an initramfs the script runs as init= instead."
SECTION = "base"

LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

SRC_URI = "file://canopy-prepare-root \
           file://canopy-initramfs-module \
           file://canopy-ostree-booted.service \
"

S = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}"

inherit allarch systemd

SYSTEMD_SERVICE:${PN} = "canopy-ostree-booted.service"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${nonarch_libdir}/canopy ${D}/init.d
    install -m 0755 ${S}/canopy-prepare-root ${D}${nonarch_libdir}/canopy/canopy-prepare-root
    install -m 0755 ${S}/canopy-initramfs-module ${D}/init.d/95-canopy
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/canopy-ostree-booted.service ${D}${systemd_system_unitdir}/
}

# canopy-prepare-root: the script, for the initramfs and for init=.
# canopy-initramfs: the unit that writes /run/ostree-booted, with the script; every
#   Canopy image has it.
# initramfs-module-canopy: add it to the initramfs image (PACKAGE_INSTALL) beside
#   initramfs-framework-base and initramfs-module-rootfs.
PACKAGES =+ "canopy-prepare-root initramfs-module-canopy"
FILES:canopy-prepare-root = "${nonarch_libdir}/canopy/canopy-prepare-root"
FILES:${PN} = "${systemd_system_unitdir}/canopy-ostree-booted.service"
RDEPENDS:${PN} = "canopy-prepare-root"
FILES:initramfs-module-canopy = "/init.d/95-canopy"
RDEPENDS:initramfs-module-canopy = "canopy-prepare-root initramfs-framework-base initramfs-module-rootfs"
