/**
 * `canopy publish`: one step from a root filesystem (or an existing
 * commit) to a release devices can take, safe to run again:
 *
 * 1. commit the tree with its `version` (and ref binding); when the tree,
 *    its metadata and the version equal the branch's current commit, that
 *    commit is the release and nothing new is made;
 * 2. sign the commit (signatures already there are kept, none added twice);
 * 3. generate static deltas from the commits the fleet runs (given, and/or
 *    read from the devices' retained states), keeping deltas that exist;
 * 4. regenerate and sign the summary;
 * 5. publish a signed, retained announcement with the rollout's waves (the
 *    first one open), unless the channel already announces this commit.
 */
import { CanopyError } from '../core/errors';
import { variant, type VarDict } from '../gvariant/index';
import { commitVersion, ObjectType } from '../objects/index';
import { commitTree, listStaticDeltas, readRef, resolveRev, writeRef, type CommitOptions, type Repo } from '../repo/index';
import { generateDelta } from '../delta/generate';
import { isProtocolName, type MessageTrust, type SigningKeys, type Wave } from '../channel/index';
import { publishAnnouncement, readAnnouncement } from './announcement-store';
import { signCommit } from './commit-signing';
import type { SignatureOutcome } from './detached-signing';
import type { OperatorLink } from './operator-link';
import { newRollout, type ControlledAnnouncement, type RolloutPolicy } from './rollout-model';
import { publishSummary } from './summary-signing';

export interface PublishAnnounceOptions {
  link: OperatorLink;
  fleet: string;
  channel: string;
  waves: Wave[];
  policy: RolloutPolicy;
  trust: MessageTrust;
  /** Default `<channel>-<version>-<commit[0:8]>`, made a valid name. */
  rolloutId?: string;
  hardware?: string[];
  notes?: string;
  /** Announce even when the channel already offers this commit (restarts the rollout). */
  force?: boolean;
}

export interface PublishOptions {
  repo: Repo;
  branch: string;
  /** A directory to commit… */
  tree?: string;
  /** …or an existing revision. */
  rev?: string;
  /** Required with `tree`; with `rev` the commit's own version is used when absent. */
  version?: string;
  subject?: string;
  body?: string;
  commitOptions?: Pick<CommitOptions, 'canonicalPermissions' | 'noXattrs' | 'ownerUid' | 'ownerGid' | 'onProgress'>;
  keys: SigningKeys;
  /** Revisions to make deltas from (commits the fleet runs). */
  deltaFrom?: readonly string[];
  /** Commits seen in device states; missing ones are skipped with a note instead of an error. */
  fleetCommits?: readonly string[];
  deltaThreads?: number;
  announce?: PublishAnnounceOptions;
  now: number;
  /** One line per step, for people. */
  log?: (line: string) => void;
}

export interface DeltaOutcome {
  from: string;
  to: string;
  status: 'generated' | 'kept' | 'skipped';
  reason?: string;
  /** Bytes of the parts (generated deltas). */
  size?: number;
}

export interface PublishResult {
  commit: string;
  branch: string;
  version: string;
  /** False when the branch already held this release. */
  created: boolean;
  signatures: SignatureOutcome[];
  deltas: DeltaOutcome[];
  summary: { refs: number; size: number; signed: boolean };
  announcement?: { status: 'published' | 'unchanged'; rolloutId: string; waves: string[]; channel: string };
}

/** A rollout id from a channel, version and commit: the protocol's name grammar, at most 128 characters. */
export function defaultRolloutId(channel: string, version: string, commit: string): string {
  const raw = `${channel}-${version}-${commit.slice(0, 8)}`.replace(/[^A-Za-z0-9._:-]/g, '-');
  const id = /^[A-Za-z0-9]/.test(raw) ? raw : `r${raw}`;
  return id.length <= 128 ? id : `${id.slice(0, 118)}-${commit.slice(0, 8)}`;
}

/** Root tree, root meta and metadata equal: the same release. */
function sameRelease(repo: Repo, a: string, b: string): boolean {
  const x = repo.loadCommit(a);
  const y = repo.loadCommit(b);
  if (x.rootTree !== y.rootTree || x.rootMeta !== y.rootMeta || x.metadata.length !== y.metadata.length) return false;
  return commitVersion(x) === commitVersion(y) && x.subject === y.subject && x.body === y.body;
}

async function resolveRelease(o: PublishOptions, log: (l: string) => void): Promise<{ commit: string; version: string; created: boolean }> {
  const { repo, branch } = o;
  const head = readRef(repo, branch);
  if (o.tree !== undefined) {
    if (!o.version) throw new CanopyError('ERR_INVALID_ARGUMENT', 'a version is needed to publish a tree (--version)');
    const metadata: VarDict = [['version', variant('s', o.version)], ['ostree.ref-binding', variant('as', [branch])]];
    const cid = repo.config.get('core', 'collection-id');
    if (cid) metadata.push(['ostree.collection-binding', variant('s', cid)]);
    const r = await commitTree(repo, o.tree, {
      ...o.commitOptions, subject: o.subject ?? o.version, body: o.body ?? '', parent: head ?? null, metadata, bindings: false,
      timestamp: Math.floor(o.now / 1000),
    });
    if (head && sameRelease(repo, head, r.checksum)) {
      log(`commit: ${branch} already holds version ${o.version} with this tree (${head})`);
      return { commit: head, version: o.version, created: false };
    }
    if (head) {
      const old = commitVersion(repo.loadCommit(head));
      if (old === o.version) log(`warning: ${branch} held version ${o.version} with another tree; the new commit takes the same label`);
    }
    writeRef(repo, branch, r.checksum);
    log(`commit: ${r.checksum} (${r.files} files, ${r.objectsWritten} new objects) on ${branch}`);
    return { commit: r.checksum, version: o.version, created: true };
  }
  if (o.rev === undefined) throw new CanopyError('ERR_INVALID_ARGUMENT', 'give a tree to commit or a revision to publish');
  const commit = resolveRev(repo, o.rev, (c) => repo.loadCommit(c).parent);
  const version = o.version ?? commitVersion(repo.loadCommit(commit));
  if (!version) throw new CanopyError('ERR_INVALID_ARGUMENT', `commit ${commit} has no version metadata; pass --version`);
  if (head !== commit) {
    writeRef(repo, branch, commit);
    log(`ref: ${branch} -> ${commit}`);
  }
  return { commit, version, created: false };
}

async function makeDeltas(o: PublishOptions, given: readonly string[], to: string, log: (l: string) => void): Promise<DeltaOutcome[]> {
  const { repo } = o;
  const froms = new Map<string, boolean>(); // commit -> from the fleet (lenient)
  for (const c of given) froms.set(c, false);
  for (const c of o.fleetCommits ?? []) if (!froms.has(c)) froms.set(c, true);
  froms.delete(to);
  const existing = new Set(listStaticDeltas(repo).map((d) => d.name));
  const out: DeltaOutcome[] = [];
  for (const [from, lenient] of froms) {
    if (!repo.hasObject(from, ObjectType.COMMIT)) {
      if (!lenient) throw new CanopyError('ERR_OBJECT_NOT_FOUND', `cannot make a delta from ${from}: the commit is not in the repository`, { commit: from });
      out.push({ from, to, status: 'skipped', reason: 'a device runs it but the repository does not have it' });
      log(`delta: skipped ${from.slice(0, 12)} (not in the repository)`);
      continue;
    }
    if (existing.has(`${from}-${to}`)) {
      out.push({ from, to, status: 'kept' });
      log(`delta: ${from.slice(0, 12)} -> ${to.slice(0, 12)} exists`);
      continue;
    }
    const r = await generateDelta(repo, { from, to, threads: o.deltaThreads });
    const size = r.partsSize + r.superblockSize;
    out.push({ from, to, status: 'generated', size });
    log(`delta: ${from.slice(0, 12)} -> ${to.slice(0, 12)} generated (${size} bytes in ${r.parts.length} part${r.parts.length === 1 ? '' : 's'})`);
  }
  return out;
}

/**
 * Runs the publish steps. Errors stop the run where they happen; every
 * step before is durable and a re-run continues from there.
 *
 * @throws ERR_INVALID_ARGUMENT (no version, no tree or rev, bad waves),
 *   ERR_REF_NOT_FOUND (a revision), ERR_OBJECT_NOT_FOUND (a delta source),
 *   as commitTree, signCommit, generateDelta, publishSummary; for the
 *   announcement ERR_NETWORK / ERR_TIMEOUT and ERR_KEY_UNTRUSTED when the
 *   channel's retained announcement is not the operator's.
 */
export async function publishRelease(o: PublishOptions): Promise<PublishResult> {
  const log = o.log ?? (() => undefined);
  // Revisions name what the fleet runs now: resolve them before the branch moves.
  const given = (o.deltaFrom ?? []).map((rev) => resolveRev(o.repo, rev, (c) => o.repo.loadCommit(c).parent));
  const rel = await resolveRelease(o, log);
  const signing = await signCommit(o.repo, rel.commit, o.keys, { now: new Date(o.now) });
  log(`sign: ${signing.outcomes.map((s) => `${s.engine} ${s.key.slice(0, 16)}… ${s.added ? 'added' : 'already there'}`).join(', ')}`);
  const deltas = await makeDeltas(o, given, rel.commit, log);
  const summary = await publishSummary(o.repo, o.keys, { now: Math.floor(o.now / 1000), signTime: new Date(o.now) });
  log(`summary: ${summary.refs} ref${summary.refs === 1 ? '' : 's'}, ${summary.bytes.length} bytes, signed`);
  const result: PublishResult = {
    commit: rel.commit, branch: o.branch, version: rel.version, created: rel.created, signatures: signing.outcomes, deltas,
    summary: { refs: summary.refs, size: summary.bytes.length, signed: summary.outcomes.length > 0 },
  };
  const an = o.announce;
  if (!an) return result;
  const rolloutId = an.rolloutId ?? defaultRolloutId(an.channel, rel.version, rel.commit);
  if (!isProtocolName(rolloutId)) throw new CanopyError('ERR_INVALID_ARGUMENT', `rollout id ${JSON.stringify(rolloutId)} is not a valid name`);
  const current = await readAnnouncement(an.link, an.channel, an.trust);
  const waves = an.waves.map((w) => w.name);
  if (current && current.announcement.commit === rel.commit && current.announcement.ref === o.branch && !an.force) {
    log(`announce: channel ${an.channel} already offers ${rel.commit.slice(0, 12)} (rollout ${current.announcement.rollout.id}); left as it is`);
    return { ...result, announcement: { status: 'unchanged', rolloutId: current.announcement.rollout.id, waves: current.announcement.rollout.waves.map((w) => w.name), channel: an.channel } };
  }
  const prev = current?.announcement;
  const body: ControlledAnnouncement = {
    v: 1, type: 'announcement', fleet: an.fleet, channel: an.channel, ref: o.branch, commit: rel.commit, version: rel.version,
    ...(an.hardware?.length ? { hardware: an.hardware } : {}), ...(an.notes ? { notes: an.notes } : {}),
    rollout: newRollout(rolloutId, an.waves, an.policy, o.now, prev ? { previous: { commit: prev.commit, version: prev.version, ref: prev.ref } } : {}),
    created: '', expires: '',
  };
  await publishAnnouncement(an.link, body, o.keys, { now: o.now, previous: prev });
  log(`announce: channel ${an.channel} offers ${rel.version} (${rel.commit.slice(0, 12)}), rollout ${rolloutId}, wave ${an.waves[0].name} (${an.waves[0].percent}%) open`);
  return { ...result, announcement: { status: 'published', rolloutId, waves, channel: an.channel } };
}
