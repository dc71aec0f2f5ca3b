/**
 * Executes one decoded delta part: runs its opcodes (see ops.ts), builds
 * each object, hashes it against the name the part's object list gives it,
 * and only then hands it to the sink.
 *
 * - Metadata objects must hash (sha256) to their names and parse as their
 *   type; content objects must hash, over the file header built from the
 *   part's mode and xattr tables plus the content, to their names.
 * - The bytes a part produces (regular-file content and metadata) may not
 *   pass the `usize` its header declares; every `o` and `S` size is checked
 *   against what is left before anything is allocated.
 * - Objects the repository already has are not rebuilt (their opcodes are
 *   still decoded and validated), which makes a re-run after an
 *   interruption cheap.
 */
import { sha256Hex } from '../core/bytes';
import { CanopyError } from '../core/errors';
import {
  ObjectType, fileChecksum, isLinkMode, objectTypeName, parseCommit, parseDirMeta, parseDirTree,
  type FileHeader, type RepoMode,
} from '../objects/index';
import { bspatch } from './bspatch';
import { checkStorable, type DeltaObjectSink } from './object-sink';
import { decodeOps } from './ops';
import type { DeltaPart } from './part';
import type { SourceReader } from './source-reader';
import type { DeltaObjectRef } from './superblock';

export interface PartExecution {
  /** Objects stored by this run. */
  written: number;
  /** Objects the repository already had. */
  skipped: number;
  /** Bytes of the objects produced (content and metadata). */
  bytes: number;
}

export interface ExecuteContext {
  readonly mode: RepoMode;
  readonly sink: DeltaObjectSink;
  readonly sources: SourceReader;
  /** Part index, for messages. */
  readonly index: number;
  /** The part's declared uncompressed size. */
  readonly usize: number;
  readonly signal?: AbortSignal;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function mismatch(index: number, o: DeltaObjectRef, actual: string): CanopyError {
  return new CanopyError('ERR_CHECKSUM_MISMATCH', `delta part ${index}: ${objectTypeName(o.type)} object ${o.checksum} comes out as ${actual}`, { part: index, checksum: o.checksum, actual });
}

function checkMetadata(index: number, o: DeltaObjectRef, bytes: Uint8Array): void {
  try {
    if (o.type === ObjectType.DIR_TREE) parseDirTree(bytes);
    else if (o.type === ObjectType.DIR_META) parseDirMeta(bytes);
    else if (o.type === ObjectType.COMMIT) parseCommit(bytes);
    else throw new CanopyError('ERR_DELTA_INVALID', `object type ${o.type} cannot come from a delta part`);
  } catch (e) {
    if (!(e instanceof CanopyError)) throw e;
    throw new CanopyError(e.code, `delta part ${index}: ${objectTypeName(o.type)} ${o.checksum}: ${e.message}`, { ...e.details, part: index, checksum: o.checksum }, { cause: e });
  }
}

function headerFor(part: DeltaPart, modeIndex: number, xattrIndex: number, symlinkTarget: string): FileHeader {
  const m = part.modes[modeIndex];
  return { uid: m.uid, gid: m.gid, mode: m.mode, symlinkTarget, xattrs: part.xattrs[xattrIndex] };
}

/** An object being built by `o` … `c`. */
interface Building {
  object: DeltaObjectRef;
  header: FileHeader;
  size: number;
  /** null while nothing was written, or when the object is skipped. */
  buf: Uint8Array | null;
  pos: number;
  skip: boolean;
}

/**
 * Runs part `part` whose header lists `objects`.
 *
 * @throws CanopyError ERR_DELTA_INVALID (opcode stream, sizes past `usize`,
 *   reads outside a source), ERR_CHECKSUM_MISMATCH (an object does not hash
 *   to its name), ERR_BSDIFF_INVALID, ERR_OBJECT_INVALID / ERR_FILE_TYPE /
 *   ERR_GVARIANT_* (an object that is not valid), ERR_REPO_MODE (an object
 *   the repository cannot store), ERR_OBJECT_NOT_FOUND (a missing read
 *   source), ERR_BUDGET_EXCEEDED (a bspatch source over the limit),
 *   ERR_VARINT_INVALID, ERR_ABORTED, and what the sink throws.
 */
export async function executePart(part: DeltaPart, objects: readonly DeltaObjectRef[], ctx: ExecuteContext): Promise<PartExecution> {
  const { index, sink, sources } = ctx;
  const result: PartExecution = { written: 0, skipped: 0, bytes: 0 };
  const payload = part.payload;
  const take = (n: number, what: string): void => {
    if (n > ctx.usize - result.bytes) {
      throw new CanopyError('ERR_DELTA_INVALID', `delta part ${index}: ${what} of ${n} bytes passes the part's declared uncompressed size ${ctx.usize}`, { part: index, size: n, usize: ctx.usize });
    }
    result.bytes += n;
  };
  const store = async (o: DeltaObjectRef, header: FileHeader, content: Uint8Array): Promise<void> => {
    const actual = fileChecksum(header, content);
    if (actual !== o.checksum) throw mismatch(index, o, actual);
    checkStorable(ctx.mode, o.checksum, header);
    await sink.writeContent(o.checksum, header, content);
    result.written++;
  };
  let open: Building | null = null;
  let n = 0;
  for (const op of decodeOps(part, objects)) {
    if ((++n & 1023) === 0 && ctx.signal?.aborted) throw new CanopyError('ERR_ABORTED', `delta part ${index}: aborted`);
    switch (op.op) {
      case 'splice-meta': {
        take(op.size, `${objectTypeName(op.object.type)} ${op.object.checksum}`);
        if (sink.has(op.object.type, op.object.checksum)) {
          result.skipped++;
          break;
        }
        const bytes = payload.subarray(op.offset, op.offset + op.size);
        const actual = sha256Hex(bytes);
        if (actual !== op.object.checksum) throw mismatch(index, op.object, actual);
        checkMetadata(index, op.object, bytes);
        await sink.writeMetadata(op.object.type, op.object.checksum, bytes);
        result.written++;
        break;
      }
      case 'splice-content': {
        const isLink = isLinkMode(part.modes[op.modeIndex].mode);
        if (!isLink) take(op.size, `file ${op.object.checksum}`);
        if (sink.has(ObjectType.FILE, op.object.checksum)) {
          result.skipped++;
          break;
        }
        const bytes = payload.subarray(op.offset, op.offset + op.size);
        if (isLink) {
          let target: string;
          try {
            target = utf8.decode(bytes);
          } catch {
            throw new CanopyError('ERR_OBJECT_INVALID', `delta part ${index}: symlink ${op.object.checksum} has a target that is not UTF-8`, { part: index, checksum: op.object.checksum });
          }
          await store(op.object, headerFor(part, op.modeIndex, op.xattrIndex, target), new Uint8Array(0));
        } else {
          await store(op.object, headerFor(part, op.modeIndex, op.xattrIndex, ''), bytes);
        }
        break;
      }
      case 'open': {
        take(op.size, `file ${op.object.checksum}`);
        const skip = sink.has(ObjectType.FILE, op.object.checksum);
        open = { object: op.object, header: headerFor(part, op.modeIndex, op.xattrIndex, ''), size: op.size, buf: null, pos: 0, skip };
        break;
      }
      case 'write-payload':
      case 'write-source': {
        const b = open!;
        if (b.skip) break;
        b.buf ??= new Uint8Array(b.size);
        if (op.op === 'write-payload') b.buf.set(payload.subarray(op.offset, op.offset + op.size), b.pos);
        else sources.read(op.source, op.offset, op.size, b.buf, b.pos);
        b.pos += op.size;
        break;
      }
      case 'bspatch': {
        const b = open!;
        if (b.skip) break;
        b.buf = bspatch(sources.readAll(op.source), op.newSize, payload.subarray(op.offset, op.offset + op.length));
        b.pos = op.newSize;
        break;
      }
      case 'close': {
        const b = open!;
        open = null;
        if (b.skip) {
          result.skipped++;
          break;
        }
        await store(b.object, b.header, b.buf ?? new Uint8Array(0));
        break;
      }
      case 'set-read-source':
      case 'unset-read-source':
        // Sources are opened when first read from (objects the repository
        // already has never touch theirs).
        break;
    }
  }
  return result;
}
