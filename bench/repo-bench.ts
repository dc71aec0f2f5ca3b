/**
 * Commit, checkout and fsck: canopy against the real ostree, side by side in
 * one run (interleaved per repetition), in archive and bare-user-only repos.
 *
 *   node --import tsx bench/repo-bench.ts [--tree DIR] [--files N] [--runs N] [--modes archive,bare-user-only]
 *
 * Without --tree a synthetic tree of --files files is generated. Every figure
 * is the median over --runs repetitions; the ratio is canopy / ostree.
 * Needs `npm run build` first (it times dist/canopy.cjs as a whole process).
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, makeSyntheticTree, median, settle, sh, timeCommand, workDir, type Run } from './lib';

const { values } = parseArgs({
  options: {
    tree: { type: 'string' },
    files: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'archive,bare-user-only' },
    work: { type: 'string' },
  },
});

const canopyCli = resolve('dist/canopy.cjs');
if (!existsSync(canopyCli)) throw new Error('run `npm run build` first');
const work = workDir(values.work, 'canopy-bench-');
const tree = values.tree ? resolve(values.tree) : join(work, 'tree');
if (!values.tree) makeSyntheticTree(tree, Number(values.files));
const runs = Number(values.runs);
const modes = values.modes!.split(',') as ('archive' | 'bare-user-only')[];

type Tool = 'canopy' | 'ostree';
const bin = (tool: Tool): string[] => (tool === 'canopy' ? [process.execPath, canopyCli] : ['ostree']);

const results = new Map<string, Record<Tool, Run[]>>();
const record = (op: string, tool: Tool, r: Run): void => {
  if (!results.has(op)) results.set(op, { canopy: [], ostree: [] });
  results.get(op)![tool].push(r);
};

console.error(`tree: ${tree}`);
console.error(sh(['du', '-sh', '--apparent-size', tree]).trim(), `${sh(['sh', '-c', `find "$1" -type f | wc -l`, 'sh', tree]).trim()} files`);
for (let i = 0; i < runs; i++) {
  for (const mode of modes) {
    // Alternate which tool goes first so neither always gets a cold cache.
    const order: Tool[] = i % 2 === 0 ? ['ostree', 'canopy'] : ['canopy', 'ostree'];
    for (const tool of order) {
      const repo = join(work, `${tool}-${mode}`);
      const co = join(work, `${tool}-${mode}-co`);
      rmSync(repo, { recursive: true, force: true });
      rmSync(co, { recursive: true, force: true });
      sh([...bin(tool), `--repo=${repo}`, 'init', `--mode=${mode}`]);
      settle();
      record(`commit ${mode}`, tool, timeCommand([...bin(tool), `--repo=${repo}`, 'commit', '-b', 'bench', '-s', 'bench', `--tree=dir=${tree}`]));
      settle();
      const coArgs = mode === 'archive' ? [] : ['-U', '-H'];
      record(`checkout ${mode}`, tool, timeCommand([...bin(tool), `--repo=${repo}`, 'checkout', ...coArgs, 'bench', co]));
      settle();
      record(`fsck ${mode}`, tool, timeCommand([...bin(tool), `--repo=${repo}`, 'fsck']));
      rmSync(co, { recursive: true, force: true });
    }
  }
}

const rows: string[][] = [['operation', 'ostree s', 'canopy s', 'ratio', 'ostree RSS MB', 'canopy RSS MB']];
for (const [op, r] of results) {
  const o = median(r.ostree.map((x) => x.seconds));
  const c = median(r.canopy.map((x) => x.seconds));
  const orss = median(r.ostree.map((x) => x.maxRssKb ?? 0)) / 1024;
  const crss = median(r.canopy.map((x) => x.maxRssKb ?? 0)) / 1024;
  rows.push([op, `${fmt(o)} (${r.ostree.map((x) => fmt(x.seconds)).join(' ')})`, `${fmt(c)} (${r.canopy.map((x) => fmt(x.seconds)).join(' ')})`, `${(c / o).toFixed(2)}x`, orss.toFixed(0), crss.toFixed(0)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
console.log(`runs: ${runs}; medians with each run in parentheses; ratio = canopy / ostree (below 1 is faster)`);
rmSync(work, { recursive: true, force: true });
