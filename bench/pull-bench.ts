/**
 * Pull over HTTP: canopy against the real ostree, side by side in one run,
 * from the same static server (bench/serve-repo.ts, a separate process),
 * into fresh repositories, interleaved per repetition:
 *
 * - full pull: an empty repository pulls v1;
 * - update pull: the repository holding v1 pulls v2 (objects only; ostree
 *   with --disable-static-deltas).
 *
 *   node --import tsx bench/pull-bench.ts [--v1 DIR --v2 DIR] [--files N] [--runs N]
 *        [--mode bare|bare-user-only] [--concurrency N] [--work DIR] [--json]
 *
 * Without --v1/--v2, two synthetic trees are generated (v2 changes a
 * quarter of v1's files and adds some). The server repository is made by
 * `ostree commit` (archive) and `ostree summary -u`. Mode defaults to
 * `bare` when run as root (a real root file system has setuid files and
 * foreign owners, which bare-user-only cannot hold), else bare-user-only
 * with canonical permissions. Times are whole processes (dist/canopy.cjs,
 * so run `npm run build` first); requests and bytes are what the server
 * sent. Ratios are canopy / ostree: below 1 means canopy is faster.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fmt, makeSyntheticTree, median, rng, settle, sh, timeCommand, type Run } from './lib';

const { values } = parseArgs({
  options: {
    v1: { type: 'string' },
    v2: { type: 'string' },
    files: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '3' },
    mode: { type: 'string' },
    concurrency: { type: 'string' },
    work: { type: 'string' },
    json: { type: 'boolean' },
  },
});

const root = resolve(import.meta.dirname ?? '.', '..');
const canopyCli = join(root, 'dist/canopy.cjs');
if (!existsSync(canopyCli)) throw new Error('run `npm run build` first');
const isRoot = process.getuid?.() === 0;
const mode = values.mode ?? (isRoot ? 'bare' : 'bare-user-only');
if (mode === 'bare' && !isRoot) throw new Error('--mode bare needs root');
const runs = Number(values.runs);
const work = mkdtempSync(join(values.work ?? tmpdir(), 'canopy-pull-bench-'));

/** v2 = v1 with every fourth file rewritten and a tenth more files. */
function makeSyntheticUpdate(v1: string, v2: string): void {
  cpSync(v1, v2, { recursive: true, verbatimSymlinks: true });
  const r = rng(2);
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk(v2);
  files.forEach((p, i) => {
    if (i % 4 === 0) writeFileSync(p, Buffer.from(`changed ${i} ${r()}\n`.repeat(1 + Math.floor(r() * 500))));
    if (i % 10 === 0) writeFileSync(`${p}.new`, Buffer.from(`added ${i} ${r()}\n`.repeat(1 + Math.floor(r() * 300))));
  });
}

let v1 = values.v1 ? resolve(values.v1) : join(work, 'v1');
let v2 = values.v2 ? resolve(values.v2) : join(work, 'v2');
if (!values.v1 || !values.v2) {
  v1 = join(work, 'v1');
  v2 = join(work, 'v2');
  makeSyntheticTree(v1, Number(values.files));
  makeSyntheticUpdate(v1, v2);
}

// The server repository, made by the reference tool.
const server = join(work, 'server');
sh(['ostree', `--repo=${server}`, 'init', '--mode=archive']);
const canonical = mode === 'bare' ? [] : ['--canonical-permissions'];
const c1 = sh(['ostree', `--repo=${server}`, 'commit', '-b', 'os/main', '-s', 'v1', '--timestamp=2024-01-01T00:00:00Z', ...canonical, `--tree=dir=${v1}`]).trim();
const c2 = sh(['ostree', `--repo=${server}`, 'commit', '-b', 'os/main', '-s', 'v2', '--timestamp=2024-02-01T00:00:00Z', ...canonical, `--tree=dir=${v2}`]).trim();
sh(['ostree', `--repo=${server}`, 'summary', '-u']);

interface Server { url: string; stats(): Promise<{ requests: number; bytes: number }>; close(): void }

async function startServer(dir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/serve-repo.ts'), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const queue: Array<(l: string) => void> = [];
  lines.on('line', (l) => queue.shift()?.(l));
  const next = (): Promise<string> => new Promise((r) => queue.push(r));
  const url = await next();
  return {
    url,
    async stats() {
      const p = next();
      child.stdin!.write('stats\n');
      return JSON.parse(await p);
    },
    close() {
      child.stdin!.end();
    },
  };
}

type Tool = 'canopy' | 'ostree';
interface Sample extends Run { requests: number; bytes: number }
const results = new Map<string, Record<Tool, Sample[]>>();

function run(argv: string[]): string {
  return sh(argv);
}

async function main(): Promise<void> {
  const srv = await startServer(server);
  const conc = values.concurrency ? [`--concurrency=${values.concurrency}`] : [];
  const cli = (tool: Tool, repo: string, args: string[]): string[] => (tool === 'canopy' ? [process.execPath, canopyCli, `--repo=${repo}`, ...args] : ['ostree', `--repo=${repo}`, ...args]);
  const pullArgs = (tool: Tool, ref: string): string[] => (tool === 'canopy' ? ['pull', ...conc, 'o', ref] : ['pull', '--disable-static-deltas', 'o', ref]);
  const timed = async (op: string, tool: Tool, argv: string[]): Promise<void> => {
    await srv.stats();
    settle();
    const t = timeCommand(argv);
    const s = await srv.stats();
    if (!results.has(op)) results.set(op, { canopy: [], ostree: [] });
    results.get(op)![tool].push({ ...t, ...s });
  };
  console.error(`v1 ${c1.slice(0, 12)}, v2 ${c2.slice(0, 12)}; client mode ${mode}; server ${srv.url}`);
  for (let i = 0; i < runs; i++) {
    const order: Tool[] = i % 2 === 0 ? ['ostree', 'canopy'] : ['canopy', 'ostree'];
    for (const tool of order) {
      const repo = join(work, `${tool}-${i}`);
      run(cli(tool, repo, ['init', `--mode=${mode}`]));
      run(cli(tool, repo, ['remote', 'add', '--no-gpg-verify', 'o', srv.url]));
      await timed('full pull (v1)', tool, cli(tool, repo, pullArgs(tool, `os/main@${c1}`)));
      await timed('update pull (v1 -> v2)', tool, cli(tool, repo, pullArgs(tool, 'os/main')));
      if (i === 0 && tool === 'canopy') run(['ostree', `--repo=${repo}`, 'fsck', '--quiet']);
      rmSync(repo, { recursive: true, force: true });
    }
  }
  srv.close();

  const mb = (b: number): string => (b / 1e6).toFixed(1);
  const table: Array<Record<string, string>> = [];
  for (const [op, r] of results) {
    const o = median(r.ostree.map((x) => x.seconds));
    const c = median(r.canopy.map((x) => x.seconds));
    table.push({
      operation: op,
      'ostree s': `${fmt(o)} (${r.ostree.map((x) => fmt(x.seconds)).join(' ')})`,
      'canopy s': `${fmt(c)} (${r.canopy.map((x) => fmt(x.seconds)).join(' ')})`,
      'time ratio': `${(c / o).toFixed(2)}x`,
      'ostree req / MB': `${median(r.ostree.map((x) => x.requests))} / ${mb(median(r.ostree.map((x) => x.bytes)))}`,
      'canopy req / MB': `${median(r.canopy.map((x) => x.requests))} / ${mb(median(r.canopy.map((x) => x.bytes)))}`,
      'RSS MB o / c': `${(median(r.ostree.map((x) => x.maxRssKb ?? 0)) / 1024).toFixed(0)} / ${(median(r.canopy.map((x) => x.maxRssKb ?? 0)) / 1024).toFixed(0)}`,
    });
  }
  if (values.json) console.log(JSON.stringify({ mode, runs, results: Object.fromEntries(results) }, null, 2));
  const cols = Object.keys(table[0]);
  const widths = cols.map((k) => Math.max(k.length, ...table.map((t) => t[k].length)));
  console.log(cols.map((k, i) => k.padEnd(widths[i])).join('  '));
  for (const t of table) console.log(cols.map((k, i) => t[k].padEnd(widths[i])).join('  '));
  console.log(`runs: ${runs}, interleaved; medians with each run in parentheses; ratio = canopy / ostree (below 1: canopy faster)`);
  rmSync(work, { recursive: true, force: true });
}

void main();
