/**
 * `canopy pull REMOTE [REF…]`: fetch and verify commits from a configured
 * remote (HTTP, HTTPS or file://) and move `refs/remotes/REMOTE/REF`, as
 * `ostree pull` does. A progress line on a TTY; `--json` prints the result.
 */
import type { PullProgress } from '../pull/index';
import { intOption } from './cli-args';
import { defineCommand } from './command';
import { formatSizeSi } from './progress';

/** Keyrings every remote trusts, as for ostree (absent on most systems). */
const GLOBAL_KEYRINGS = ['/usr/share/ostree/trusted.gpg.d'];

export const pullCommand = defineCommand({
  name: 'pull',
  summary: 'Download and verify commits from a remote',
  usage: 'REMOTE [REF…]',
  description: 'REF is a ref (os/main), a ref at a pinned commit (os/main@CHECKSUM) or a bare commit checksum\n'
    + '(moves no ref); without REF, the remote\'s configured branches. Signatures are checked before\n'
    + 'anything is stored, a commit bound to another ref is refused, and so is a commit older than the\n'
    + 'one the ref points to (--allow-downgrade to permit). An interrupted pull resumes: objects it\n'
    + 'stored are not fetched again.',
  options: {
    depth: { type: 'string', value: 'N', help: 'Also fetch N parent commits (-1: all; default 0)' },
    'commit-metadata-only': { type: 'boolean', help: 'Fetch only the commits (they stay partial)' },
    'allow-downgrade': { type: 'boolean', help: 'Allow moving a ref to an older commit' },
    'disable-static-deltas': { type: 'boolean', help: 'Fetch objects one by one even when a static delta exists' },
    concurrency: { type: 'string', value: 'N', help: 'Requests in flight (default 8)' },
  },
  operands: [1, Infinity],
}, async (ctx, { values, operands }) => {
  const [remote, ...refs] = operands;
  const depth = intOption('pull', 'depth', values.depth, -1) ?? 0;
  const concurrency = intOption('pull', 'concurrency', values.concurrency, 1, 64);
  const repo = ctx.openRepo();
  const progress = ctx.progress('pull');
  const onProgress = (p: PullProgress): void => {
    // Total bytes are not known in advance: estimate them from the bytes per object so far.
    const bytesTotal = p.objectsDone > 20 && p.objectsTotal > p.objectsDone ? Math.round((p.bytes / p.objectsDone) * p.objectsTotal) : undefined;
    progress.update({ done: p.objectsDone, total: p.objectsTotal || undefined, bytesDone: p.bytes, bytesTotal: bytesTotal ?? (p.objectsTotal && p.objectsDone >= p.objectsTotal ? p.bytes : undefined) });
  };
  // Loaded on demand so other commands do not load the transport and OpenPGP code.
  const { pull } = await import('../pull/index');
  // Static deltas need the old objects' raw content: bare-family repositories only (as in ostree).
  const deltaSource = repo.mode === 'archive' || values['disable-static-deltas'] ? undefined : (await import('../agent/delta-source')).httpDeltaSource(repo);
  let r;
  try {
    r = await pull(repo, remote, refs, {
      depth,
      commitMetadataOnly: values['commit-metadata-only'],
      allowDowngrade: values['allow-downgrade'],
      disableStaticDeltas: values['disable-static-deltas'],
      deltaSource,
      concurrency,
      globalKeyringDirs: GLOBAL_KEYRINGS,
      transport: { env: ctx.io.env },
      // Nothing to draw (not a terminal, or --json): the pull need not report each object.
      onProgress: progress.enabled ? onProgress : undefined,
    });
  } finally {
    progress.finish();
  }
  ctx.out.result(r, () => {
    const lines = r.refs.map((x) => `${remote}:${x.ref} ${x.changed ? `${x.previous ? `${x.previous.slice(0, 12)} -> ` : ''}${x.commit}` : `${x.commit} (unchanged)`}`);
    for (const c of r.commits) lines.push(`${c} (no ref)`);
    const secs = Math.max(1, Math.round(r.durationMs / 1000));
    lines.push(`${r.metadataFetched} metadata, ${r.contentFetched} content objects fetched; ${formatSizeSi(r.bytesTransferred)} transferred in ${secs} second${secs === 1 ? '' : 's'}${r.verified ? '; signatures verified' : ''}`);
    return lines.join('\n');
  });
});
