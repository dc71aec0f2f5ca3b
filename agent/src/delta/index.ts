/**
 * Static deltas, device-safe surface: formats, paths, decompression,
 * opcode decoding and bspatch. Nothing here spawns processes or pulls in
 * the generator; operator-only code (bsdiff, xz compression) is exported
 * from `./generate` instead, so the device bundle never includes it.
 *
 * Applying a delta into a repository is the next layer: it feeds
 * {@link decodeOps} operations to the repository's object writer.
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
