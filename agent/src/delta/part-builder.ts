/**
 * Assembles one delta part: the deduplicated mode and xattr tables, the
 * payload blob and the opcode stream, with the object list in the order
 * the opcodes produce the objects. The opcode sequences are those OSTree's
 * generator writes, so OSTree's executor applies them (ops.ts has the
 * table):
 *
 * - whole object: `S` (metadata: size, offset; content: mode, xattr, size, offset);
 * - rollsum: `o`, then per run `R`/`w` from the payload or `r`/`w` from the
 *   old object, `R`, `c`;
 * - bsdiff: `r`, `o`, `B offset length`, `c`, `R`.
 *
 * Pure: bytes in, a serialized part out. Operator side.
 */
import { checksumToBytes } from '../core/bytes';
import { ObjectType, type FileHeader, type Xattr } from '../objects/index';
import { OP_BSPATCH, OP_CLOSE, OP_OPEN, OP_OPEN_SPLICE_AND_CLOSE, OP_SET_READ_SOURCE, OP_UNSET_READ_SOURCE, OP_WRITE } from './ops';
import { serializePart, type DeltaMode } from './part';
import type { RollsumWrite } from './rollsum';
import type { DeltaObjectRef } from './superblock';
import { pushVarint } from './varint';

export class PartBuilder {
  private readonly modes: DeltaMode[] = [];
  private readonly modeIndex = new Map<string, number>();
  private readonly xattrs: Xattr[][] = [];
  private readonly xattrIndex = new Map<string, number>();
  private readonly chunks: Uint8Array[] = [];
  private payloadLen = 0;
  private tablesSize = 0;
  private readonly ops: number[] = [];
  readonly objects: DeltaObjectRef[] = [];
  /** Bytes of objects produced (content and metadata), the header's `usize`. */
  usize = 0;

  /** payload + opcodes + tables: what the part will roughly weigh uncompressed (OSTree's split estimate). */
  get sizeEstimate(): number {
    return this.payloadLen + this.ops.length + this.tablesSize;
  }

  get isEmpty(): boolean {
    return this.objects.length === 0;
  }

  private append(bytes: Uint8Array): number {
    const at = this.payloadLen;
    if (bytes.length > 0) {
      this.chunks.push(bytes);
      this.payloadLen += bytes.length;
    }
    return at;
  }

  private op(code: number, ...operands: number[]): void {
    this.ops.push(code);
    for (const v of operands) pushVarint(this.ops, v);
  }

  private tables(h: FileHeader): [number, number] {
    const mk = `${h.uid}:${h.gid}:${h.mode}`;
    let m = this.modeIndex.get(mk);
    if (m === undefined) {
      m = this.modes.length;
      this.modes.push({ uid: h.uid, gid: h.gid, mode: h.mode });
      this.modeIndex.set(mk, m);
      this.tablesSize += 12;
    }
    const xk = h.xattrs.map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`).join('\0');
    let x = this.xattrIndex.get(xk);
    if (x === undefined) {
      x = this.xattrs.length;
      this.xattrs.push([...h.xattrs]);
      this.xattrIndex.set(xk, x);
      this.tablesSize += h.xattrs.reduce((n, a) => n + a.name.length + 1 + a.value.length + 8, 8);
    }
    return [m, x];
  }

  /** A metadata object, whole. */
  addMetadata(type: ObjectType, checksum: string, bytes: Uint8Array): void {
    this.objects.push({ type, checksum });
    this.usize += bytes.length;
    const at = this.append(bytes);
    this.op(OP_OPEN_SPLICE_AND_CLOSE, bytes.length, at);
  }

  /** A file object, whole: the content of a regular file, or a symlink's target. */
  addFile(checksum: string, header: FileHeader, content: Uint8Array): void {
    this.objects.push({ type: ObjectType.FILE, checksum });
    const [m, x] = this.tables(header);
    const body = header.symlinkTarget !== '' ? Buffer.from(header.symlinkTarget, 'utf8') : content;
    if (header.symlinkTarget === '') this.usize += content.length;
    const at = this.append(body);
    this.op(OP_OPEN_SPLICE_AND_CLOSE, m, x, body.length, at);
  }

  /** A regular file rebuilt from runs of an old file and of new bytes (rollsum). */
  addRollsum(checksum: string, header: FileHeader, content: Uint8Array, from: string, writes: readonly RollsumWrite[]): void {
    this.objects.push({ type: ObjectType.FILE, checksum });
    this.usize += content.length;
    const [m, x] = this.tables(header);
    const src = this.append(checksumToBytes(from));
    this.op(OP_OPEN, m, x, content.length);
    let reading = false;
    for (const w of writes) {
      if (w.from === 'source') {
        if (!reading) this.op(OP_SET_READ_SOURCE, src);
        reading = true;
        this.op(OP_WRITE, w.length, w.fromStart);
      } else {
        if (reading) this.op(OP_UNSET_READ_SOURCE);
        reading = false;
        const at = this.append(content.subarray(w.toStart, w.toStart + w.length));
        this.op(OP_WRITE, w.length, at);
      }
    }
    if (reading) this.op(OP_UNSET_READ_SOURCE);
    this.op(OP_CLOSE);
  }

  /** A regular file of `size` bytes produced by a bsdiff patch against an old file. */
  addBsdiff(checksum: string, header: FileHeader, size: number, from: string, patch: Uint8Array): void {
    this.objects.push({ type: ObjectType.FILE, checksum });
    this.usize += size;
    const [m, x] = this.tables(header);
    const src = this.append(checksumToBytes(from));
    this.op(OP_SET_READ_SOURCE, src);
    this.op(OP_OPEN, m, x, size);
    const at = this.append(patch);
    this.op(OP_BSPATCH, at, patch.length);
    this.op(OP_CLOSE);
    this.op(OP_UNSET_READ_SOURCE);
  }

  /** The serialized (uncompressed) part. */
  finish(): Buffer {
    const payload = Buffer.concat(this.chunks, this.payloadLen);
    return serializePart({ modes: this.modes, xattrs: this.xattrs, payload, ops: Uint8Array.from(this.ops) });
  }
}

/** Splits a stream of objects into parts of at most `max` bytes (estimated as OSTree does). */
export class PartStream {
  private cur: PartBuilder | null = null;

  constructor(private readonly max: number, private readonly emit: (b: PartBuilder) => void) {}

  /** The builder to add an object of about `bytes` bytes to. */
  next(bytes: number): PartBuilder {
    if (this.cur && !this.cur.isEmpty && this.cur.sizeEstimate + bytes > this.max) this.flush();
    this.cur ??= new PartBuilder();
    return this.cur;
  }

  flush(): void {
    if (this.cur && !this.cur.isEmpty) this.emit(this.cur);
    this.cur = null;
  }
}
