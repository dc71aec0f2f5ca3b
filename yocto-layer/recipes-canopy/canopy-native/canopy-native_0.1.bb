SUMMARY = "Canopy operator tools for the build host: canopy, canopy-agent and the image scripts"
DESCRIPTION = "The canopy operator CLI (dist/canopy.cjs and the bundle it starts, \
dist/canopy-cli.cjs: init, commit, sign, static-delta, summary, fsck...), the device agent bundle (dist/canopy-agent.cjs, for its admin commands \
that lay out a sysroot), and the scripts the canopy image types run, installed into the \
native sysroot and run on nodejs-native."
SECTION = "devel"

LICENSE = "Apache-2.0 & MIT & LGPL-3.0-or-later"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10 \
                    file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302 \
                    file://${COMMON_LICENSE_DIR}/LGPL-3.0-or-later;md5=c51d3eef3be114124d11349ca0d7e117"

# Prebuilt bundles from the Canopy tree (`npm run build`), like canopy-agent; the
# image scripts come from this layer's scripts/ folder.
FILESEXTRAPATHS:prepend := "${CANOPY_LAYERDIR}/scripts:${CANOPY_SRCDIR}:"
# The CLI's V8 code cache (dist/canopy-cli.*.v8cache) is left out: it is made for the
# build machine's Node.js, and nodejs-native would refuse it unless it is the same build.
SRC_URI = "file://dist/canopy.cjs \
           file://dist/canopy-cli.cjs \
           file://dist/canopy-agent.cjs \
           file://canopy-prepare-rootfs \
           file://canopy-make-sysroot \
"

S = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}"

inherit native

# The bundles run on this node; the host's node is not used (it is not in HOSTTOOLS).
DEPENDS = "nodejs-native"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${libdir}/canopy ${D}${bindir}
    install -m 0644 ${S}/dist/canopy.cjs ${S}/dist/canopy-cli.cjs ${S}/dist/canopy-agent.cjs ${D}${libdir}/canopy/
    for tool in canopy canopy-agent; do
        # relative to the wrapper: native sysroots are copied per recipe
        printf '#!/bin/sh\nexec node "$(dirname "$0")/../lib/canopy/%s.cjs" "$@"\n' "$tool" > ${D}${bindir}/$tool
        chmod 0755 ${D}${bindir}/$tool
    done
    install -m 0755 ${S}/canopy-prepare-rootfs ${S}/canopy-make-sysroot ${D}${bindir}/
}
