/**
 * Operator-only surface of the delta module: the pieces a delta generator
 * needs on top of the device-safe ones in `./index`. Importing this file
 * pulls in the bsdiff generator and the xz compressor (which spawns the
 * system `xz`), so device code must not import it.
 */
export { bsdiff, writeOfft } from './bsdiff';
export { suffixArray } from './suffix-array';
export { xzCompress, type XzCompressOptions } from './xz-compress';
export { pushVarint } from './varint';
export {
  rollsumChunks, rollsumMatches, rollsumWorthIt, rollsumWrites, findChunkEnd, ROLLSUM_CHUNK_MAX,
  type RollsumChunk, type RollsumMatch, type RollsumResult, type RollsumWrite,
} from './rollsum';
