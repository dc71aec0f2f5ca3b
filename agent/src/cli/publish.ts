/**
 * `canopy publish`: commit (or take) a release, sign it, make deltas from
 * what the fleet runs, sign the summary, and announce it on a channel with
 * rollout waves. Safe to run again (fleet/publish.ts).
 */
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_POLICY, FleetView, operatorTrust, parseWaves, publishRelease, type OperatorLink } from '../fleet/index';
import { intOption, usageError } from './cli-args';
import { defineCommand } from './command';
import { BROKER_OPTIONS, KEY_OPTIONS, TRUST_OPTIONS, connectBroker, fleetName, nameOption, requireKeys, trustedKeyFiles } from './operator-options';
import { POLICY_OPTIONS, policyFrom } from './rollout-options';

export const publishCommand = defineCommand({
  name: 'publish',
  summary: 'Commit, sign, make deltas, sign the summary and announce a release in waves',
  usage: '',
  description: 'Publishes --tree=dir=PATH as --version on --branch (or an existing --commit=REV), signs it,\n'
    + 'generates static deltas from every --delta-from and (with --deltas-from-fleet) from the commits the\n'
    + 'devices report running, regenerates and signs the summary, and announces the release on --channel\n'
    + 'with --waves (the first wave open; canopy rollout start opens the rest as devices prove healthy).\n'
    + 'Running it again changes nothing that is already done. Without --channel nothing is announced.',
  options: {
    branch: { type: 'string', short: 'b', value: 'REF', help: 'The ref devices follow (e.g. acme/rpi4/stable)' },
    tree: { type: 'string', value: 'dir=PATH', help: 'Root filesystem to commit' },
    commit: { type: 'string', value: 'REV', help: 'Publish an existing commit instead of a tree' },
    version: { type: 'string', value: 'VERSION', help: 'Version label (required with --tree)' },
    subject: { type: 'string', short: 's', value: 'TEXT', help: 'Commit subject (default the version)' },
    body: { type: 'string', short: 'm', value: 'TEXT', help: 'Commit body' },
    'canonical-permissions': { type: 'boolean', help: 'Store uid/gid 0 and modes masked with 0755' },
    'no-xattrs': { type: 'boolean', help: 'Do not store extended attributes' },
    'delta-from': { type: 'string', multiple: true, value: 'REV', help: 'Generate a static delta from REV' },
    'deltas-from-fleet': { type: 'boolean', help: 'Generate deltas from the commits devices report running' },
    channel: { type: 'string', value: 'NAME', help: 'Announce on this channel' },
    waves: { type: 'string', value: 'LIST', help: 'Cumulative rollout waves: 1,10,50,100 or canary:5,all:100 (default 100)' },
    'rollout-id': { type: 'string', value: 'ID', help: 'Rollout id (default CHANNEL-VERSION-COMMIT8)' },
    hardware: { type: 'string', multiple: true, value: 'NAME', help: 'Only devices of this hardware take the release' },
    notes: { type: 'string', value: 'TEXT', help: 'Release notes in the announcement' },
    'force-announce': { type: 'boolean', help: 'Announce again even when the channel offers this commit (restarts the rollout)' },
    threads: { type: 'string', value: 'N', help: 'Threads for delta generation (default 2)' },
    ...POLICY_OPTIONS,
    ...KEY_OPTIONS,
    ...TRUST_OPTIONS,
    ...BROKER_OPTIONS,
  },
  operands: [0, 0],
}, async (ctx, { values }) => {
  const usage = (m: string): Error => usageError('publish', m);
  if (!values.branch) throw usage('--branch=REF is needed');
  if ((values.tree === undefined) === (values.commit === undefined)) throw usage('give either --tree=dir=PATH or --commit=REV');
  let tree: string | undefined;
  if (values.tree !== undefined) {
    if (!values.tree.startsWith('dir=')) throw usage('--tree takes dir=PATH');
    const p = values.tree.slice(4);
    tree = isAbsolute(p) ? p : resolve(ctx.io.cwd, p);
  }
  const keys = requireKeys(ctx, 'publish', values);
  const announce = values.channel !== undefined;
  const channel = announce ? nameOption('publish', 'channel', values.channel) : undefined;
  const waves = parseWaves(values.waves ?? '100');
  const policy = { ...DEFAULT_POLICY, ...policyFrom(values) };
  for (const h of values.hardware ?? []) nameOption('publish', 'hardware', h);
  const threads = intOption('publish', 'threads', values.threads, 1, 64);
  const repo = ctx.openRepo();
  let link: OperatorLink | undefined;
  try {
    const needBroker = announce || values['deltas-from-fleet'];
    if (needBroker) link = await connectBroker(ctx, 'publish', values);
    let fleetCommits: string[] = [];
    if (values['deltas-from-fleet']) {
      const view = new FleetView();
      link!.onState((s) => view.applyState(s));
      await link!.watchFleet({ events: false });
      fleetCommits = [...new Set(view.states().flatMap((s) => (s.running ? [s.running.commit] : [])))];
      ctx.out.text(`fleet: ${view.size} device${view.size === 1 ? '' : 's'} run ${fleetCommits.length} distinct commit${fleetCommits.length === 1 ? '' : 's'}`);
    }
    const result = await publishRelease({
      repo, branch: values.branch, tree, rev: values.commit, version: values.version, subject: values.subject, body: values.body,
      commitOptions: { canonicalPermissions: values['canonical-permissions'], noXattrs: values['no-xattrs'] },
      keys, deltaFrom: values['delta-from'] ?? [], fleetCommits, deltaThreads: threads, now: ctx.io.now(),
      log: (line) => ctx.out.text(line),
      announce: announce ? {
        link: link!, fleet: fleetName(ctx, 'publish', values), channel: channel!, waves, policy, trust: await operatorTrust(keys, trustedKeyFiles(ctx, values)),
        rolloutId: values['rollout-id'], hardware: values.hardware, notes: values.notes, force: values['force-announce'],
      } : undefined,
    });
    ctx.out.result(result, () => '');
  } finally {
    await link?.close();
  }
});
