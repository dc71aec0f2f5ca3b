SUMMARY = "Canopy device agent: pulls signed OSTree-format commits, deploys them, counts boots, rolls back"
DESCRIPTION = "The canopy-agent daemon and its device admin commands, as the single \
JavaScript bundle dist/canopy-agent.cjs, with its systemd unit, default configuration, \
health-check directories and tmpfiles.d entries from the Canopy tree's device/ folder."
SECTION = "admin"

# Canopy is Apache-2.0. The bundle also embeds its npm dependencies: mqtt, undici and
# ajv (MIT) and openpgp.js (LGPL-3.0-or-later). The tree has no license file of its own
# for them, so the common license texts are checked.
LICENSE = "Apache-2.0 & MIT & LGPL-3.0-or-later"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10 \
                    file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302 \
                    file://${COMMON_LICENSE_DIR}/LGPL-3.0-or-later;md5=c51d3eef3be114124d11349ca0d7e117"

# The bundle is built before BitBake runs (`npm ci && npm run build` in the Canopy
# tree) and fetched as a local file, not built here: building it in a recipe would
# need nodejs-native plus an offline npm cache of every dependency (npm's registry is
# not a BitBake fetcher source), for a result that is plain, architecture-independent
# JavaScript. See README.md, "Why a prebuilt bundle".
FILESEXTRAPATHS:prepend := "${CANOPY_SRCDIR}:"
SRC_URI = "file://dist/canopy-agent.cjs \
           file://device \
"

# scarthgap unpacks into WORKDIR; styhead and later into UNPACKDIR.
S = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}"

inherit systemd features_check
REQUIRED_DISTRO_FEATURES = "systemd"

# The JavaScript is the same everywhere, but the package's dependencies follow the
# machine's boot loader (CANOPY_BOOTLOADER), so it is not allarch: one feed shared by
# two machines with different boot loaders would otherwise get two different packages
# under one name.
PACKAGE_ARCH = "${MACHINE_ARCH}"

# The daemon, the health checks after each boot, and the path unit that starts the
# finalizer once a deployment is staged (canopy-agent-finalize-staged.service has no
# [Install]; the path unit starts it).
SYSTEMD_SERVICE:${PN} = "canopy-agent.service canopy-health.service canopy-agent-finalize-staged.path"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

# Which boot loader the board uses: u-boot, grub or none. It decides the tools the
# agent's field commands want beside it.
CANOPY_BOOTLOADER ??= "u-boot"

CANOPY_HEALTH_DIRS = "required.d wanted.d green.d red.d"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${nonarch_libdir}/canopy ${D}${bindir}
    install -m 0644 ${S}/dist/canopy-agent.cjs ${D}${nonarch_libdir}/canopy/canopy-agent.cjs
    printf '#!/bin/sh\nexec node %s "$@"\n' ${nonarch_libdir}/canopy/canopy-agent.cjs > ${D}${bindir}/canopy-agent
    chmod 0755 ${D}${bindir}/canopy-agent

    dev=${S}/device

    # systemd units and drop-in folders
    install -d ${D}${systemd_system_unitdir}
    for f in $dev/systemd/*; do
        if [ -f "$f" ]; then
            install -m 0644 "$f" ${D}${systemd_system_unitdir}/
        elif [ -d "$f" ]; then
            install -d ${D}${systemd_system_unitdir}/$(basename "$f")
            install -m 0644 "$f"/* ${D}${systemd_system_unitdir}/$(basename "$f")/
        fi
    done

    # default configuration, the lowest layer under /etc/canopy/config.d and /run/canopy/config.d
    install -d ${D}${nonarch_libdir}/canopy/config.d ${D}${sysconfdir}/canopy/config.d
    for f in $dev/config.d/*.json; do
        if [ -f "$f" ]; then
            install -m 0644 "$f" ${D}${nonarch_libdir}/canopy/config.d/
        fi
    done

    # health checks (device/README.md): the image's checks and their NAME.json settings
    # in /usr/lib/canopy/health, empty folders in /etc/canopy/health for local ones.
    # Modes are kept: only executables are checks.
    for h in ${CANOPY_HEALTH_DIRS}; do
        install -d ${D}${nonarch_libdir}/canopy/health/$h ${D}${sysconfdir}/canopy/health/$h
        for f in $dev/health/$h/*; do
            if [ -f "$f" ] && [ -x "$f" ]; then
                install -m 0755 "$f" ${D}${nonarch_libdir}/canopy/health/$h/
            elif [ -f "$f" ]; then
                install -m 0644 "$f" ${D}${nonarch_libdir}/canopy/health/$h/
            fi
        done
    done

    # tmpfiles.d: the agent's state under /var, created at boot in every deployment
    install -d ${D}${nonarch_libdir}/tmpfiles.d
    for f in $dev/tmpfiles.d/*.conf; do
        if [ -f "$f" ]; then
            install -m 0644 "$f" ${D}${nonarch_libdir}/tmpfiles.d/
        fi
    done
}

FILES:${PN} += "${nonarch_libdir}/canopy ${nonarch_libdir}/tmpfiles.d ${sysconfdir}/canopy"

RDEPENDS:${PN} = "nodejs attr systemd \
    ${@'libubootenv-bin' if d.getVar('CANOPY_BOOTLOADER') == 'u-boot' else ''} \
    ${@'grub-editenv' if d.getVar('CANOPY_BOOTLOADER') == 'grub' else ''} \
"
# The machine's U-Boot recipe ships fw_env.config in its -env package; the agent and
# fw_printenv read it to find the environment. With xz installed, static-delta parts are
# decoded by it, in half the time the agent's own decoder takes.
RRECOMMENDS:${PN} = "xz ${@'u-boot-default-env' if d.getVar('CANOPY_BOOTLOADER') == 'u-boot' else ''}"
