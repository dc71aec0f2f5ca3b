# Canopy's boot-counting snippet for GRUB, only when the distro has the "canopy"
# feature. The require expands to nothing otherwise, so adding this layer leaves
# grub-efi (and its task signatures) untouched.
require ${@bb.utils.contains('DISTRO_FEATURES', 'canopy', 'grub-efi-canopy.inc', '', d)}
