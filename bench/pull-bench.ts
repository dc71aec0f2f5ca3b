/**
 * Pull over HTTP: canopy against the real ostree, side by side in one run,
 * from the same static server (nginx, or bench/serve-repo.ts),
 * into fresh repositories, interleaved per repetition:
 *
 * - full pull: an empty repository pulls v1;
 * - update pull: the repository holding v1 pulls v2 by objects (both tools
 *   with --disable-static-deltas);
 * - update pull via the static delta: the same, with the v1 -> v2 delta that
 *   `ostree static-delta generate` put on the server, counting the bytes each
 *   tool really fetched (ostree 2022.7 refetches objects after a delta).
 *
 *   node --import tsx bench/pull-bench.ts [--v1 DIR --v2 DIR] [--files N] [--runs N]
 *        [--mode bare|bare-user-only] [--concurrency N] [--server nginx|node] [--work DIR] [--json]
 *
 * The server is nginx (Debian package nginx-light, one worker, as in the
 * reference measurements) when installed, else bench/serve-repo.ts (the
 * test server, a Node process that competes harder for the CPU).
 *
 * Without --v1/--v2, two synthetic trees are generated (v2 changes a
 * quarter of v1's files and adds some). The server repository is made by
 * `ostree commit` (archive) and `ostree summary -u`. Mode defaults to
 * `bare` when run as root (a real root file system has setuid files and
 * foreign owners, which bare-user-only cannot hold), else bare-user-only
 * with canonical permissions. Times are whole processes (dist/canopy.cjs,
 * so run `npm run build` first), both tools with the same minimal
 * environment (toolEnv in lib.ts); requests and bytes are what the server
 * sent. Ratios are canopy / ostree: below 1 means canopy is faster.
 *
 * On ext4 without a journal, creating files is slow for about five minutes
 * after many files were deleted nearby (the allocator skips recently freed
 * inodes one by one: recently_deleted in perf). Both tools then spend about
 * twice the system time; this benchmark deletes its repositories only at
 * the end, so leave a few minutes between runs.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { fmt, leftOutEnv, makeSyntheticTree, median, rng, settle, sh, toolEnv, workDir } from './lib';

const hasNginx = (): boolean => spawnSync('nginx', ['-v']).status === 0;

const { values } = parseArgs({
  options: {
    v1: { type: 'string' },
    v2: { type: 'string' },
    files: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '3' },
    mode: { type: 'string' },
    concurrency: { type: 'string' },
    server: { type: 'string' },
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
const work = workDir(values.work, 'canopy-pull-bench-');

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
sh(['ostree', `--repo=${server}`, 'static-delta', 'generate', `--from=${c1}`, `--to=${c2}`]);
sh(['ostree', `--repo=${server}`, 'summary', '-u']);

interface Server { url: string; stats(): Promise<{ requests: number; bytes: number }>; close(): void }

/** A free TCP port on 127.0.0.1 (for nginx, which cannot listen on port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** nginx (Debian package nginx-light) serving `dir`, one worker, logging status and body bytes per request. */
async function startNginx(dir: string): Promise<Server> {
  const prefix = join(work, 'nginx');
  mkdirSync(prefix, { recursive: true });
  const port = await freePort();
  const log = join(prefix, 'access.log');
  writeFileSync(join(prefix, 'nginx.conf'), [
    'worker_processes 1;', 'daemon off;', 'user root;', `pid ${prefix}/nginx.pid;`, `error_log ${prefix}/error.log;`,
    'events { worker_connections 512; }',
    'http {',
    '  log_format stats "$status $body_bytes_sent";', `  access_log ${log} stats;`,
    '  sendfile on; tcp_nopush on; keepalive_requests 1000000; keepalive_timeout 60;',
    '  default_type application/octet-stream;',
    `  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;`,
    `  server { listen 127.0.0.1:${port}; root ${dir}; location / { } }`,
    '}', '',
  ].join('\n'));
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'inherit' });
  for (let i = 0; i < 100 && !existsSync(join(prefix, 'nginx.pid')); i++) await new Promise((r) => setTimeout(r, 20));
  let seen = 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    async stats() {
      const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
      const fresh = lines.slice(seen);
      seen = lines.length;
      return { requests: fresh.length, bytes: fresh.reduce((n, l) => n + Number(l.split(' ')[1]), 0) };
    },
    close() {
      child.kill('SIGQUIT');
    },
  };
}

async function startServer(dir: string): Promise<Server> {
  if ((values.server ?? (hasNginx() ? 'nginx' : 'node')) === 'nginx') return startNginx(dir);
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
interface Sample { seconds: number; cpu: number; maxRssKb: number; requests: number; bytes: number }

/** Wall seconds (own clock), CPU seconds (user + system) and peak RSS of a whole process, via /usr/bin/time. */
function timeProcess(argv: string[]): Omit<Sample, 'requests' | 'bytes'> {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...argv], { env: toolEnv(), encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [u, sys, rss] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds, cpu: u + sys, maxRssKb: rss };
}
const results = new Map<string, Record<Tool, Sample[]>>();

function run(argv: string[]): string {
  return sh(argv);
}

async function main(): Promise<void> {
  const srv = await startServer(server);
  const conc = values.concurrency ? [`--concurrency=${values.concurrency}`] : [];
  const cli = (tool: Tool, repo: string, args: string[]): string[] => (tool === 'canopy' ? [process.execPath, canopyCli, `--repo=${repo}`, ...args] : ['ostree', `--repo=${repo}`, ...args]);
  const pullArgs = (tool: Tool, ref: string, deltas = false): string[] => ['pull', ...(tool === 'canopy' ? conc : []), ...(deltas ? [] : ['--disable-static-deltas']), 'o', ref];
  const timed = async (op: string, tool: Tool, argv: string[]): Promise<void> => {
    await srv.stats();
    settle();
    const t = timeProcess(argv);
    const s = await srv.stats();
    if (!results.has(op)) results.set(op, { canopy: [], ostree: [] });
    results.get(op)![tool].push({ ...t, ...s });
  };
  console.error(`v1 ${c1.slice(0, 12)}, v2 ${c2.slice(0, 12)}; client mode ${mode}; server ${srv.url} (${values.server ?? (hasNginx() ? 'nginx' : 'node')})`);
  const done: string[] = [];
  for (let i = 0; i < runs; i++) {
    const order: Tool[] = i % 2 === 0 ? ['ostree', 'canopy'] : ['canopy', 'ostree'];
    for (const tool of order) {
      const repo = join(work, `${tool}-${i}`);
      run(cli(tool, repo, ['init', `--mode=${mode}`]));
      run(cli(tool, repo, ['remote', 'add', '--no-gpg-verify', 'o', srv.url]));
      await timed('full pull (v1)', tool, cli(tool, repo, pullArgs(tool, `os/main@${c1}`)));
      run(['cp', '-a', repo, `${repo}-delta`]);
      await timed('update pull (v1 -> v2)', tool, cli(tool, repo, pullArgs(tool, 'os/main')));
      await timed('update pull via static delta', tool, cli(tool, `${repo}-delta`, pullArgs(tool, 'os/main', true)));
      if (i === 0 && tool === 'canopy') for (const r of [repo, `${repo}-delta`]) run(['ostree', `--repo=${r}`, 'fsck', '--quiet']);
      // Deleted at the end, not here: ext4 without a journal skips recently freed
      // inodes when it allocates, and thousands of them next to the next run's
      // repository slowed its file creation (find_inode_bit/recently_deleted in perf).
      done.push(repo, `${repo}-delta`);
    }
  }
  srv.close();
  for (const r of done) rmSync(r, { recursive: true, force: true });

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
      // Run i of each tool ran back to back, so pairs share the machine's state at the time: a count that drift between runs does not blur.
      'canopy faster': `${r.canopy.filter((x, i) => x.seconds < r.ostree[i].seconds).length} of ${r.canopy.length}`,
      'CPU s o / c': `${fmt(median(r.ostree.map((x) => x.cpu)))} / ${fmt(median(r.canopy.map((x) => x.cpu)))}`,
      'ostree req / MB': `${median(r.ostree.map((x) => x.requests))} / ${mb(median(r.ostree.map((x) => x.bytes)))}`,
      'canopy req / MB': `${median(r.canopy.map((x) => x.requests))} / ${mb(median(r.canopy.map((x) => x.bytes)))}`,
      'RSS MB o / c': `${(median(r.ostree.map((x) => x.maxRssKb)) / 1024).toFixed(0)} / ${(median(r.canopy.map((x) => x.maxRssKb)) / 1024).toFixed(0)}`,
    });
  }
  if (values.json) console.log(JSON.stringify({ mode, runs, results: Object.fromEntries(results) }, null, 2));
  const cols = Object.keys(table[0]);
  const widths = cols.map((k) => Math.max(k.length, ...table.map((t) => t[k].length)));
  console.log(cols.map((k, i) => k.padEnd(widths[i])).join('  '));
  for (const t of table) console.log(cols.map((k, i) => t[k].padEnd(widths[i])).join('  '));
  const startup = timeProcess([process.execPath, canopyCli, '--version']);
  console.log(`runs: ${runs}, interleaved; medians with each run in parentheses; ratio = canopy / ostree (below 1: canopy faster); canopy faster: in how many runs canopy took less time than ostree's run next to it`);
  console.log(`canopy start-up alone (canopy --version): ${fmt(startup.seconds)} s, included in every canopy time; machine load at the end: ${sh(['cat', '/proc/loadavg']).trim()}`);
  const left = leftOutEnv();
  console.log(`both tools ran with only ${Object.keys(toolEnv()).join(', ')} from this shell's environment${left.length ? `; left out: ${left.join(', ')}` : ''}`);
  rmSync(work, { recursive: true, force: true });
}

void main();
