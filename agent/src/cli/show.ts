/** `canopy show`: one commit, as `ostree show` prints it. */
import { dictLookup, printVariant, printVariantText } from '../gvariant/index';
import { CanopyError } from '../core/errors';
import { commitInfo, formatCommitText } from './commit-info';
import { defineCommand } from './command';
import { variantToJson } from './json-value';
import { resolveCommit } from './tree-path';

export const showCommand = defineCommand({
  name: 'show',
  summary: 'Show one commit',
  usage: 'REV',
  description: 'Metadata values are printed in GVariant text format, as stored: unlike ostree, integers are\n'
    + 'not byte-swapped (ostree show assumes big-endian and shows --add-metadata=n=42 as 704643072).',
  options: {
    'print-metadata-key': { type: 'string', value: 'KEY', help: 'Print only the value of metadata KEY' },
    'print-related': { type: 'boolean', help: 'Print the related objects (name and checksum)' },
    raw: { type: 'boolean', help: 'Print the whole commit object in GVariant text format' },
  },
  operands: [1, 1],
}, (ctx, { values, operands }) => {
  const repo = ctx.openRepo();
  const checksum = resolveCommit(repo, operands[0]);
  const commit = repo.loadCommit(checksum);
  const key = values['print-metadata-key'];
  if (key !== undefined) {
    const v = dictLookup(commit.metadata, key);
    if (!v) throw new CanopyError('ERR_METADATA_KEY_NOT_FOUND', `commit ${checksum} has no metadata key ${JSON.stringify(key)}`, { key, checksum });
    ctx.out.result({ checksum, key, ...variantToJson(v) }, () => printVariant(v));
    return;
  }
  if (values['print-related']) {
    const related = commit.related.map(([name, csum]) => ({ name, checksum: csum }));
    ctx.out.result({ checksum, related }, () => related.map((r) => `${r.name} ${r.checksum}`).join('\n'));
    return;
  }
  if (values.raw) {
    const raw = printVariantText('(a{sv}aya(say)sstayay)', [
      commit.metadata,
      commit.parent ? Buffer.from(commit.parent, 'hex') : new Uint8Array(0),
      commit.related.map(([n, c]) => [n, Buffer.from(c, 'hex')]),
      commit.subject,
      commit.body,
      BigInt(commit.timestamp),
      Buffer.from(commit.rootTree, 'hex'),
      Buffer.from(commit.rootMeta, 'hex'),
    ]);
    ctx.out.result({ ...commitInfo(checksum, commit), raw }, () => `commit ${checksum}\n${raw}`);
    return;
  }
  ctx.out.result(commitInfo(checksum, commit), () => formatCommitText(checksum, commit));
});
