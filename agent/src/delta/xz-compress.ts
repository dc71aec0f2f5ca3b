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
  /** LZMA2 dictionary size in bytes (default: the preset's); a smaller one costs the decoder less memory. */
  dictSize?: number;
  /** The preset's "extreme" variant (slower, slightly smaller). */
  extreme?: boolean;
  /** Put the x86 branch filter before LZMA2 (x86 machine code compresses better). */
  x86?: boolean;
  /** LZMA literal context bits (0-4), literal position bits (0-4; lc + lp <= 4), position bits (0-4). */
  lc?: number;
  lp?: number;
  pb?: number;
  /** Match finder "nice length" (2-273): longer finds longer matches, slower. */
  nice?: number;
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
  if (opts.dictSize !== undefined && (!Number.isInteger(opts.dictSize) || opts.dictSize < 4096 || opts.dictSize > 1536 * 1024 * 1024)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `xz dictionary size must be 4 KiB - 1.5 GiB, got ${opts.dictSize}`);
  }
  const tuning: string[] = [];
  for (const [k, lo, hi] of [['lc', 0, 4], ['lp', 0, 4], ['pb', 0, 4], ['nice', 2, 273]] as const) {
    const v = opts[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < lo || v > hi) throw new CanopyError('ERR_INVALID_ARGUMENT', `xz ${k} must be ${lo}-${hi}, got ${v}`);
    tuning.push(`,${k}=${v}`);
  }
  if ((opts.lc ?? 3) + (opts.lp ?? 0) > 4) throw new CanopyError('ERR_INVALID_ARGUMENT', 'xz lc + lp must not exceed 4');
  const lzma2 = `--lzma2=preset=${preset}${opts.extreme ? 'e' : ''}${opts.dictSize !== undefined ? `,dict=${opts.dictSize}` : ''}${tuning.join('')}`;
  const filters = opts.x86 ? ['--x86', lzma2] : [lzma2];
  const args = ['--compress', '--stdout', '--format=xz', `--check=${check}`, ...filters, '--threads=1', '--no-warn', '-'];
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
