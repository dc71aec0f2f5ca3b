/** Helpers for the boot-loader tests: temp dirs and the real env tools as oracles. */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { crc32 } from 'node:zlib';

/** True when `name` is an executable on PATH. */
export function hasTool(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

/** Skips the calling suite (from a `before` hook) when a tool is missing. */
export function requireTools(ctx: Mocha.Context, pkg: string, ...names: string[]): void {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length > 0) {
    console.log(`      skipped: ${missing.join(', ')} not installed (Debian package ${pkg})`);
    ctx.skip();
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion with a timeout; never throws for a non-zero exit. */
export function run(cmd: string, args: string[], cwd?: string): RunResult {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a tool and fails the test unless it exits 0. Returns stdout. */
export function runOk(cmd: string, args: string[], cwd?: string): string {
  const r = run(cmd, args, cwd);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A fresh temp dir and its cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'canopy-bootloader-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Builds one env copy around raw data bytes with a correct CRC, for hostile inputs
 * that the serializer would refuse to make.
 */
export function rawEnvCopy(size: number, data: Uint8Array, opts: { redundant?: boolean; flags?: number; pad?: number } = {}): Uint8Array {
  const header = opts.redundant ? 5 : 4;
  const out = new Uint8Array(size).fill(opts.pad ?? 0);
  out.set(data.subarray(0, size - header), header);
  if (opts.redundant) out[4] = opts.flags ?? 1;
  new DataView(out.buffer).setUint32(0, crc32(out.subarray(header)), true);
  return out;
}

/** `name=value\n` lines sorted by byte value: what fw_printenv prints. */
export function printenvText(vars: ReadonlyMap<string, string> | Record<string, string>): string {
  const entries = vars instanceof Map ? [...vars.entries()] : Object.entries(vars);
  entries.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  return entries.map(([k, v]) => `${k}=${v}\n`).join('');
}
