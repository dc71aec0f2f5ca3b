/**
 * Shared pieces of the side-by-side benchmarks: timing a command as a whole
 * process (wall clock and peak RSS via /usr/bin/time when present), medians,
 * ratios, and a deterministic synthetic tree.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Run { seconds: number; maxRssKb?: number }

const HAVE_TIME = existsSync('/usr/bin/time');

/** What the compared tools inherit from the shell that runs a benchmark. */
const TOOL_ENV_KEEP = ['PATH', 'HOME', 'LANG', 'TMPDIR'];

/** A fresh directory for one benchmark run inside `--work` (made when missing) or the system's temporary directory. */
export function workDir(parent: string | undefined, prefix: string): string {
  const base = parent ?? tmpdir();
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, prefix));
}

/**
 * The environment the compared tools run in: the same few variables for
 * both, nothing else. A developer's shell can carry settings that cost one
 * tool and not the other. NODE_EXTRA_CA_CERTS is the one met so far: Node.js
 * parses that bundle before running any code (60 ms per start for Debian's
 * ca-certificates.crt on the 2-core reference machine), though a pull over
 * plain HTTP never uses it and ostree never reads it. NODE_OPTIONS, proxy
 * variables and ostree's own variables would skew a comparison the same way.
 */
export function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of TOOL_ENV_KEEP) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

/** For the report: variables of this shell that {@link toolEnv} leaves out and that change what a tool does. */
export function leftOutEnv(): string[] {
  return Object.keys(process.env).filter((k) => /^(NODE_|OSTREE_|UV_|GIO_|G_)|_proxy$/i.test(k)).sort();
}

/** Runs argv to completion, returns wall seconds (and peak RSS when measurable). Throws on failure. */
export function timeCommand(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const full = HAVE_TIME ? ['/usr/bin/time', '-f', '%M', ...argv] : argv;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { cwd: opts.cwd, env: opts.env ?? toolEnv(), encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const rss = HAVE_TIME ? Number(r.stderr.trim().split('\n').pop()) : undefined;
  return { seconds, maxRssKb: Number.isFinite(rss) ? rss : undefined };
}

export function sh(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { env: toolEnv(), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(x: number): string {
  return x < 10 ? x.toFixed(2) : x.toFixed(1);
}

/** Flushes dirty pages so one tool's writes are not billed to the next. */
export function settle(): void {
  spawnSync('sync');
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes a synthetic tree shaped like a small root filesystem: `files`
 * files in nested directories, sizes skewed small with a few MB-sized ones,
 * half-compressible content, some symlinks and executables.
 */
export function makeSyntheticTree(dir: string, files: number, seed = 1): void {
  const r = rng(seed);
  const words = ['lib', 'usr', 'share', 'doc', 'bin', 'etc', 'locale', 'python3', 'perl', 'systemd', 'man', 'x86_64'];
  const dirs: string[] = [dir];
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < Math.max(4, files / 12); i++) {
    const parent = dirs[Math.floor(r() * dirs.length)];
    const d = join(parent, `${words[Math.floor(r() * words.length)]}${i}`);
    mkdirSync(d, { recursive: true });
    dirs.push(d);
  }
  for (let i = 0; i < files; i++) {
    const d = dirs[Math.floor(r() * dirs.length)];
    const p = join(d, `f${i}.${['so', 'py', 'txt', 'conf', 'gz'][i % 5]}`);
    if (i % 13 === 0 && i > 0) {
      symlinkSync(`f${i - 1}.${['so', 'py', 'txt', 'conf', 'gz'][(i - 1) % 5]}`, p);
      continue;
    }
    const big = r() < 0.01;
    const size = big ? 1_000_000 + Math.floor(r() * 3_000_000) : Math.floor(Math.pow(r(), 3) * 60_000);
    const buf = Buffer.allocUnsafe(size);
    for (let k = 0; k < size; k++) buf[k] = k % 64 < 40 ? 97 + ((k * 7 + i) % 26) : Math.floor(r() * 256);
    writeFileSync(p, buf, { mode: i % 7 === 0 ? 0o755 : 0o644 });
  }
}
