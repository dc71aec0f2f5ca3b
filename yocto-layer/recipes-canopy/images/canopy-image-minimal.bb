SUMMARY = "core-image-minimal that updates itself with Canopy"
DESCRIPTION = "The smallest image with the Canopy agent, committed to the Canopy \
repository (image type canopy) and laid out as a sysroot to flash (canopy-sysroot)."
LICENSE = "MIT"

require recipes-core/images/core-image-minimal.bb

inherit canopy-image

IMAGE_FSTYPES += "canopy canopy-sysroot"
