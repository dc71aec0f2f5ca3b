/** `canopy summary`: regenerate or view the repository summary (as `ostree summary`). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { parseVariantText, printVariantText, type Variant, type VarDict } from '../gvariant/index';
import { bswap64, parseSummary, summaryRefTimestamp, type Summary } from '../objects/index';
import { generateSummary } from '../repo/index';
import { hasSigningKeys, publishSummary } from '../fleet/index';
import { KEY_OPTIONS, signingKeys } from './operator-options';
import { splitKeyValue, usageError } from './cli-args';
import { defineCommand } from './command';
import { varDictToJson } from './json-value';
import { formatSizeSi } from './progress';

export const summaryCommand = defineCommand({
  name: 'summary',
  summary: 'Regenerate (-u) or view (-v) the summary file',
  usage: '',
  description: 'The summary lists every local ref with its commit, plus repository metadata; clients read it\n'
    + 'first when they pull. --add-metadata values are GVariant text, as for commit.',
  options: {
    update: { type: 'boolean', short: 'u', help: 'Regenerate the summary (and the static-delta indexes)' },
    view: { type: 'boolean', short: 'v', help: 'Print the summary file' },
    'add-metadata': { type: 'string', short: 'm', multiple: true, value: 'KEY=VALUE', help: 'With -u, add a metadata value (GVariant text)' },
    ...KEY_OPTIONS,
  },
  operands: [0, 0],
}, async (ctx, { values }) => {
  if (!values.update && !values.view) throw usageError('summary', 'use -u to update the summary or -v to view it');
  const repo = ctx.openRepo();
  if (values.update) {
    const metadata: VarDict = (values['add-metadata'] ?? []).map((kv) => {
      const [k, text] = splitKeyValue('summary', 'add-metadata', kv);
      try {
        return [k, parseVariantText(text)];
      } catch (e) {
        throw usageError('summary', `--add-metadata ${k}: ${(e as Error).message}`, { key: k });
      }
    });
    const keys = signingKeys(ctx, values);
    const now = Math.floor(ctx.io.now() / 1000);
    // With keys, summary.sig is written beside the summary (fleet/summary-signing.ts).
    const r = hasSigningKeys(keys) ? await publishSummary(repo, keys, { metadata, now }) : generateSummary(repo, { metadata, now });
    if (!values.view) {
      ctx.out.result({ path: join(repo.path, 'summary'), refs: r.refs, size: r.bytes.length }, () => '');
      return;
    }
  }
  const path = join(repo.path, 'summary');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CanopyError('ERR_OBJECT_NOT_FOUND', `${repo.path} has no summary (run canopy summary -u)`, { path });
    throw ioError(e, 'read', path);
  }
  const s = parseSummary(bytes);
  ctx.out.result(summaryJson(s), () => formatSummary(s));
});

function isoUtc(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '+00');
}

function be64Seconds(v: Variant): number | undefined {
  return v.type === 't' ? Number(bswap64(v.value as bigint)) : undefined;
}

function summaryJson(s: Summary): unknown {
  return {
    refs: s.refs.map((r) => ({
      name: r.name,
      checksum: r.commit,
      commitSize: r.commitSize,
      timestamp: summaryRefTimestamp(r) ?? null,
      metadata: varDictToJson(r.metadata),
    })),
    metadata: varDictToJson(s.metadata),
  };
}

const PRETTY: Record<string, string> = {
  'ostree.summary.last-modified': 'Last-Modified',
  'ostree.summary.expires': 'Expires',
  'ostree.summary.mode': 'Repository Mode',
  'ostree.summary.collection-id': 'Collection ID',
  'ostree.summary.tombstone-commits': 'Has Tombstone Commits',
  'ostree.static-deltas': 'Static Deltas',
};

/** The layout of `ostree summary --view` (times in UTC). */
function formatSummary(s: Summary): string {
  let out = '';
  for (const r of s.refs) {
    out += `* ${r.name}\n    Latest Commit (${formatSizeSi(r.commitSize)}):\n      ${r.commit}\n`;
    for (const [k, v] of r.metadata) {
      if (k === 'ostree.commit.timestamp') out += `    Timestamp (${k}): ${isoUtc(be64Seconds(v) ?? 0)}\n`;
      else if (k === 'ostree.commit.version' && v.type === 's') out += `    Version (${k}): ${v.value as string}\n`;
      else out += `    ${k}: ${printVariantText(v.type, v.value, false)}\n`;
    }
    out += '\n';
  }
  for (const [k, v] of s.metadata) {
    const pretty = Object.hasOwn(PRETTY, k) ? PRETTY[k] : undefined;
    let value: string;
    if ((k === 'ostree.summary.last-modified' || k === 'ostree.summary.expires') && v.type === 't') value = isoUtc(be64Seconds(v)!);
    else if ((k === 'ostree.summary.mode' || k === 'ostree.summary.collection-id') && v.type === 's') value = v.value as string;
    else if (k === 'ostree.summary.tombstone-commits' && v.type === 'b') value = v.value ? 'Yes' : 'No';
    else value = printVariantText(v.type, v.value, false);
    out += pretty ? `${pretty} (${k}): ${value}\n` : `${k}: ${value}\n`;
  }
  return out;
}
