/**
 * Deploy: `canopy-agent admin deploy` against `ostree admin deploy` on twin
 * sysroots (U-Boot stub, the same commits in each repository), interleaved
 * per repetition with the order alternating, each tool timed as a whole
 * process. Two operations:
 *
 * - `deploy v1`: the first deployment (checkout + /etc copy + boot files);
 * - `deploy v2`: the update on top of it, with an /etc merge of local edits.
 *
 *   node --import tsx bench/deploy-bench.ts [--tree DIR] [--tree2 DIR] [--files N] [--runs N] [--work DIR]
 *
 * --tree (and --tree2 for the update) are root filesystems; each is made
 * bootable in a hardlink copy (`etc` moved to `usr/etc`, dummy kernel,
 * initramfs and device tree under usr/lib/modules/6.1.0). Without --tree a
 * synthetic tree of --files files is used. Needs root, ostree and
 * `npm run build`. Prints medians with every run and the ratio canopy / ostree.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, makeSyntheticTree, median, rng, settle, sh, timeCommand, workDir, type Run } from './lib';

const { values } = parseArgs({
  options: {
    tree: { type: 'string' },
    tree2: { type: 'string' },
    files: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '3' },
    work: { type: 'string' },
  },
});

const agentCli = resolve('dist/canopy-agent.cjs');
if (!existsSync(agentCli)) throw new Error('run `npm run build` first');
if (process.getuid?.() !== 0) throw new Error('ostree admin deploy needs root');
const work = workDir(values.work, 'canopy-deploy-bench-');
const runs = Number(values.runs);

function randomFile(path: string, size: number, seed: number): void {
  const r = rng(seed);
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE(Math.floor(r() * 0xffffffff), i);
  writeFileSync(path, buf);
}

/** A bootable tree: a hardlink copy of `src` (or a synthetic tree) with usr/etc and a dummy kernel. */
function bootable(name: string, src: string | undefined, seed: number): string {
  const dir = join(work, name);
  if (src) sh(['cp', '-al', resolve(src), dir]);
  else {
    makeSyntheticTree(dir, Number(values.files), seed);
    mkdirSync(join(dir, 'etc/default'), { recursive: true });
    for (let i = 0; i < 40; i++) writeFileSync(join(dir, 'etc', i % 2 ? `conf${i}` : `default/conf${i}`), `setting=${i}\nseed=${seed}\n`);
    mkdirSync(join(dir, 'usr/lib'), { recursive: true });
    writeFileSync(join(dir, 'usr/lib/os-release'), 'ID=bench\nPRETTY_NAME="Bench OS"\n');
  }
  if (existsSync(join(dir, 'etc')) && !existsSync(join(dir, 'usr/etc'))) renameSync(join(dir, 'etc'), join(dir, 'usr/etc'));
  const mod = join(dir, 'usr/lib/modules/6.1.0');
  mkdirSync(mod, { recursive: true });
  for (const f of readdirSync(mod)) rmSync(join(mod, f), { recursive: true });
  randomFile(join(mod, 'vmlinuz'), 8 << 20, seed);
  randomFile(join(mod, 'initramfs.img'), 16 << 20, seed + 1);
  randomFile(join(mod, 'devicetree'), 64 << 10, seed + 2);
  return dir;
}

type Tool = 'canopy' | 'ostree';
const TOOLS: Tool[] = ['ostree', 'canopy'];
const sysroots = {} as Record<Tool, string>;

const v1 = bootable('v1', values.tree, 1);
const v2 = bootable('v2', values.tree2, 2);
console.error(`trees: ${values.tree ?? 'synthetic'} -> ${values.tree2 ?? 'synthetic'}`);
console.error(sh(['du', '-sh', '--apparent-size', v1]).trim(), `${sh(['sh', '-c', 'find "$1" -type f | wc -l', 'sh', v1]).trim()} files`);

for (const tool of TOOLS) {
  const s = join(work, tool, 'sysroot');
  mkdirSync(s, { recursive: true });
  sh(['ostree', 'admin', 'init-fs', s]);
  sh(['ostree', 'admin', 'os-init', `--sysroot=${s}`, 'bench']);
  mkdirSync(join(s, 'boot/loader.0'));
  symlinkSync('loader.0', join(s, 'boot/loader'));
  writeFileSync(join(s, 'boot/loader/uEnv.txt'), '');
  symlinkSync('loader/uEnv.txt', join(s, 'boot/uEnv.txt'));
  for (const [ref, tree, ts] of [['bench/v1', v1, '2024-01-01'], ['bench/v2', v2, '2024-02-01']]) {
    sh(['ostree', `--repo=${join(s, 'ostree/repo')}`, 'commit', '--bootable', '-b', ref, '-s', ref, `--timestamp=${ts} 00:00:00 +0000`, '--add-metadata-string', `version=${ref}`, `--tree=dir=${tree}`]);
  }
  sysroots[tool] = s;
}

const deployArgv = (tool: Tool, ref: string): string[] => (tool === 'canopy'
  ? [process.execPath, agentCli, 'admin', 'deploy', `--sysroot=${sysroots[tool]}`, '--os=bench', ref]
  : ['ostree', 'admin', 'deploy', `--sysroot=${sysroots[tool]}`, '--os=bench', ref]);

/** Back to no deployments (untimed, with ostree for both so the starting state is the same). */
function reset(tool: Tool): void {
  const s = sysroots[tool];
  for (;;) {
    const st = spawnSync('ostree', ['admin', 'status', `--sysroot=${s}`], { encoding: 'utf8' }).stdout;
    if (!/^\s+bench /m.test(st)) break;
    sh(['ostree', 'admin', 'undeploy', `--sysroot=${s}`, '0']);
  }
  sh(['ostree', 'admin', 'cleanup', `--sysroot=${s}`]);
}

/** The same local /etc edits in the default deployment of both sysroots. */
function editEtc(tool: Tool): void {
  const dir = join(sysroots[tool], 'ostree/deploy/bench/deploy');
  const d = readdirSync(dir).find((n) => /^[0-9a-f]{64}\.[0-9]+$/.test(n))!;
  const etc = join(dir, d, 'etc');
  writeFileSync(join(etc, 'bench-local.conf'), 'local=1\n');
  const victim = readdirSync(etc).find((n) => n !== 'bench-local.conf' && !n.startsWith('.'));
  if (victim) spawnSync('sh', ['-c', 'test -f "$1" && ! test -L "$1" && printf "# local edit\\n" >> "$1"', 'sh', join(etc, victim)]);
}

const results = new Map<string, Record<Tool, Run[]>>();
const record = (op: string, tool: Tool, r: Run): void => {
  if (!results.has(op)) results.set(op, { canopy: [], ostree: [] });
  results.get(op)![tool].push(r);
};

for (let i = 0; i < runs; i++) {
  const order: Tool[] = i % 2 === 0 ? ['ostree', 'canopy'] : ['canopy', 'ostree'];
  for (const tool of order) reset(tool);
  for (const tool of order) {
    settle();
    record('deploy v1 (first)', tool, timeCommand(deployArgv(tool, 'bench/v1')));
  }
  for (const tool of order) editEtc(tool);
  for (const tool of order) {
    settle();
    record('deploy v2 (/etc merge)', tool, timeCommand(deployArgv(tool, 'bench/v2')));
  }
  const a = sh(['sh', '-c', 'cat "$1"/boot/loader/entries/* "$1"/boot/loader/uEnv.txt', 'sh', sysroots.ostree]);
  const b = sh(['sh', '-c', 'cat "$1"/boot/loader/entries/* "$1"/boot/loader/uEnv.txt', 'sh', sysroots.canopy]);
  if (a !== b) throw new Error('the two sysroots differ in their boot entries');
}

const rows: string[][] = [['operation', 'ostree s', 'canopy s', 'ratio (median of pairs)', 'ostree RSS MB', 'canopy RSS MB']];
for (const [op, r] of results) {
  const o = median(r.ostree.map((x) => x.seconds));
  const c = median(r.canopy.map((x) => x.seconds));
  const pairs = r.canopy.map((x, k) => x.seconds / r.ostree[k].seconds);
  rows.push([
    op, `${fmt(o)} (${r.ostree.map((x) => fmt(x.seconds)).join(' ')})`, `${fmt(c)} (${r.canopy.map((x) => fmt(x.seconds)).join(' ')})`,
    `${median(pairs).toFixed(2)}x (${pairs.map((p) => p.toFixed(2)).join(' ')})`,
    (median(r.ostree.map((x) => x.maxRssKb ?? 0)) / 1024).toFixed(0), (median(r.canopy.map((x) => x.maxRssKb ?? 0)) / 1024).toFixed(0),
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
console.log(`runs: ${runs}; medians with each run in parentheses; ratio = canopy / ostree per interleaved pair (below 1 is faster)`);
spawnSync('sh', ['-c', 'chattr -i "$1"/*/sysroot/ostree/deploy/*/deploy/*.[0-9]* 2>/dev/null; true', 'sh', work]);
rmSync(work, { recursive: true, force: true });
