# Canopy boot script for U-Boot (boot contract version 1, see bootloader/CONTRACT.md).
#
# Build:  mkimage -A arm64 -T script -C none -d boot.cmd boot.scr
#
# Boots the ostree deployments that uEnv.txt lists (entry 0: kernel_image, ramdisk_image,
# fdt_file or fdtdir, bootargs; entry 1: the same names with the suffix 2) and counts the
# tries of an unconfirmed deployment:
#   canopy_fallback=1          keep booting entry 1 (a fallback was recorded), write nothing
#   upgrade_available=1        spend a try (bootcount + 1) and save; once bootcount > bootlimit,
#                              record canopy_fallback=1, clear upgrade_available, boot entry 1
#   otherwise                  boot entry 0, write nothing
# If the state cannot be saved, the unconfirmed deployment is not tried (entry 1 first).
# An entry that cannot be loaded or started is skipped for the other one.
#
# Board settings (all optional; see uboot/README.md):
#   canopy_sysroot         "<interface> <dev>:<part>" holding the sysroot's /boot  (default: where this script is)
#   canopy_uenv            path of uEnv.txt there                  (default /boot/loader/uEnv.txt)
#   canopy_bootcmd         booti or bootz                          (default booti)
#   canopy_loadaddr        scratch memory for uEnv.txt and state   (default ${kernel_addr_r})
#   canopy_envfile         keep the state in this file instead of U-Boot's saved env (saveenv)
#   canopy_envfile_redund  a second, redundant state file
#   canopy_envpart         "<interface> <dev>:<part>" of the state files (default: where this script is)
#   canopy_envsize         size of one state file in hex           (default 4000)
#
# Temporaries are hush locals (not env variables), so saveenv never stores them.
# setexpr and itest work in hex; every counter here is one decimal digit, which reads
# the same in both bases.

echo "CANOPY: boot script, contract 1"

canopy_here="${devtype} ${devnum}:${distro_bootpart}"
canopy_root="${canopy_here}"
if test -n "${canopy_sysroot}"; then canopy_root="${canopy_sysroot}"; fi
canopy_uenvpath=/boot/loader/uEnv.txt
if test -n "${canopy_uenv}"; then canopy_uenvpath="${canopy_uenv}"; fi
canopy_boot=booti
if test -n "${canopy_bootcmd}"; then canopy_boot="${canopy_bootcmd}"; fi
canopy_mem=${kernel_addr_r}
if test -n "${canopy_loadaddr}"; then canopy_mem=${canopy_loadaddr}; fi
canopy_vars="upgrade_available bootcount bootlimit canopy_fallback canopy_failed"

# ------------------------------------------------------------------ state files
# A plain file is "crc32 | data". A redundant pair is two files of "crc32 | flags | data",
# as fw_env.config with two lines describes them; the valid copy with the newer flags
# (a counter, 255 -> 0 wraps) is current, and a write goes to the other copy.
canopy_cur=none
if test -n "${canopy_envfile}"; then
  canopy_epart="${canopy_here}"
  if test -n "${canopy_envpart}"; then canopy_epart="${canopy_envpart}"; fi
  canopy_esize=4000
  if test -n "${canopy_envsize}"; then canopy_esize=${canopy_envsize}; fi
  setexpr canopy_b0 ${canopy_mem} + 0
  setexpr canopy_b1 ${canopy_mem} + 100000
  setexpr canopy_tmp ${canopy_mem} + 200000
  setexpr canopy_b0c ${canopy_b0} + 1
  setexpr canopy_b0f ${canopy_b0} + 4
  setexpr canopy_b1c ${canopy_b1} + 1
  setexpr canopy_b1f ${canopy_b1} + 4
  setexpr canopy_esize1 ${canopy_esize} - 1
  if test -z "${canopy_envfile_redund}"; then
    if load ${canopy_epart} ${canopy_b0} ${canopy_envfile} && itest ${filesize} == ${canopy_esize}; then
      if env import -c ${canopy_b0} ${canopy_esize} ${canopy_vars}; then canopy_cur=0; fi
    fi
  else
    # Each copy is checked by moving its crc next to the data (plain layout at +1) and
    # importing a name that is not in it: env import checks the crc first.
    canopy_v0=0
    canopy_v1=0
    if load ${canopy_epart} ${canopy_b0} ${canopy_envfile} && itest ${filesize} == ${canopy_esize}; then
      setexpr.b canopy_f0 *${canopy_b0f}
      cp.b ${canopy_b0} ${canopy_tmp} 4
      cp.b ${canopy_tmp} ${canopy_b0c} 4
      if env import -c ${canopy_b0c} ${canopy_esize1} canopy_crc_probe; then canopy_v0=1; fi
    fi
    if load ${canopy_epart} ${canopy_b1} ${canopy_envfile_redund} && itest ${filesize} == ${canopy_esize}; then
      setexpr.b canopy_f1 *${canopy_b1f}
      cp.b ${canopy_b1} ${canopy_tmp} 4
      cp.b ${canopy_tmp} ${canopy_b1c} 4
      if env import -c ${canopy_b1c} ${canopy_esize1} canopy_crc_probe; then canopy_v1=1; fi
    fi
    if test ${canopy_v0} = 1 && test ${canopy_v1} = 1; then
      canopy_cur=0
      if itest.b ${canopy_f0} -eq ff && itest.b ${canopy_f1} -eq 0; then canopy_cur=1
      elif itest.b ${canopy_f1} -eq ff && itest.b ${canopy_f0} -eq 0; then canopy_cur=0
      elif itest.b ${canopy_f1} -gt ${canopy_f0}; then canopy_cur=1
      fi
    elif test ${canopy_v0} = 1; then canopy_cur=0
    elif test ${canopy_v1} = 1; then canopy_cur=1
    fi
    if test ${canopy_cur} = 0; then env import -c ${canopy_b0c} ${canopy_esize1} ${canopy_vars}; fi
    if test ${canopy_cur} = 1; then env import -c ${canopy_b1c} ${canopy_esize1} ${canopy_vars}; fi
  fi
  if test ${canopy_cur} = none; then
    echo "CANOPY: no valid state in ${canopy_envfile} ${canopy_envfile_redund}; booting the default entry"
    for canopy_n in ${canopy_vars}; do setenv ${canopy_n}; done
  else
    echo "CANOPY: state read from copy ${canopy_cur}"
  fi
fi

# ------------------------------------------------------------------ decide
canopy_first=0
canopy_save=0
if test "${canopy_fallback}" = 1; then
  echo "CANOPY: a fallback is recorded; booting the previous deployment"
  canopy_first=1
elif test "${upgrade_available}" = 1; then
  canopy_limit=3
  for canopy_d in 1 2 3 4 5 6 7 8; do
    if test "${bootlimit}" = ${canopy_d}; then canopy_limit=${canopy_d}; fi
  done
  canopy_count=${canopy_limit}
  for canopy_d in 0 1 2 3 4 5 6 7 8; do
    if test "${bootcount}" = ${canopy_d} && itest ${canopy_d} -le ${canopy_limit}; then canopy_count=${canopy_d}; fi
  done
  setexpr bootcount ${canopy_count} + 1
  canopy_save=1
  if itest ${bootcount} -gt ${canopy_limit}; then
    echo "CANOPY: try budget of ${canopy_limit} spent; falling back"
    setenv upgrade_available 0
    setenv canopy_fallback 1
    canopy_first=1
  else
    echo "CANOPY: trial boot ${bootcount} of ${canopy_limit}"
  fi
fi

# ------------------------------------------------------------------ save
if test ${canopy_save} = 1; then
  canopy_saved=0
  if test -z "${canopy_envfile}"; then
    if saveenv; then canopy_saved=1; fi
  elif test -z "${canopy_envfile_redund}"; then
    env export -c -s ${canopy_esize} ${canopy_b0} ${canopy_vars}
    if fatwrite ${canopy_epart} ${canopy_b0} ${canopy_envfile} ${canopy_esize}; then canopy_saved=1; fi
  else
    # write the copy that is not current, with the next flags value
    canopy_wb=${canopy_b0}
    canopy_wc=${canopy_b0c}
    canopy_wff=${canopy_b0f}
    canopy_wname=${canopy_envfile}
    setexpr canopy_nf 1
    if test ${canopy_cur} = 0; then
      canopy_wb=${canopy_b1}
      canopy_wc=${canopy_b1c}
      canopy_wff=${canopy_b1f}
      canopy_wname=${canopy_envfile_redund}
      setexpr canopy_nf ${canopy_f0} + 1
    elif test ${canopy_cur} = 1; then
      setexpr canopy_nf ${canopy_f1} + 1
    fi
    setexpr canopy_nf ${canopy_nf} \& ff
    env export -c -s ${canopy_esize1} ${canopy_wc} ${canopy_vars}
    cp.b ${canopy_wc} ${canopy_tmp} 4
    cp.b ${canopy_tmp} ${canopy_wb} 4
    mw.b ${canopy_wff} ${canopy_nf}
    if fatwrite ${canopy_epart} ${canopy_wb} ${canopy_wname} ${canopy_esize}; then canopy_saved=1; fi
  fi
  if test ${canopy_saved} = 1; then
    echo "CANOPY: state saved"
  else
    echo "CANOPY: could not save the state; not trying the unconfirmed deployment"
    canopy_first=1
  fi
fi
for canopy_n in canopy_b0 canopy_b1 canopy_tmp canopy_b0c canopy_b0f canopy_b1c canopy_b1f canopy_esize1 canopy_f0 canopy_f1 canopy_nf; do
  setenv ${canopy_n}
done

# ------------------------------------------------------------------ boot
# Entry variables from an earlier import must not survive into this boot.
for canopy_n in kernel_image ramdisk_image fdt_file fdtdir bootargs kernel_image2 ramdisk_image2 fdt_file2 fdtdir2 bootargs2; do
  setenv ${canopy_n}
done
if load ${canopy_root} ${canopy_mem} ${canopy_uenvpath} && env import -t ${canopy_mem} ${filesize}; then
  echo "CANOPY: read ${canopy_uenvpath}"
else
  echo "CANOPY: cannot read ${canopy_uenvpath} from ${canopy_root}"
fi
canopy_order="0 1"
if test ${canopy_first} = 1; then canopy_order="1 0"; fi
for canopy_e in ${canopy_order}; do
  if test ${canopy_e} = 0; then
    canopy_k="${kernel_image}"
    canopy_r="${ramdisk_image}"
    canopy_f="${fdt_file}"
    canopy_dir="${fdtdir}"
    canopy_a="${bootargs}"
  else
    canopy_k="${kernel_image2}"
    canopy_r="${ramdisk_image2}"
    canopy_f="${fdt_file2}"
    canopy_dir="${fdtdir2}"
    canopy_a="${bootargs2}"
  fi
  if test -n "${canopy_k}"; then
    canopy_ok=0
    if load ${canopy_root} ${kernel_addr_r} ${canopy_k}; then
      canopy_ok=1
      canopy_fdt=${fdtcontroladdr}
      if test -n "${canopy_f}"; then
        if load ${canopy_root} ${fdt_addr_r} ${canopy_f}; then canopy_fdt=${fdt_addr_r}; else canopy_ok=0; fi
      elif test -n "${canopy_dir}"; then
        if load ${canopy_root} ${fdt_addr_r} ${canopy_dir}/${fdtfile}; then canopy_fdt=${fdt_addr_r}; else canopy_ok=0; fi
      fi
      canopy_rd=-
      if test -n "${canopy_r}"; then
        if load ${canopy_root} ${ramdisk_addr_r} ${canopy_r}; then canopy_rd=${ramdisk_addr_r}:${filesize}; else canopy_ok=0; fi
      fi
    fi
    if test ${canopy_ok} = 1; then
      echo "CANOPY: booting entry ${canopy_e}: ${canopy_k}"
      setenv bootargs "${canopy_a}"
      ${canopy_boot} ${kernel_addr_r} ${canopy_rd} ${canopy_fdt}
      echo "CANOPY: entry ${canopy_e} did not start"
    else
      echo "CANOPY: entry ${canopy_e} cannot be loaded"
    fi
  fi
done
echo "CANOPY: no entry could be booted"
