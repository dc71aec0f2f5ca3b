/**
 * xz compression for the delta generator (operator side only; never part
 * of the device bundle). Node has no LZMA encoder, so this runs the
 * system's `xz` binary with an argument vector (no shell), feeding the
 * data on stdin and collecting stdout.
 *
 * Defaults match what `ostree static-delta generate` writes: one stream,
 * LZMA2 with preset 8 (a 32 MiB dictionary), CRC64 check, single-threaded
 * so the output is one block and deterministic.
 */
import { spawn } from 'node:child_process';
import { CanopyError } from '../core/errors';

export interface XzCompressOptions {
  /** Compression preset 0-9 (default 8, as OSTree). */
  preset?: number;
  /** Integrity check (default crc64, as OSTree). */
  check?: 'none' | 'crc32' | 'crc64' | 'sha256';
  /** The xz program (default `xz` from PATH). */
  xzPath?: string;
}

/**
 * Compresses `data` into an `.xz` container.
 *
 * @throws CanopyError ERR_EXTERNAL_TOOL when xz cannot be started or exits
 *   with an error; ERR_INVALID_ARGUMENT for a bad preset.
 */
export function xzCompress(data: Uint8Array, opts: XzCompressOptions = {}): Promise<Buffer> {
  const preset = opts.preset ?? 8;
  if (!Number.isInteger(preset) || preset < 0 || preset > 9) throw new CanopyError('ERR_INVALID_ARGUMENT', `xz preset must be 0-9, got ${preset}`);
  const check = opts.check ?? 'crc64';
  const prog = opts.xzPath ?? 'xz';
  const args = ['--compress', '--stdout', '--format=xz', `--check=${check}`, `-${preset}`, '--threads=1', '--no-warn', '-'];
  return new Promise((resolve, reject) => {
    const child = spawn(prog, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let failed = false;
    const fail = (why: string, cause?: unknown): void => {
      if (failed) return;
      failed = true;
      reject(new CanopyError('ERR_EXTERNAL_TOOL', `xz compression failed: ${why}`, { program: prog }, cause === undefined ? undefined : { cause }));
    };
    child.on('error', (e) => fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? `${prog} is not installed (Debian package xz-utils)` : e.message, e));
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', (e) => fail(`writing to ${prog}: ${e.message}`, e));
    child.on('close', (code, signal) => {
      if (code === 0) {
        if (!failed) resolve(Buffer.concat(out));
      } else {
        fail(`${prog} exited with ${signal ?? code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 500)}`);
      }
    });
    child.stdin.end(data);
  });
}
