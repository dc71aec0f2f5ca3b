/**
 * The generator's output side: compressing finished parts (at most a few
 * xz processes at a time), then writing the part files and the superblock
 * into the delta directory. The superblock is written last and renamed
 * into place, so a delta directory without one is an unfinished delta that
 * nothing lists.
 *
 * Operator side.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../core/bytes';
import { ioError } from '../core/errors';
import { Variant, type VarDict } from '../gvariant/index';
import { COMPRESSION_XZ, wrapPartFile } from './part';
import type { PartBuilder } from './part-builder';
import { serializeSuperblock, DELTA_PART_VERSION, type DeltaEndianness, type DeltaFallback, type DeltaPartHeader } from './superblock';
import { xzCompress, type XzCompressOptions } from './xz-compress';

/** A part whose compressed file is ready. */
export interface FinishedPart {
  readonly header: DeltaPartHeader;
  /** The part file: compression byte + xz stream. */
  readonly file: Buffer;
}

/** Compresses parts with at most `concurrency` xz processes at a time. */
export class PartCompressor {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly concurrency: number) {}

  /** Serializes `builder` now and compresses it when a slot is free. */
  compress(builder: PartBuilder, xz: XzCompressOptions): Promise<FinishedPart> {
    const raw = builder.finish();
    const objects = builder.objects;
    const usize = builder.usize;
    // xz needs a dictionary no larger than its input; a small one spares the device's memory.
    const dictSize = Math.min(xz.dictSize ?? 32 * 1024 * 1024, Math.max(4096, 2 ** Math.ceil(Math.log2(Math.max(raw.length, 1)))));
    const p = this.slot().then(async () => {
      try {
        // No xz integrity check: the part's sha256 in the superblock covers every byte, and every
        // object is hashed again when applied; a CRC64 would only cost the device time.
        const file = wrapPartFile(COMPRESSION_XZ, await xzCompress(raw, { check: 'none', ...xz, dictSize }));
        return { file, header: { version: DELTA_PART_VERSION, checksum: sha256Hex(file), size: file.length, usize, objects } };
      } finally {
        this.release();
      }
    });
    p.catch(() => undefined);
    return p;
  }

  private slot(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => {
      this.running++;
      resolve();
    }));
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
  }
}

export interface DeltaFiles {
  readonly dir: string;
  readonly from: string | null;
  readonly to: string;
  readonly commit: Uint8Array;
  readonly parts: readonly FinishedPart[];
  readonly fallbacks: readonly DeltaFallback[];
  /** Caller metadata (goes first, as OSTree puts it). */
  readonly metadata: VarDict;
  /** Superblock metadata keys of inline parts (absent: parts are files). */
  readonly inlineKeys?: readonly string[];
  /** Key and value of the target's detached metadata, when it has some. */
  readonly commitMeta?: { key: string; value: VarDict };
  readonly endianness: DeltaEndianness;
  readonly timestamp: number;
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(e, 'write', path);
  }
}

/**
 * Writes the parts (unless inline) and then the superblock, and removes
 * part files a previous delta in the same directory left beyond the new
 * ones. Returns the superblock's bytes. Throws ERR_IO / ERR_NO_SPACE /
 * ERR_PERMISSION.
 */
export function writeDeltaFiles(f: DeltaFiles): Buffer {
  try {
    mkdirSync(f.dir, { recursive: true });
  } catch (e) {
    throw ioError(e, 'create directory', f.dir);
  }
  const metadata: VarDict = [...f.metadata, ['ostree.endianness', new Variant('y', f.endianness === 'B' ? 0x42 : 0x6c)]];
  f.parts.forEach((p, i) => {
    if (f.inlineKeys) metadata.push([f.inlineKeys[i], new Variant('(yay)', [p.file[0], p.file.subarray(1)])]);
    else writeAtomically(join(f.dir, String(i)), p.file);
  });
  if (f.commitMeta) metadata.push([f.commitMeta.key, new Variant('a{sv}', f.commitMeta.value)]);
  const sb = serializeSuperblock({
    metadata, timestamp: f.timestamp, from: f.from, to: f.to, commit: f.commit,
    parts: f.parts.map((p) => p.header), fallbacks: [...f.fallbacks], endianness: f.endianness,
  });
  writeAtomically(join(f.dir, 'superblock'), sb);
  // Parts of an earlier delta with more parts (or not inline) would only confuse a reader of the directory.
  const keep = f.inlineKeys ? 0 : f.parts.length;
  for (const name of readdirSync(f.dir)) {
    if (/^\d+$/.test(name) && Number(name) >= keep) rmSync(join(f.dir, name), { force: true });
  }
  return sb;
}
