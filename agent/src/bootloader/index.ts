/**
 * Boot-loader environments: U-Boot env images (plain and redundant), their fw_env.config
 * file store, and GRUB's grubenv block. The codecs are pure; the store does its I/O
 * through an injectable {@link EnvBlockIo}.
 */
export type { EnvVars } from './env-text';
export {
  UBOOT_ENV_MAX_SIZE, assertUbootEnvName, checkUbootEnvLayout, chooseRedundantCopy, inspectUbootEnvCopy,
  nextRedundantWrite, parseUbootEnv, pickRedundantCopy, serializeUbootEnv, ubootEnvHeaderSize,
  type ParsedUbootEnv, type RedundantPick, type RedundantScheme, type RedundantWrite,
  type SerializeUbootEnvOptions, type UbootEnvCopyStatus, type UbootEnvLayout,
} from './uboot-env';
export {
  loadFwEnvConfig, nodeEnvBlockIo, parseFwEnvConfig, readUbootEnvFile, updateUbootEnvFile, writeUbootEnvFile,
  type EnvBlockIo, type FwEnvConfig, type FwEnvDevice, type UbootEnvFileOptions, type UbootEnvFileState,
} from './uboot-env-file';
export {
  GRUBENV_MAX_SIZE, GRUBENV_SIGNATURE, GRUBENV_SIZE, assertGrubEnvName, parseGrubEnv, serializeGrubEnv,
  type GrubEnvOptions,
} from './grubenv';
