/**
 * Static deltas: canopy against the real ostree, side by side in one run,
 * on the same archive repository holding v1 and v2.
 *
 * - generation of v1 -> v2 with the defaults (interleaved, `--runs` each):
 *   wall time, size (superblock + parts) and fallback size;
 * - generation with `--min-fallback-size=0` (once each): the only kind
 *   `ostree static-delta apply-offline` accepts;
 * - application of both no-fallback deltas by both tools (interleaved,
 *   `--runs` each) into fresh repositories holding v1.
 *
 *   node --import tsx bench/delta-bench.ts [--v1 DIR --v2 DIR] [--files N] [--runs N]
 *        [--mode bare-user-only|bare] [--work DIR] [--json]
 *
 * Without --v1/--v2 two synthetic trees are generated (v2 edits bytes in a
 * fifth of v1's files, appends to others, adds new ones). The repository
 * is made by `ostree commit`; in the default mode bare-user-only the
 * commits use canonical permissions (a real root file system has setuid
 * files and owners a bare-user-only repository cannot hold); `--mode bare`
 * (root) keeps them. Times are whole processes (dist/canopy.cjs: run
 * `npm run build` first). Ratios are canopy / ostree: below 1 means canopy
 * is faster or smaller.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSuperblock } from '../agent/src/delta/index';
import { fmt, makeSyntheticTree, median, rng, settle, sh, timeCommand, workDir, type Run } from './lib';

const { values } = parseArgs({
  options: {
    v1: { type: 'string' },
    v2: { type: 'string' },
    files: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '2' },
    mode: { type: 'string', default: 'bare-user-only' },
    work: { type: 'string' },
    json: { type: 'boolean' },
  },
});

const root = resolve(import.meta.dirname ?? '.', '..');
const canopyCli = join(root, 'dist/canopy.cjs');
if (!existsSync(canopyCli)) throw new Error('run `npm run build` first');
const mode = values.mode!;
if (mode !== 'bare' && mode !== 'bare-user-only') throw new Error('--mode is bare or bare-user-only');
if (mode === 'bare' && process.getuid?.() !== 0) throw new Error('--mode bare needs root');
const runs = Number(values.runs);
const work = workDir(values.work, 'canopy-delta-bench-');

/** v2 = v1 with a fifth of the files edited in place, some grown, and new files. */
function makeSyntheticUpdate(v1: string, v2: string): void {
  cpSync(v1, v2, { recursive: true, verbatimSymlinks: true });
  const r = rng(7);
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk(v2);
  files.sort();
  files.forEach((p, i) => {
    if (i % 5 === 0) {
      const b = readFileSync(p);
      for (let k = Math.floor(r() * 50); k < b.length; k += 200 + Math.floor(r() * 800)) b[k] ^= 0x11;
      writeFileSync(p, b);
    } else if (i % 11 === 0) {
      writeFileSync(p, Buffer.concat([readFileSync(p), Buffer.from(`appended ${i}\n`.repeat(50))]));
    }
  });
  makeSyntheticTree(join(v2, 'new'), Math.floor(files.length / 10), 99);
}

function ostree(repo: string, ...args: string[]): string {
  return sh(['ostree', `--repo=${repo}`, ...args]).trim();
}

function dirSize(dir: string): number {
  return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
}

interface Delta { dir: string; size: number; superblock: number; parts: number; fallbacks: number; fallbackSize: number }

function describe(dir: string): Delta {
  const sb = parseSuperblock(readFileSync(join(dir, 'superblock')));
  return {
    dir, size: dirSize(dir), superblock: statSync(join(dir, 'superblock')).size, parts: sb.parts.length,
    fallbacks: sb.fallbacks.length, fallbackSize: sb.fallbacks.reduce((s, f) => s + f.size, 0),
  };
}

let outN = 0;
function generate(tool: 'canopy' | 'ostree', repo: string, v1: string, v2: string, extra: string[]): { run: Run; delta: Delta } {
  const dir = join(work, `${tool}-delta-${outN++}`);
  mkdirSync(dir);
  const sbPath = join(dir, 'superblock');
  settle();
  const argv = tool === 'canopy'
    ? [process.execPath, canopyCli, `--repo=${repo}`, 'static-delta', 'generate', `--from=${v1}`, `--to=${v2}`, `--filename=${sbPath}`, ...extra]
    : ['ostree', `--repo=${repo}`, 'static-delta', 'generate', `--from=${v1}`, `--to=${v2}`, `--filename=${sbPath}`, ...extra];
  const run = timeCommand(argv);
  return { run, delta: describe(dir) };
}

let clientN = 0;
function clientHolding(repo: string, v1: string): string {
  const path = join(work, `client-${clientN++}`);
  ostree(path, 'init', `--mode=${mode}`);
  ostree(path, 'pull-local', repo, v1);
  return path;
}

function apply(tool: 'canopy' | 'ostree', client: string, delta: Delta): Run {
  settle();
  const argv = tool === 'canopy'
    ? [process.execPath, canopyCli, `--repo=${client}`, 'static-delta', 'apply-offline', delta.dir]
    : ['ostree', `--repo=${client}`, 'static-delta', 'apply-offline', join(delta.dir, 'superblock')];
  const run = timeCommand(argv);
  const fsck = spawnSync('ostree', [`--repo=${client}`, 'fsck'], { encoding: 'utf8' });
  if (fsck.status !== 0) throw new Error(`fsck after ${tool} apply failed: ${fsck.stdout}${fsck.stderr}`);
  return run;
}

const mb = (n: number): string => (n / 1e6).toFixed(2);
const secs = (rs: Run[]): string => `${fmt(median(rs.map((r) => r.seconds)))} s (${rs.map((r) => fmt(r.seconds)).join(', ')})`;
const ratio = (a: Run[], b: Run[]): string => fmt(median(a.map((r) => r.seconds)) / median(b.map((r) => r.seconds)));

function main(): void {
  let v1Dir = values.v1;
  let v2Dir = values.v2;
  if (!v1Dir || !v2Dir) {
    v1Dir = join(work, 'v1');
    v2Dir = join(work, 'v2');
    makeSyntheticTree(v1Dir, Number(values.files), 1);
    makeSyntheticUpdate(v1Dir, v2Dir);
  }
  const repo = join(work, 'repo');
  ostree(repo, 'init', '--mode=archive');
  const canon = mode === 'bare-user-only' ? ['--canonical-permissions', '--no-xattrs'] : [];
  const v1 = ostree(repo, 'commit', ...canon, '-b', 'os/main', '-s', 'v1', `--tree=dir=${v1Dir}`);
  const v2 = ostree(repo, 'commit', ...canon, '-b', 'os/main', '-s', 'v2', `--tree=dir=${v2Dir}`);
  console.log(`repository ${repo}: v1 ${v1.slice(0, 12)}, v2 ${v2.slice(0, 12)}; apply into ${mode}; ${runs} run(s) each, interleaved`);

  const gen: Record<'canopy' | 'ostree', { runs: Run[]; delta?: Delta }> = { canopy: { runs: [] }, ostree: { runs: [] } };
  for (let i = 0; i < runs; i++) {
    for (const tool of ['canopy', 'ostree'] as const) {
      const g = generate(tool, repo, v1, v2, []);
      gen[tool].runs.push(g.run);
      gen[tool].delta = g.delta;
    }
  }
  const c = gen.canopy.delta!;
  const o = gen.ostree.delta!;
  console.log('\ngenerate v1 -> v2 (defaults: 4 MB fallbacks, 32 MB parts, bsdiff)');
  console.log(`  time:  canopy ${secs(gen.canopy.runs)}, ostree ${secs(gen.ostree.runs)}; ratio ${ratio(gen.canopy.runs, gen.ostree.runs)}`);
  console.log(`  peak RSS: canopy ${Math.round(median(gen.canopy.runs.map((r) => r.maxRssKb ?? 0)) / 1024)} MiB (main thread and workers), ostree ${Math.round(median(gen.ostree.runs.map((r) => r.maxRssKb ?? 0)) / 1024)} MiB`);
  console.log(`  delta: canopy ${mb(c.size)} MB (superblock ${mb(c.superblock)} + ${c.parts} parts), ostree ${mb(o.size)} MB (superblock ${mb(o.superblock)} + ${o.parts} parts); ratio ${fmt(c.size / o.size)}`);
  console.log(`  fallbacks: canopy ${c.fallbacks} = ${mb(c.fallbackSize)} MB, ostree ${o.fallbacks} = ${mb(o.fallbackSize)} MB; on the wire: canopy ${mb(c.size + c.fallbackSize)} MB, ostree ${mb(o.size + o.fallbackSize)} MB`);

  const c0 = generate('canopy', repo, v1, v2, ['--min-fallback-size=0']);
  const o0 = generate('ostree', repo, v1, v2, ['--min-fallback-size=0']);
  console.log('\ngenerate v1 -> v2 --min-fallback-size=0 (1 run)');
  console.log(`  time:  canopy ${fmt(c0.run.seconds)} s, ostree ${fmt(o0.run.seconds)} s; ratio ${fmt(c0.run.seconds / o0.run.seconds)}`);
  console.log(`  delta: canopy ${mb(c0.delta.size)} MB, ostree ${mb(o0.delta.size)} MB; ratio ${fmt(c0.delta.size / o0.delta.size)}`);

  const applied: Record<string, Run[]> = {};
  for (let i = 0; i < runs; i++) {
    for (const [dname, d] of [['canopy', c0.delta], ['ostree', o0.delta]] as const) {
      for (const tool of ['canopy', 'ostree'] as const) {
        const client = clientHolding(repo, v1);
        (applied[`${tool}:${dname}`] ??= []).push(apply(tool, client, d));
        rmSync(client, { recursive: true, force: true });
      }
    }
  }
  console.log(`\napply-offline into ${mode} repositories holding v1 (fsync on, ostree fsck after each)`);
  for (const dname of ['canopy', 'ostree']) {
    const a = applied[`canopy:${dname}`];
    const b = applied[`ostree:${dname}`];
    console.log(`  ${dname}'s delta: canopy ${secs(a)}, ostree ${secs(b)}; ratio ${ratio(a, b)}`);
  }
  if (values.json) {
    console.log(JSON.stringify({ mode, runs, generate: gen, noFallback: { canopy: c0, ostree: o0 }, apply: applied }));
  }
}

try {
  main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
