# Canopy's boot script and the U-Boot commands it needs, only when the distro has the
# "canopy" feature. The require expands to nothing otherwise, so adding this layer
# leaves U-Boot (and its task signatures) untouched.
require ${@bb.utils.contains('DISTRO_FEATURES', 'canopy', 'u-boot-canopy.inc', '', d)}
