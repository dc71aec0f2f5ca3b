/**
 * What `canopy static-delta show` reports about a delta, and its text form
 * (the layout of `ostree static-delta show`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import {
  DEFAULT_DELTA_LIMITS, decodeOps, deltaDir, deltaName, inlinePart, inlinePartKey, openDelta, parseDeltaName, parsePart,
  partDecompressLimit, unwrapPartFile, verifyPartFile,
} from '../delta/index';
import { objectTypeName } from '../objects/index';
import type { Repo } from '../repo/index';
import { formatSizeSi } from './progress';

export interface DeltaPartInfo {
  index: number;
  objects: number;
  size: number;
  usize: number;
  inline: boolean;
  /** Absent when the part file is missing. */
  payload?: { modes: number; xattrs: number; blobSize: number; opsSize: number };
  ops?: { openspliceclose: number; open: number; write: number; setread: number; unsetread: number; close: number; bspatch: number };
  error?: string;
}

export interface DeltaInfo {
  name: string;
  from: string | null;
  to: string;
  signed: boolean;
  endianness: 'little' | 'big';
  endiannessGuessed: boolean;
  timestamp: number;
  fallbacks: Array<{ type: string; checksum: string; size: number; usize: number }>;
  parts: DeltaPartInfo[];
  totals: { partSize: number; partUsize: number; fallbackSize: number; fallbackUsize: number };
}

function partInfo(repo: Repo, dir: string, d: ReturnType<typeof openDelta>, i: number): DeltaPartInfo {
  const h = d.superblock.parts[i];
  const inline = inlinePart(d.superblock, inlinePartKey(d.from, d.to, i));
  const info: DeltaPartInfo = { index: i, objects: h.objects.length, size: h.size, usize: h.usize, inline: inline !== undefined };
  let file: Uint8Array;
  try {
    file = inline ?? readFileSync(join(repo.path, dir, String(i)));
  } catch (e) {
    info.error = ioError(e, 'read', join(dir, String(i))).message;
    return info;
  }
  try {
    verifyPartFile(file, h, i);
    const part = parsePart(unwrapPartFile(file, partDecompressLimit(h, DEFAULT_DELTA_LIMITS)));
    info.payload = { modes: part.modes.length, xattrs: part.xattrs.length, blobSize: part.payload.length, opsSize: part.ops.length };
    const ops = { openspliceclose: 0, open: 0, write: 0, setread: 0, unsetread: 0, close: 0, bspatch: 0 };
    for (const op of decodeOps(part, h.objects)) {
      if (op.op === 'splice-meta' || op.op === 'splice-content') ops.openspliceclose++;
      else if (op.op === 'write-payload' || op.op === 'write-source') ops.write++;
      else if (op.op === 'set-read-source') ops.setread++;
      else if (op.op === 'unset-read-source') ops.unsetread++;
      else ops[op.op]++;
    }
    info.ops = ops;
  } catch (e) {
    if (!(e instanceof CanopyError)) throw e;
    info.error = e.message;
  }
  return info;
}

/**
 * Reads delta `name` (`FROM-TO` or `TO`) of the repository and decodes
 * its parts. A part that is missing or invalid is reported, not thrown.
 *
 * @throws CanopyError ERR_OBJECT_NOT_FOUND when the delta does not exist;
 *   ERR_CHECKSUM_INVALID for a malformed name; the superblock errors of
 *   `openDelta`.
 */
export function describeDelta(repo: Repo, name: string): DeltaInfo {
  const { from, to } = parseDeltaName(name);
  const dir = deltaDir(from, to);
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(repo.path, dir, 'superblock'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CanopyError('ERR_OBJECT_NOT_FOUND', `no static delta ${name} in ${repo.path}`, { delta: name });
    throw ioError(e, 'read', join(dir, 'superblock'));
  }
  const d = openDelta(bytes, { to, from });
  const parts = d.superblock.parts.map((_, i) => partInfo(repo, dir, d, i));
  const fallbacks = d.fallbacks.map((f) => ({ type: objectTypeName(f.type), checksum: f.checksum, size: f.size, usize: f.usize }));
  return {
    name: deltaName(from, to), from, to, signed: false,
    endianness: d.superblock.endianness === 'B' ? 'big' : 'little', endiannessGuessed: d.superblock.endiannessGuessed,
    timestamp: d.superblock.timestamp, fallbacks, parts,
    totals: {
      partSize: d.partsSize, partUsize: d.partsUsize,
      fallbackSize: fallbacks.reduce((s, f) => s + f.size, 0), fallbackUsize: fallbacks.reduce((s, f) => s + f.usize, 0),
    },
  };
}

const sized = (n: number): string => `${n} (${formatSizeSi(n)})`;

/** The text of `ostree static-delta show`. */
export function formatDeltaShow(d: DeltaInfo): string {
  const lines = [`Delta: ${d.name}`, `Signed: ${d.signed ? 'yes' : 'no'}`];
  lines.push(d.from ? `From: ${d.from}` : 'From <scratch>', `To: ${d.to}`);
  lines.push(`Endianness: ${d.endianness}${d.endiannessGuessed ? ' (guessed)' : ''}`, `Timestamp: ${d.timestamp}`, 'Number of parents: 0');
  lines.push(`Number of fallback entries: ${d.fallbacks.length}`);
  for (const f of d.fallbacks) lines.push(`  ${f.checksum}`);
  lines.push(`Total Fallback Size: ${sized(d.totals.fallbackSize)}`, `Total Fallback Uncompressed Size: ${sized(d.totals.fallbackUsize)}`);
  lines.push(`Number of parts: ${d.parts.length}`);
  for (const p of d.parts) {
    lines.push(`PartMeta${p.index}: nobjects=${p.objects} size=${p.size} usize=${p.usize}${p.inline ? ' (inline)' : ''}`);
    if (p.payload) lines.push(`PartPayload${p.index}: nmodes=${p.payload.modes} nxattrs=${p.payload.xattrs} blobsize=${p.payload.blobSize} opsize=${p.payload.opsSize}`);
    if (p.ops) {
      const o = p.ops;
      lines.push(`PartPayloadOps${p.index}: openspliceclose=${o.openspliceclose} open=${o.open} write=${o.write} setread=${o.setread} unsetread=${o.unsetread} close=${o.close} bspatch=${o.bspatch}`);
    }
    if (p.error) lines.push(`Part${p.index}: error: ${p.error}`);
  }
  lines.push(`Total Part Size: ${sized(d.totals.partSize)}`, `Total Part Uncompressed Size: ${sized(d.totals.partUsize)}`);
  lines.push(`Total Size: ${sized(d.totals.partSize + d.totals.fallbackSize)}`, `Total Uncompressed Size: ${sized(d.totals.partUsize + d.totals.fallbackUsize)}`);
  return lines.join('\n');
}
