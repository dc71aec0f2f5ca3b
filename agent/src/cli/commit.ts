/**
 * `canopy commit`: commit a directory as a new revision, with ostree's
 * options and checksums (the same tree, subject, body, timestamp and
 * metadata give the same commit checksum as `ostree commit`).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isChecksum, compareUtf8 } from '../core/bytes';
import { ioError, isCanopyError } from '../core/errors';
import { parseVariantText, variant, type VarDict } from '../gvariant/index';
import { commitTree, readRef } from '../repo/index';
import { intOption, splitKeyValue, usageError } from './cli-args';
import { defineCommand } from './command';
import { parseDateTime } from './datetime';

export const commitCommand = defineCommand({
  name: 'commit',
  summary: 'Commit a directory tree as a new revision',
  usage: '[PATH]',
  description: 'Commits PATH (or --tree=dir=PATH, default the current directory) and moves --branch to the\n'
    + 'new commit. Metadata is stored in order: every --add-metadata-string, then every --add-metadata,\n'
    + 'then the ref binding (ostree.ref-binding) and, when the repository has a collection id, the\n'
    + 'collection binding. --timestamp takes @SECONDS, YYYY-MM-DD[ HH:MM[:SS]][ ZONE], now or "N days ago".\n'
    + '--add-metadata values are GVariant text: 42 (int32), uint64 7, true, \'text\', [\'a\', \'b\'], @as [].',
  options: {
    branch: { type: 'string', short: 'b', value: 'BRANCH', help: 'Branch to move to the new commit' },
    subject: { type: 'string', short: 's', value: 'SUBJECT', help: 'One line subject' },
    body: { type: 'string', short: 'm', value: 'BODY', help: 'Full description' },
    'body-file': { type: 'string', short: 'F', value: 'FILE', help: 'Read the description from FILE' },
    parent: { type: 'string', value: 'COMMIT', help: 'Parent commit checksum, or "none" (default: the branch\'s commit)' },
    orphan: { type: 'boolean', help: 'Create a commit without a parent; without --branch, write no ref' },
    'no-bindings': { type: 'boolean', help: 'Do not write ref or collection bindings into the metadata' },
    'bind-ref': { type: 'string', multiple: true, value: 'REF', help: 'Also bind the commit to REF' },
    tree: { type: 'string', multiple: true, value: 'dir=PATH', help: 'The directory to commit' },
    'add-metadata-string': { type: 'string', multiple: true, value: 'KEY=VALUE', help: 'Add a string metadata value' },
    'add-metadata': { type: 'string', multiple: true, value: 'KEY=VALUE', help: 'Add a metadata value in GVariant text format' },
    timestamp: { type: 'string', value: 'TIMESTAMP', help: 'Commit time (default now)' },
    'owner-uid': { type: 'string', value: 'UID', help: 'Store every file as owned by UID' },
    'owner-gid': { type: 'string', value: 'GID', help: 'Store every file as owned by GID' },
    'canonical-permissions': { type: 'boolean', help: 'Store uid/gid 0 and modes masked with 0755 (forced in bare-user-only)' },
    'no-xattrs': { type: 'boolean', help: 'Do not store extended attributes' },
  },
  operands: [0, 1],
}, async (ctx, { values, operands }) => {
  const usage = (msg: string): Error => usageError('commit', msg);
  const branch = values.branch;
  if (!branch && !values.orphan) throw usage('a branch must be given with --branch, or use --orphan');
  const dir = treeDir(ctx.io.cwd, values.tree ?? [], operands[0], usage);
  let parent: string | null | undefined;
  if (values.parent === 'none') parent = null;
  else if (values.parent !== undefined) {
    if (!isChecksum(values.parent)) throw usage(`--parent needs a full commit checksum or "none", not ${JSON.stringify(values.parent)}`);
    parent = values.parent;
  }
  const ownerUid = intOption('commit', 'owner-uid', values['owner-uid'], 0, 0xffffffff);
  const ownerGid = intOption('commit', 'owner-gid', values['owner-gid'], 0, 0xffffffff);
  if (values['canonical-permissions'] && (ownerUid || ownerGid)) throw usage('--canonical-permissions cannot be combined with a non-zero --owner-uid or --owner-gid');
  const timestamp = values.timestamp !== undefined ? parseDateTime(values.timestamp, ctx.io.now()) : Math.floor(ctx.io.now() / 1000);
  if (timestamp < 0) throw usage(`--timestamp ${JSON.stringify(values.timestamp)} is before 1970`);
  let body = values.body;
  if (body === undefined && values['body-file'] !== undefined) {
    const file = resolve(ctx.io.cwd, values['body-file']);
    try {
      body = readFileSync(file, 'utf8');
    } catch (e) {
      throw ioError(e, 'read', file);
    }
  }
  const metadata = buildMetadata(values['add-metadata-string'] ?? [], values['add-metadata'] ?? []);

  const repo = ctx.openRepo();
  if (parent === undefined) parent = values.orphan || !branch ? null : readRef(repo, branch) ?? null;
  if (!values['no-bindings']) {
    const refs = [...(branch ? [branch] : []), ...(values['bind-ref'] ?? [])].sort(compareUtf8);
    metadata.push(['ostree.ref-binding', variant('as', refs)]);
    const cid = repo.config.get('core', 'collection-id');
    if (cid && !metadata.some(([k]) => k === 'ostree.collection-binding')) metadata.push(['ostree.collection-binding', variant('s', cid)]);
  }
  const progress = ctx.progress('commit');
  let result;
  try {
    result = await commitTree(repo, dir, {
      branch,
      subject: values.subject ?? '',
      body: body ?? '',
      timestamp,
      parent,
      metadata,
      bindings: false,
      ownerUid,
      ownerGid,
      canonicalPermissions: values['canonical-permissions'],
      noXattrs: values['no-xattrs'],
      onProgress: (p) => progress.update({ done: p.filesDone, total: p.filesTotal, unit: 'files', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }),
    });
  } finally {
    progress.finish();
  }
  const { checksum, files, dirs, symlinks, objectsWritten, contentBytes } = result;
  ctx.out.result(
    { checksum, branch: branch ?? null, parent, subject: values.subject ?? '', timestamp, files, dirs, symlinks, objectsWritten, contentBytes },
    () => checksum,
  );
});

function treeDir(cwd: string, trees: string[], operand: string | undefined, usage: (m: string) => Error): string {
  if (trees.length > 1) throw usage('only one --tree is supported');
  if (trees.length === 1 && operand !== undefined) throw usage('give the tree either as PATH or as --tree=dir=PATH, not both');
  let path = operand ?? '.';
  if (trees.length === 1) {
    const t = trees[0];
    if (!t.startsWith('dir=')) throw usage(`--tree=${t.split('=')[0]}=… is not supported; use --tree=dir=PATH`);
    path = t.slice(4);
  }
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/** `--add-metadata-string` values in order, then `--add-metadata` values in order, as ostree stores them. */
export function buildMetadata(strings: readonly string[], variants: readonly string[]): VarDict {
  const md: VarDict = [];
  for (const s of strings) {
    const [k, v] = splitKeyValue('commit', 'add-metadata-string', s);
    md.push([k, variant('s', v)]);
  }
  for (const s of variants) {
    const [k, text] = splitKeyValue('commit', 'add-metadata', s);
    try {
      md.push([k, parseVariantText(text)]);
    } catch (e) {
      if (isCanopyError(e, 'ERR_INVALID_ARGUMENT')) throw usageError('commit', `--add-metadata ${k}: ${e.message}`, { key: k });
      throw e;
    }
  }
  return md;
}
