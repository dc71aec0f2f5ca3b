/**
 * Static deltas, device-safe surface: formats, paths, decompression,
 * opcode decoding and bspatch. Nothing here spawns processes or pulls in
 * the generator; operator-only code (bsdiff, xz compression) is exported
 * from `./generate` instead, so the device bundle never includes it.
 *
 * Applying: {@link openDelta} checks a superblock against the trusted
 * target commit; {@link applyDeltaParts} runs its parts into a bare or
 * bare-user-only repository through a {@link DeltaObjectSink} with parts
 * from a {@link PartSource}; {@link applyStaticDeltaOffline} is the whole
 * `ostree static-delta apply-offline` flow.
 */
export { readVarint, encodeVarint, MAX_VARINT_BYTES, type VarintRead } from './varint';
export { xzDecompress, isXz, type XzDecompressOptions } from './xz';
export { bspatch } from './bspatch';
export {
  deltaName, parseDeltaName, deltaDir, deltaSuperblockPath, deltaPartPath, deltaIndexPath,
  inlinePartKey, commitMetaKey, type DeltaEnds,
} from './delta-path';
export {
  parseSuperblock, serializeSuperblock, inlinePart, superblockCommitMeta, parseObjectList, serializeObjectList,
  SUPERBLOCK_TYPE, DELTA_PART_VERSION,
  type DeltaSuperblock, type DeltaPartHeader, type DeltaFallback, type DeltaObjectRef, type DeltaEndianness,
} from './superblock';
export {
  verifyPartFile, unwrapPartFile, parsePart, openPartFile, serializePart, wrapPartFile,
  PART_TYPE, COMPRESSION_NONE, COMPRESSION_XZ, DEFAULT_MAX_PART_SIZE,
  type DeltaPart, type DeltaMode,
} from './part';
export { decodeOps, decodeAllOps, type DeltaOp } from './ops';
export { openDelta, isSignedSuperblock, openedDeltaDir, type OpenedDelta, type OpenDeltaOptions } from './open-delta';
export { DEFAULT_DELTA_LIMITS, resolveDeltaLimits, partDecompressLimit, type DeltaLimits } from './apply-limits';
export { directoryPartSource, type PartSource } from './part-source';
export { transactionSink, checkStorable, type DeltaObjectSink } from './object-sink';
export { executePart, type PartExecution, type ExecuteContext } from './part-executor';
export { SourceReader } from './source-reader';
export {
  applyDeltaParts, applyStaticDeltaOffline, assertDeltaTarget, checkFreeSpace,
  type ApplyPartsOptions, type ApplyPartsResult, type OfflineApplyOptions, type OfflineApplyResult, type DeltaApplyProgress,
} from './apply';
