/**
 * `canopy static-delta`: generate, list, show, delete, reindex and apply
 * static deltas (as `ostree static-delta`). Each action is its own
 * command declaration; `static-delta` dispatches on the first word.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { CanopyError } from '../core/errors';
import { applyStaticDeltaOffline, deltaDir, parseDeltaName } from '../delta/index';
import { generateDelta } from '../delta/generate';
import { listStaticDeltas, reindexStaticDeltas } from '../repo/index';
import { commandHelp, intOption, usageError, type CommandSpec, type GlobalValues } from './cli-args';
import { defineCommand, type Command } from './command';
import { ExitCode } from './exit-codes';
import type { CliIo } from './output';
import { formatSizeSi } from './progress';
import { describeDelta, formatDeltaShow } from './static-delta-show';
import { resolveCommit } from './tree-path';

const MB = 1_000_000;

const generateCommand = defineCommand({
  name: 'static-delta generate',
  summary: 'Generate a static delta between two commits (or from nothing)',
  usage: '',
  description: 'Writes deltas/… in the repository (or --filename). Sizes are in MB (10^6 bytes), as ostree.\n'
    + 'Run `canopy summary -u` afterwards so the summary and the delta indexes list the delta.',
  options: {
    from: { type: 'string', value: 'REV', help: 'Source revision' },
    empty: { type: 'boolean', help: 'Delta from nothing (a full copy of --to)' },
    to: { type: 'string', value: 'REV', help: 'Target revision (required)' },
    inline: { type: 'boolean', help: 'Put the parts into the superblock (one file)' },
    'min-fallback-size': { type: 'string', value: 'MB', help: 'Files larger than this are fetched as plain objects; 0 never (default 4)' },
    'max-chunk-size': { type: 'string', value: 'MB', help: 'Largest part, uncompressed (default 32)' },
    'max-bsdiff-size': { type: 'string', value: 'MB', help: 'Largest old + new file pair to bsdiff (default 128)' },
    'disable-bsdiff': { type: 'boolean', help: 'Do not use bsdiff' },
    'set-endianness': { type: 'string', value: 'l|B', help: 'Byte order of the part headers (default l)' },
    'if-not-exists': { type: 'boolean', short: 'n', help: 'Do nothing when the delta already exists' },
    filename: { type: 'string', value: 'PATH', help: 'Write the superblock to PATH and the parts beside it' },
  },
  operands: [0, 0],
}, async (ctx, { values }) => {
  if (!values.to) throw usageError('static-delta generate', '--to=REV is required');
  if (values.from && values.empty) throw usageError('static-delta generate', '--from and --empty exclude each other');
  const endianness = values['set-endianness'];
  if (endianness !== undefined && endianness !== 'l' && endianness !== 'B') throw usageError('static-delta generate', `--set-endianness must be l or B, not ${JSON.stringify(endianness)}`);
  const mb = (name: 'min-fallback-size' | 'max-chunk-size' | 'max-bsdiff-size', min: number): number | undefined => {
    const v = intOption('static-delta generate', name, values[name], min);
    return v === undefined ? undefined : v * MB;
  };
  const repo = ctx.openRepo();
  const to = resolveCommit(repo, values.to);
  let from: string | null = null;
  if (values.from) from = resolveCommit(repo, values.from);
  else if (!values.empty) from = repo.loadCommit(to).parent ?? null;
  const output = values.filename === undefined ? undefined : dirname(isAbsolute(values.filename) ? values.filename : resolve(ctx.io.cwd, values.filename));
  const dir = output ?? join(repo.path, deltaDir(from, to));
  if (values['if-not-exists'] && existsSync(join(dir, 'superblock'))) {
    ctx.out.result({ name: from ? `${from}-${to}` : to, dir, generated: false }, () => `Delta ${from ? `${from}-${to}` : to} exists`);
    return;
  }
  const progress = ctx.progress('static-delta');
  let result;
  try {
    result = await generateDelta(repo, {
      from, to, inline: Boolean(values.inline), outputDir: output,
      minFallbackSize: mb('min-fallback-size', 0), maxChunkSize: mb('max-chunk-size', 1), maxBsdiffSize: mb('max-bsdiff-size', 0),
      bsdiff: !values['disable-bsdiff'], endianness: endianness as 'l' | 'B' | undefined,
      timestamp: Math.floor(ctx.io.now() / 1000),
      onProgress: (p) => progress.update({ done: p.done, total: p.total, unit: p.phase }),
    });
  } finally {
    progress.finish();
  }
  const r = result;
  ctx.out.result({ ...r, generated: true }, () => [
    `Generated delta ${r.name}`,
    `  parts: ${r.parts.length}, ${formatSizeSi(r.partsSize)} (superblock ${formatSizeSi(r.superblockSize)})`,
    `  objects: ${r.counts.metadata} metadata, ${r.counts.bsdiff} bsdiff, ${r.counts.rollsum} rollsum, ${r.counts.files + r.counts.x86} whole files, ${r.counts.symlinks} symlinks`,
    `  fallbacks: ${r.fallbacks.length}, ${formatSizeSi(r.fallbackSize)}`,
  ].join('\n'));
});

const listCommand = defineCommand({
  name: 'static-delta list',
  summary: 'List the static deltas of the repository',
  usage: '',
  options: {},
  operands: [0, 0],
}, (ctx) => {
  const deltas = listStaticDeltas(ctx.openRepo());
  ctx.out.result(deltas.map((d) => ({ name: d.name, from: d.from ?? null, to: d.to, path: d.relPath })),
    () => (deltas.length ? deltas.map((d) => d.name).join('\n') : '(No static deltas)'));
});

const showCommand = defineCommand({
  name: 'static-delta show',
  summary: 'Describe a static delta: parts, sizes, operations, fallbacks',
  usage: 'DELTA',
  description: 'DELTA is FROM-TO or TO (hex checksums), as `static-delta list` prints it.',
  options: {},
  operands: [1, 1],
}, (ctx, { operands }) => {
  const repo = ctx.openRepo();
  const info = describeDelta(repo, operands[0]);
  ctx.out.result(info, () => formatDeltaShow(info));
});

const deleteCommand = defineCommand({
  name: 'static-delta delete',
  summary: 'Delete a static delta',
  usage: 'DELTA',
  description: 'Run `canopy summary -u` afterwards so the summary and the delta indexes forget it.',
  options: {},
  operands: [1, 1],
}, (ctx, { operands }) => {
  const repo = ctx.openRepo();
  const { from, to } = parseDeltaName(operands[0]);
  const dir = join(repo.path, deltaDir(from, to));
  if (!existsSync(dir)) throw new CanopyError('ERR_OBJECT_NOT_FOUND', `no static delta ${operands[0]} in ${repo.path}`, { delta: operands[0] });
  rmSync(dir, { recursive: true, force: true });
  ctx.out.result({ deleted: operands[0] }, () => '');
});

const reindexCommand = defineCommand({
  name: 'static-delta reindex',
  summary: 'Rewrite the delta indexes (delta-indexes/) from deltas/',
  usage: '',
  options: {},
  operands: [0, 0],
}, (ctx) => {
  const r = reindexStaticDeltas(ctx.openRepo());
  ctx.out.result(r, () => '');
});

const applyCommand = defineCommand({
  name: 'static-delta apply-offline',
  summary: 'Apply a static delta from a directory or superblock file',
  usage: 'PATH',
  description: 'The repository must be bare or bare-user-only and hold the delta\'s source commit. A delta\n'
    + 'with fallback objects applies only when the repository has them already. No ref is moved.',
  options: {
    'expect-commit': { type: 'string', value: 'CHECKSUM', help: 'Refuse the delta unless it targets this commit' },
  },
  operands: [1, 1],
}, async (ctx, { values, operands }) => {
  const repo = ctx.openRepo();
  const path = isAbsolute(operands[0]) ? operands[0] : resolve(ctx.io.cwd, operands[0]);
  const progress = ctx.progress('apply');
  let r;
  try {
    r = await applyStaticDeltaOffline(repo, path, {
      expectedTo: values['expect-commit'],
      onProgress: (p) => progress.update({ done: p.partsDone, total: p.partsTotal, unit: 'parts', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }),
    });
  } finally {
    progress.finish();
  }
  const res = r;
  ctx.out.result(res, () => `Applied delta ${res.name}: ${res.partsApplied} parts (${res.partsSkipped} already present), ${res.objectsWritten} objects written`
    + (res.complete ? '' : `; ${res.missingObjects} objects of ${res.to} are still missing`));
});

/** The hidden action a bsdiff worker thread runs with when it loads the CLI bundle (see delta/bsdiff-pool.ts). */
const WORKER_ACTION = '__worker';

const ACTIONS: ReadonlyMap<string, Command> = new Map([
  ['generate', generateCommand], ['list', listCommand], ['show', showCommand], ['delete', deleteCommand],
  ['reindex', reindexCommand], ['apply-offline', applyCommand],
]);

const SPEC: CommandSpec = {
  name: 'static-delta',
  summary: 'Generate, list, show, delete and apply static deltas',
  usage: 'ACTION [OPTION…]',
  description: `Actions:\n${[...ACTIONS].map(([n, c]) => `  ${n.padEnd(15)}${c.spec.summary}`).join('\n')}\n\n`
    + 'canopy static-delta ACTION --help shows the options of an action.',
  options: {},
  operands: [0, Infinity],
};

export const staticDeltaCommand: Command = {
  spec: SPEC,
  async run(io: CliIo, argv: readonly string[], globals: GlobalValues): Promise<number> {
    const i = argv.findIndex((w) => !w.startsWith('-'));
    const action = i < 0 ? undefined : argv[i];
    if (action === WORKER_ACTION) return ExitCode.OK;
    if (action === undefined) {
      if (globals.help || argv.includes('--help') || argv.includes('-h')) {
        io.stdout.write(commandHelp(SPEC));
        return ExitCode.OK;
      }
      throw usageError('static-delta', 'missing ACTION');
    }
    const command = ACTIONS.get(action);
    if (!command) throw usageError('static-delta', `unknown action ${JSON.stringify(action)}`);
    return command.run(io, [...argv.slice(0, i), ...argv.slice(i + 1)], globals);
  },
};
