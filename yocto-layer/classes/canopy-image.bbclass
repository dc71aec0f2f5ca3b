# canopy-image: image types that turn an image into a Canopy (OSTree-format) commit
# and into a sysroot ready to flash.
#
#   inherit canopy-image            (in an image recipe), or
#   IMAGE_CLASSES += "canopy-image" (in local.conf or a distro; canopy.inc does it)
#   IMAGE_FSTYPES += "canopy canopy-sysroot"
#
# canopy          prepares a copy of the root filesystem in the deployment layout and
#                 commits it into the archive repository CANOPY_REPO on the branch
#                 CANOPY_BRANCH, with the canopy CLI on nodejs-native; signs it when a key
#                 is set; writes a static delta from CANOPY_DELTA_FROM; updates the summary.
#                 Output: <image>.canopy, a text file with the commit checksum.
# canopy-sysroot  lays out a device sysroot (/ostree/repo, /ostree/deploy/<os>/...,
#                 /boot/loader) holding that commit as its only deployment, with
#                 canopy-agent's admin commands (and canopy's remote add and
#                 pull-local), and writes it as an ext4 file system
#                 labelled CANOPY_SYSROOT_LABEL: the image to flash once, or to put in
#                 a wic partition (wic/canopy-sysroot.wks.in).
#
# The work happens in two scripts from canopy-native (this layer's scripts/ folder),
# tested on their own in the Canopy tree; this class only passes variables.

# Everything below acts only on images whose IMAGE_FSTYPES name a canopy type, so the
# class can be inherited globally (IMAGE_CLASSES) without touching other images, such
# as an initramfs.
CANOPY_IMAGE_TYPES = "canopy canopy-sysroot"
def canopy_if_image(d, value):
    return value if bb.utils.contains_any('IMAGE_FSTYPES', d.getVar('CANOPY_IMAGE_TYPES'), True, False, d) else ''

inherit features_check
REQUIRED_DISTRO_FEATURES += "${@canopy_if_image(d, 'canopy systemd')}"

IMAGE_TYPES:append = " ${CANOPY_IMAGE_TYPES}"

# A Canopy image runs the agent and carries its kernel in /boot, which becomes
# /usr/lib/modules/<version>/vmlinuz of the commit; canopy-prepare-root (from
# canopy-initramfs) is there for booting without an initramfs (init=).
IMAGE_INSTALL:append = " ${@canopy_if_image(d, 'canopy-agent canopy-initramfs kernel-image')}"
IMAGE_INSTALL:append = " ${@canopy_if_image(d, 'kernel-devicetree') if d.getVar('KERNEL_DEVICETREE') else ''}"

# Repository and branch. The repository lives outside the image's work folder so
# that each build's commit has the previous one as its parent.
CANOPY_REPO ?= "${DEPLOY_DIR_IMAGE}/canopy-repo"
CANOPY_BRANCH ?= "${DISTRO}/${MACHINE}/${IMAGE_BASENAME}"
CANOPY_COMMIT_SUBJECT ?= "${IMAGE_BASENAME} ${DISTRO_VERSION} for ${MACHINE}"
CANOPY_COMMIT_VERSION ?= "${DISTRO_VERSION}"
# Folders that become symlinks into /var or /run, PATH=TARGET (TARGET relative to
# the link's folder), as OSTree systems have them.
CANOPY_VAR_LINKS ?= "home=var/home root=var/roothome srv=var/srv mnt=var/mnt media=run/media usr/local=../var/usrlocal"
# Signing (`canopy sign`): a file of base64 ed25519 secret keys (`canopy keys generate`
# makes one), and/or an OpenPGP secret key file with an optional passphrase file. Both
# empty: the commit is not signed.
CANOPY_ED25519_KEY ?= ""
CANOPY_GPG_KEY ?= ""
CANOPY_GPG_PASSPHRASE_FILE ?= ""
# "parent" (the branch's previous commit), a commit checksum or ref, or empty.
CANOPY_DELTA_FROM ?= ""
# An initramfs image recipe to put beside the kernel (usr/lib/modules/<v>/initramfs.img).
CANOPY_INITRAMFS_IMAGE ?= ""
CANOPY_INITRAMFS_FSTYPE ?= "cpio.gz"

# The sysroot for first flashing.
CANOPY_OSNAME ?= "${DISTRO}"
CANOPY_BOOTLOADER ??= "u-boot"
CANOPY_SYSROOT_LABEL ?= "canopy-sysroot"
CANOPY_KERNEL_ARGS ?= "root=LABEL=${CANOPY_SYSROOT_LABEL} rootwait rw"
# The remote the device pulls updates from (written into the sysroot's repository
# config and the deployment's origin). Empty: the origin names the bare branch.
CANOPY_REMOTE_NAME ?= "canopy"
CANOPY_REMOTE_URL ?= ""
# Settings of that remote, KEY=VALUE separated by spaces, e.g. "gpg-verify=false
# sign-verify=true verification-ed25519-file=/etc/canopy/keys/ed25519.pub".
CANOPY_REMOTE_OPTS ?= ""
# Free space in the sysroot file system beyond its content, in KiB.
CANOPY_SYSROOT_EXTRA_SPACE ?= "524288"

CANOPY_TREE = "${WORKDIR}/canopy-tree"
CANOPY_SYSROOT_DIR = "${WORKDIR}/canopy-sysroot"

do_image_canopy[depends] += "canopy-native:do_populate_sysroot \
    ${@'${CANOPY_INITRAMFS_IMAGE}:do_image_complete' if d.getVar('CANOPY_INITRAMFS_IMAGE') else ''}"
do_image_canopy[lockfiles] += "${CANOPY_REPO}.lock"
do_image_canopy[cleandirs] += "${CANOPY_TREE}"

IMAGE_CMD:canopy () {
    rm -rf ${CANOPY_TREE}
    canopy-prepare-rootfs \
        --var-links "${CANOPY_VAR_LINKS}" \
        ${@'--initramfs ${DEPLOY_DIR_IMAGE}/${CANOPY_INITRAMFS_IMAGE}${IMAGE_MACHINE_SUFFIX}.${CANOPY_INITRAMFS_FSTYPE}' if d.getVar('CANOPY_INITRAMFS_IMAGE') else ''} \
        --report ${WORKDIR}/canopy-ownership.txt \
        --repo ${CANOPY_REPO} --branch ${CANOPY_BRANCH} \
        --subject "${CANOPY_COMMIT_SUBJECT}" --version "${CANOPY_COMMIT_VERSION}" \
        --owner-root \
        ${@'--ed25519-key ${CANOPY_ED25519_KEY}' if d.getVar('CANOPY_ED25519_KEY') else ''} \
        ${@'--gpg-key ${CANOPY_GPG_KEY}' if d.getVar('CANOPY_GPG_KEY') else ''} \
        ${@'--gpg-passphrase-file ${CANOPY_GPG_PASSPHRASE_FILE}' if d.getVar('CANOPY_GPG_PASSPHRASE_FILE') else ''} \
        ${@'--delta-from ${CANOPY_DELTA_FROM}' if d.getVar('CANOPY_DELTA_FROM') else ''} \
        --summary \
        --commit-id-file ${IMGDEPLOYDIR}/${IMAGE_NAME}.canopy \
        ${IMAGE_ROOTFS} ${CANOPY_TREE}
    if [ -s ${WORKDIR}/canopy-ownership.txt ]; then
        bbwarn "canopy: $(wc -l < ${WORKDIR}/canopy-ownership.txt) entries are stored as root-owned or with the mode on disk, not as the image has them; see ${WORKDIR}/canopy-ownership.txt and README.md (Ownership)"
    fi
}

IMAGE_TYPEDEP:canopy-sysroot = "canopy"
do_image_canopy_sysroot[depends] += "canopy-native:do_populate_sysroot e2fsprogs-native:do_populate_sysroot \
    ${@'virtual/bootloader:do_deploy' if d.getVar('CANOPY_BOOTLOADER') == 'u-boot' else ''} \
    ${@'grub-efi:do_deploy' if d.getVar('CANOPY_BOOTLOADER') == 'grub' else ''}"
do_image_canopy_sysroot[lockfiles] += "${CANOPY_REPO}.lock"
do_image_canopy_sysroot[cleandirs] += "${CANOPY_SYSROOT_DIR}"

IMAGE_CMD:canopy-sysroot () {
    canopy-make-sysroot \
        --repo ${CANOPY_REPO} --ref ${CANOPY_BRANCH} --os ${CANOPY_OSNAME} \
        --bootloader ${CANOPY_BOOTLOADER} \
        ${@' '.join('--karg ' + a for a in (d.getVar('CANOPY_KERNEL_ARGS') or '').split())} \
        ${@'--remote ${CANOPY_REMOTE_NAME} --remote-url ${CANOPY_REMOTE_URL}' if d.getVar('CANOPY_REMOTE_URL') else ''} \
        ${@' '.join('--remote-set ' + o for o in (d.getVar('CANOPY_REMOTE_OPTS') or '').split())} \
        ${@'--boot-file ${DEPLOY_DIR_IMAGE}/boot.scr' if d.getVar('CANOPY_BOOTLOADER') == 'u-boot' else ''} \
        ${@'--grub-cfg ${DEPLOY_DIR_IMAGE}/canopy.cfg' if d.getVar('CANOPY_BOOTLOADER') == 'grub' else ''} \
        ${CANOPY_SYSROOT_DIR}
    size=$(du -ks ${CANOPY_SYSROOT_DIR} | cut -f1)
    size=$(expr $size + $size / 4 + ${CANOPY_SYSROOT_EXTRA_SPACE})
    rm -f ${IMGDEPLOYDIR}/${IMAGE_NAME}.canopy-sysroot
    mkfs.ext4 -F -q -i 4096 -L ${CANOPY_SYSROOT_LABEL} -d ${CANOPY_SYSROOT_DIR} \
        ${IMGDEPLOYDIR}/${IMAGE_NAME}.canopy-sysroot ${size}k
}
