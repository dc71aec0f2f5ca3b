/**
 * Boot loaders: the boot contract (a pure model of boot counting and fallback, and its
 * test vectors), the environments it lives in (U-Boot env images and their fw_env.config
 * store, grubenv blocks and their two-copy file store), the entry writers (ostree's
 * uEnv.txt, GRUB menu entries), the per-loader backends the agent calls, and detection.
 * Codecs and the model are pure; stores do their I/O through injectable interfaces.
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
export {
  GRUB_ENV_REDUNDANT_NAME, nodeGrubEnvFileIo, readGrubEnvFiles, updateGrubEnvFiles, writeGrubEnvFiles,
  type GrubEnvFileIo, type GrubEnvFileState, type GrubEnvPaths,
} from './grubenv-file';
export {
  BOOT_CONTRACT_VERSION, GRUB_VAR, TRIES_DEFAULT, TRIES_MAX, TRIES_MIN, UBOOT_VAR, assertTries, bootOnce,
  contractVariables, describeBootState, detectFallback, fallbackPending, finishRollback, grubBoot, markBad, markGood,
  stageUpdate, trialPending, ubootBoot, ubootCount, ubootLimit,
  type BootContext, type BootEnv, type BootResult, type BootStateSummary, type EntryIndex, type FallbackReason,
  type FallbackVerdict, type LoaderKind,
} from './contract';
export {
  parseContractVectors, simulateVector, vectorApplies,
  type ContractVector, type PowerCut, type Simulation, type StepOutcome, type VectorStep,
} from './contract-vectors';
export { BOOT_PREFIX, checkBootEntry, type BootEntry } from './boot-entry';
export { UENV_FILE, UENV_MAX_SIZE, parseUenv, serializeUenv, type ParsedUenv, type UenvEntry, type UenvOptions } from './uenv';
export { GRUB_ENTRIES_FILE, generateGrubEntries, grubQuote, splitKernelArgs } from './grub-entries';
export {
  createBootloaderBackend, createGrubBackend, createNoneBackend, createUbootBackend,
  type BootloaderBackend, type BootloaderBackendOptions, type BootloaderName, type BootloaderState,
  type GrubBackendOptions, type UbootBackendOptions,
} from './backend';
export { detectBootloader, type BootloaderChoice, type DetectedBootloader } from './detect';
