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
export { generateDelta, decidePair, type GenerateDeltaOptions, type GenerateDeltaResult, type PairPolicy } from './compile';
export { pairModifiedFiles, type Pair, type PairKind, type PairingInput, type PairStat } from './compile-pairing';
export { scanCommit, ContentStats, type CommitScan, type ContentStat } from './compile-scan';
export { PartBuilder } from './part-builder';
export { BsdiffPool, type BsdiffLoad } from './bsdiff-pool';
export { PartCompressor, writeDeltaFiles, type FinishedPart, type DeltaFiles } from './compile-output';
