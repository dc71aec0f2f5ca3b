/**
 * Where a response body goes while it downloads: memory for small bodies,
 * a file in the pull's scratch directory once it grows past a limit. A
 * sink keeps what arrived when a connection drops, so the next attempt can
 * ask for the rest with `Range`; `reset` starts over when the server
 * answers with the whole file instead.
 */
import { closeSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ioError } from '../core/errors';

/** A finished body: in memory, or in a file the caller now owns. */
export type Body = { readonly data: Buffer; readonly file?: undefined; readonly size: number } | { readonly file: string; readonly data?: undefined; readonly size: number };

export class BodySink {
  private chunks: Buffer[] = [];
  private fd = -1;
  private path: string | undefined;
  length = 0;

  /** @param spoolDir where a large body is written; undefined keeps everything in memory. */
  constructor(private readonly memoryLimit: number, private readonly spoolDir: string | undefined) {}

  /** Prepares for `expected` bytes: spools straight to disk when it is already known to be large. */
  expect(expected: number | undefined): void {
    if (expected !== undefined && this.length + expected > this.memoryLimit) this.spool();
  }

  append(chunk: Uint8Array): void {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.fd < 0 && this.length + b.length > this.memoryLimit) this.spool();
    if (this.fd >= 0) this.write(b);
    else this.chunks.push(b);
    this.length += b.length;
  }

  private spool(): void {
    if (this.fd >= 0 || !this.spoolDir) return;
    this.path = join(this.spoolDir, `${randomBytes(8).toString('hex')}.part`);
    try {
      this.fd = openSync(this.path, 'w+', 0o600);
    } catch (e) {
      throw ioError(e, 'create', this.path);
    }
    for (const c of this.chunks) this.write(c);
    this.chunks = [];
  }

  private write(b: Buffer): void {
    try {
      let off = 0;
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    } catch (e) {
      throw ioError(e, 'write', this.path!);
    }
  }

  /** Drops everything received (the server sent the whole body again). */
  reset(): void {
    this.chunks = [];
    this.length = 0;
    if (this.fd >= 0) ftruncateSync(this.fd, 0);
  }

  /** Hands over the body. */
  finish(): Body {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      return { file: this.path!, size: this.length };
    }
    const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    return { data, size: data.length };
  }

  /** Frees memory and removes a spool file. */
  discard(): void {
    this.chunks = [];
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    if (this.path) rmSync(this.path, { force: true });
  }
}
