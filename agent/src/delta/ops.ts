/**
 * The static-delta opcode stream, decoded into typed, validated operations.
 *
 * Operands are unsigned LEB128 varints. Objects are produced in the order
 * of the part's object list: `S` and `c` each finish the next one.
 *
 * | op | operands | meaning |
 * | --- | --- | --- |
 * | `S` 0x53 | metadata: size, offset; content: mode, xattr, size, offset | whole object from payload[offset, +size) |
 * | `o` 0x6f | mode, xattr, size | open a regular file of `size` bytes |
 * | `w` 0x77 | size, offset | append bytes from the read source, else from the payload |
 * | `r` 0x72 | offset | payload[offset, +32) names the content object to read from |
 * | `R` 0x52 | - | read from the payload again |
 * | `c` 0x63 | - | close the open object (and drop the read source) |
 * | `B` 0x42 | offset, length | bspatch payload[offset, +length) over the read source |
 *
 * Everything that can be checked without a repository is checked here:
 * table indices, payload bounds, object types and modes, that `o`/`w`/`B`/
 * `c` appear only with an object open, that the writes into an object add
 * up to exactly its declared size, and that the stream produces every
 * listed object and no more. What needs the repository (the read source
 * exists, offsets into it are in range, checksums of the results) is the
 * applier's job: see {@link DeltaOp}.
 */
import { checksumFromBytes } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { isLinkMode, isRegMode, ObjectType } from '../objects/index';
import type { DeltaPart } from './part';
import type { DeltaObjectRef } from './superblock';
import { readVarint } from './varint';

export const OP_OPEN_SPLICE_AND_CLOSE = 0x53;
export const OP_OPEN = 0x6f;
export const OP_WRITE = 0x77;
export const OP_SET_READ_SOURCE = 0x72;
export const OP_UNSET_READ_SOURCE = 0x52;
export const OP_CLOSE = 0x63;
export const OP_BSPATCH = 0x42;

/** Whole metadata object from the payload. */
export interface SpliceMetaOp { op: 'splice-meta'; object: DeltaObjectRef; offset: number; size: number }
/** Whole content object (file content or symlink target) from the payload. */
export interface SpliceContentOp { op: 'splice-content'; object: DeltaObjectRef; modeIndex: number; xattrIndex: number; offset: number; size: number }
export interface OpenOp { op: 'open'; object: DeltaObjectRef; modeIndex: number; xattrIndex: number; size: number }
/** Bytes from the payload (when no read source is set). */
export interface WritePayloadOp { op: 'write-payload'; offset: number; size: number }
/** Bytes from the read source's content: the applier checks the range. */
export interface WriteSourceOp { op: 'write-source'; source: string; offset: number; size: number }
export interface SetReadSourceOp { op: 'set-read-source'; source: string }
export interface UnsetReadSourceOp { op: 'unset-read-source' }
export interface CloseOp { op: 'close'; object: DeltaObjectRef }
/** Patch the read source with payload[offset, +length) into the open object. */
export interface BspatchOp { op: 'bspatch'; source: string; offset: number; length: number; newSize: number }

export type DeltaOp = SpliceMetaOp | SpliceContentOp | OpenOp | WritePayloadOp | WriteSourceOp | SetReadSourceOp | UnsetReadSourceOp | CloseOp | BspatchOp;

function invalid(why: string, at: number): CanopyError {
  return new CanopyError('ERR_DELTA_INVALID', `delta opcodes: ${why} (at opcode byte ${at})`, { at });
}

/**
 * Decodes and validates a part's opcode stream lazily. The number of
 * operations is bounded by the stream length (every op is at least one byte).
 *
 * @param part the parsed part (tables, payload, opcodes)
 * @param objects the part's object list from its header
 * @throws CanopyError ERR_DELTA_INVALID at the first invalid operation;
 *   ERR_VARINT_INVALID for a truncated or overlong operand.
 */
export function* decodeOps(part: DeltaPart, objects: readonly DeltaObjectRef[]): Generator<DeltaOp> {
  const ops = part.ops;
  const payloadLen = part.payload.length;
  let pos = 0;
  let next = 0; // index of the next object to produce
  let open: { object: DeltaObjectRef; size: number; written: number } | null = null;
  let source: string | null = null;

  const operand = (what: string): number => {
    const r = readVarint(ops, pos, ops.length, what);
    pos = r.next;
    return r.value;
  };
  const inPayload = (offset: number, size: number, what: string, at: number): void => {
    if (offset > payloadLen || size > payloadLen - offset) throw invalid(`${what} [${offset}, +${size}) is outside the payload of ${payloadLen} bytes`, at);
  };
  const modeIndex = (at: number, forOpen: boolean): number => {
    const i = operand('mode index');
    if (i >= part.modes.length) throw invalid(`mode index ${i} is outside the table of ${part.modes.length}`, at);
    const mode = part.modes[i].mode;
    if (forOpen ? !isRegMode(mode) : !isRegMode(mode) && !isLinkMode(mode)) throw invalid(`mode 0${mode.toString(8)} is not valid here`, at);
    return i;
  };
  const xattrIndex = (at: number): number => {
    const i = operand('xattr index');
    if (i >= part.xattrs.length) throw invalid(`xattr index ${i} is outside the table of ${part.xattrs.length}`, at);
    return i;
  };
  const nextObject = (at: number): DeltaObjectRef => {
    if (next >= objects.length) throw invalid(`produces more than the ${objects.length} listed objects`, at);
    return objects[next++];
  };
  const needOpen = (what: string, at: number): NonNullable<typeof open> => {
    if (!open) throw invalid(`${what} without an open object`, at);
    return open;
  };

  while (pos < ops.length) {
    const at = pos;
    const code = ops[pos++];
    switch (code) {
      case OP_OPEN_SPLICE_AND_CLOSE: {
        if (open) throw invalid('splice while an object is open', at);
        const object = nextObject(at);
        if (object.type === ObjectType.FILE) {
          const m = modeIndex(at, false);
          const x = xattrIndex(at);
          const size = operand('size');
          const offset = operand('offset');
          inPayload(offset, size, 'splice', at);
          yield { op: 'splice-content', object, modeIndex: m, xattrIndex: x, offset, size };
        } else {
          const size = operand('size');
          const offset = operand('offset');
          inPayload(offset, size, 'splice', at);
          yield { op: 'splice-meta', object, offset, size };
        }
        break;
      }
      case OP_OPEN: {
        if (open) throw invalid('open while another object is open', at);
        const m = modeIndex(at, true);
        const x = xattrIndex(at);
        const size = operand('size');
        const object = nextObject(at);
        if (object.type !== ObjectType.FILE) throw invalid(`open of a non-content object (type ${object.type})`, at);
        open = { object, size, written: 0 };
        yield { op: 'open', object, modeIndex: m, xattrIndex: x, size };
        break;
      }
      case OP_WRITE: {
        const o = needOpen('write', at);
        const size = operand('size');
        const offset = operand('offset');
        if (size > o.size - o.written) throw invalid(`write of ${size} bytes passes the object size ${o.size}`, at);
        o.written += size;
        if (source === null) {
          inPayload(offset, size, 'write', at);
          yield { op: 'write-payload', offset, size };
        } else {
          yield { op: 'write-source', source, offset, size };
        }
        break;
      }
      case OP_SET_READ_SOURCE: {
        const offset = operand('offset');
        inPayload(offset, 32, 'read source checksum', at);
        source = checksumFromBytes(part.payload.subarray(offset, offset + 32), 'read source');
        yield { op: 'set-read-source', source };
        break;
      }
      case OP_UNSET_READ_SOURCE:
        source = null;
        yield { op: 'unset-read-source' };
        break;
      case OP_CLOSE: {
        const o = needOpen('close', at);
        if (o.written !== o.size) throw invalid(`close after ${o.written} of ${o.size} bytes`, at);
        open = null;
        // As in OSTree's executor, closing an object also drops the read source.
        source = null;
        yield { op: 'close', object: o.object };
        break;
      }
      case OP_BSPATCH: {
        const o = needOpen('bspatch', at);
        const offset = operand('offset');
        const length = operand('length');
        if (source === null) throw invalid('bspatch without a read source', at);
        if (o.written !== 0) throw invalid('bspatch into a partly written object', at);
        inPayload(offset, length, 'bspatch', at);
        o.written = o.size;
        yield { op: 'bspatch', source, offset, length, newSize: o.size };
        break;
      }
      default:
        throw invalid(`unknown opcode 0x${code.toString(16)}`, at);
    }
  }
  if (open) throw invalid('stream ends with an object still open', pos);
  if (next !== objects.length) throw invalid(`stream produced ${next} of ${objects.length} listed objects`, pos);
}

/** {@link decodeOps} collected into an array. */
export function decodeAllOps(part: DeltaPart, objects: readonly DeltaObjectRef[]): DeltaOp[] {
  return Array.from(decodeOps(part, objects));
}
