/**
 * The operator's side of a simulated fleet, for end-to-end tests and the
 * demo: an archive repository served over HTTP on a free loopback port,
 * ed25519 keys (one for commits, one for MQTT messages) with the trusted-key
 * files a device needs, bootable OS commits signed like `ostree sign`
 * does, optional static deltas, and signed announcements and commands
 * published on a broker.
 *
 *   const fleet = await SimFleet.create(dir, { ref: 'acme/sim/stable' });
 *   const v1 = await fleet.publish({ version: '1.0' });
 *   const v2 = await fleet.publish({ version: '2.0', delta: true });   // delta from v1 when ostree is installed
 *   await fleet.announce(brokerUrl, { commit: v2.commit, version: '2.0' });
 *   await fleet.command(brokerUrl, 'dev-1', { kind: 'rollback' });
 *   await fleet.close();
 *
 * Delta generation uses the real `ostree static-delta generate` (Debian
 * package `ostree`), the project's oracle; without it `delta` is ignored
 * and `deltaMade` says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import {
  buildAnnouncement, buildCommand, encodeEnvelope, signMessage, topicPrefix, topicsFor, type Command, type Envelope, type Wave,
} from '../../agent/src/channel/index';
import { variant } from '../../agent/src/gvariant/index';
import { Repo, Transaction, commitTree, generateSummary } from '../../agent/src/repo/index';
import {
  ED25519_SIGNATURES_KEY, addSignature, encodeEd25519Key, generateEd25519KeyPair, serializeDetachedMetadata, signEd25519, type Ed25519KeyPair,
} from '../../agent/src/sign/index';
import { serveDirectory, type RepoServer } from './http-server';
import { writeOsTree, type OsTreeSpec } from './sysroot-fixture';

export interface Published {
  commit: string;
  version: string;
  /** A static delta from the previous commit was generated. */
  deltaMade: boolean;
}

export interface PublishSpec extends OsTreeSpec {
  version: string;
  /** Commit this directory as it is (it must be bootable) instead of writing a small OS tree. */
  tree?: string;
  /** Generate a static delta from the previous commit of the ref (needs ostree). */
  delta?: boolean;
  /** Leave the commit unsigned (a repository an attacker filled). */
  unsigned?: boolean;
}

const ostreeAvailable = (): boolean => !spawnSync('ostree', ['--version'], { stdio: 'ignore' }).error;

export class SimFleet {
  readonly dir: string;
  readonly fleet: string;
  readonly channel: string;
  readonly ref: string;
  readonly repo: Repo;
  readonly server: RepoServer;
  /** Signs commits. */
  readonly commitKey: Ed25519KeyPair;
  /** Signs announcements and commands. */
  readonly messageKey: Ed25519KeyPair;
  /** OSTree-format trusted key files for the device. */
  readonly commitKeyFile: string;
  readonly messageKeyFile: string;
  readonly commits: Published[] = [];
  #tick = 1_750_000_000;

  private constructor(dir: string, opts: { fleet: string; channel: string; ref: string }, repo: Repo, server: RepoServer) {
    this.dir = dir;
    this.fleet = opts.fleet;
    this.channel = opts.channel;
    this.ref = opts.ref;
    this.repo = repo;
    this.server = server;
    this.commitKey = generateEd25519KeyPair();
    this.messageKey = generateEd25519KeyPair();
    mkdirSync(join(dir, 'keys'), { recursive: true });
    this.commitKeyFile = join(dir, 'keys/commits.ed25519');
    this.messageKeyFile = join(dir, 'keys/messages.ed25519');
    writeFileSync(this.commitKeyFile, `${encodeEd25519Key(this.commitKey.publicKey)}\n`);
    writeFileSync(this.messageKeyFile, `${encodeEd25519Key(this.messageKey.publicKey)}\n`);
  }

  /** A served, empty archive repository in `dir/repo`. */
  static async create(dir: string, opts: { fleet?: string; channel?: string; ref?: string } = {}): Promise<SimFleet> {
    const repo = Repo.init(join(dir, 'repo'), { mode: 'archive' });
    const server = await serveDirectory(repo.path);
    return new SimFleet(dir, { fleet: opts.fleet ?? 'simfleet', channel: opts.channel ?? 'stable', ref: opts.ref ?? 'simos/stable' }, repo, server);
  }

  /** The repository URL for a device's `remote.url`. */
  get url(): string {
    return this.server.url.replace(/\/$/, '');
  }

  /** Commits a bootable OS tree to the ref, signs it, optionally makes a delta, and rewrites the summary. */
  async publish(spec: PublishSpec): Promise<Published> {
    const previous = this.commits[this.commits.length - 1];
    const tree = spec.tree ?? writeOsTree(join(this.dir, `trees/${this.commits.length}-${spec.version}`), {
      kernel: spec.kernel ?? `kernel ${spec.version}\n`, prettyName: spec.prettyName ?? `SimOS ${spec.version}`, ...spec,
      files: { 'usr/lib/sim-version': `${spec.version}\n`, ...spec.files },
    });
    const r = await commitTree(this.repo, tree, {
      branch: this.ref, subject: `SimOS ${spec.version}`, timestamp: this.#tick += 1000, canonicalPermissions: true,
      metadata: [['version', variant('s', spec.version)]],
    });
    if (!spec.unsigned) {
      const tx = new Transaction(this.repo);
      tx.writeCommitMeta(r.checksum, serializeDetachedMetadata(addSignature([], ED25519_SIGNATURES_KEY, signEd25519(this.commitKey.secretKey, r.commitBytes))));
      tx.commit();
    }
    let deltaMade = false;
    if (spec.delta && previous && ostreeAvailable()) {
      const g = spawnSync('ostree', [`--repo=${this.repo.path}`, 'static-delta', 'generate', `--from=${previous.commit}`, `--to=${r.checksum}`], { encoding: 'utf8' });
      if (g.status !== 0) throw new Error(`ostree static-delta generate failed: ${g.stderr}`);
      deltaMade = true;
    }
    generateSummary(this.repo);
    const p = { commit: r.checksum, version: spec.version, deltaMade };
    this.commits.push(p);
    return p;
  }

  /** A signed announcement envelope (not published). */
  async announcement(a: { commit: string; version: string; waves?: Wave[]; rolloutId?: string; created?: Date; ttlSeconds?: number; hardware?: string[] }): Promise<Envelope> {
    const msg = buildAnnouncement({
      fleet: this.fleet, channel: this.channel, ref: this.ref, commit: a.commit, version: a.version,
      rollout: { id: a.rolloutId ?? `r-${a.version}`, waves: a.waves ?? [{ name: 'all', percent: 100, open: true }] },
      created: a.created, ttlSeconds: a.ttlSeconds, ...(a.hardware ? { hardware: a.hardware } : {}),
    });
    return signMessage('announcement', msg, { ed25519: [this.messageKey.secretKey] });
  }

  /** A signed command envelope for one device (not published). */
  async commandEnvelope(device: string, c: Pick<Command, 'kind' | 'args'> & { ttlSeconds?: number; created?: Date; nonce?: string }): Promise<{ envelope: Envelope; nonce: string }> {
    const cmd = buildCommand({ fleet: this.fleet, target: { device }, kind: c.kind, args: c.args, ttlSeconds: c.ttlSeconds, created: c.created, nonce: c.nonce } as Parameters<typeof buildCommand>[0]);
    return { envelope: await signMessage('command', cmd, { ed25519: [this.messageKey.secretKey] }), nonce: cmd.nonce };
  }

  /** Topics of this fleet. */
  topics(): ReturnType<typeof topicsFor> {
    return topicsFor(topicPrefix(this.fleet));
  }

  /** Publishes raw bytes on a topic (retained or not) and disconnects. */
  async publishRaw(brokerUrl: string, topic: string, payload: string | Buffer, retain = false): Promise<void> {
    const c = await connectAsync(brokerUrl, { clientId: `operator-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 0 });
    await c.publishAsync(topic, payload, { qos: 1, retain });
    await c.endAsync();
  }

  /** Signs and publishes an announcement (retained). */
  async announce(brokerUrl: string, a: Parameters<SimFleet['announcement']>[0]): Promise<Envelope> {
    const env = await this.announcement(a);
    await this.publishRaw(brokerUrl, this.topics().announcement(this.channel), encodeEnvelope(env), true);
    return env;
  }

  /** Signs and publishes a command to one device; returns its nonce. */
  async command(brokerUrl: string, device: string, c: Parameters<SimFleet['commandEnvelope']>[1]): Promise<string> {
    const { envelope, nonce } = await this.commandEnvelope(device, c);
    await this.publishRaw(brokerUrl, this.topics().deviceCommands(device), encodeEnvelope(envelope));
    return nonce;
  }

  /** Clears the retained announcement of the channel (a zero-length retained message). */
  async clearAnnouncement(brokerUrl: string): Promise<void> {
    await this.publishRaw(brokerUrl, this.topics().announcement(this.channel), Buffer.alloc(0), true);
  }

  /** Subscribes to a device's state and events. */
  async watch(brokerUrl: string, device: string): Promise<DeviceWatch> {
    const t = this.topics();
    const c = await connectAsync(brokerUrl, { clientId: `watch-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 0 });
    const w: DeviceWatch = {
      states: [],
      events: [],
      latestState: () => w.states[w.states.length - 1],
      async waitFor(what, pred, timeoutMs = 60_000) {
        const t0 = Date.now();
        while (!pred()) {
          if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(w.events.slice(-8))}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      eventsOf: (kind) => w.events.filter((e) => e.kind === kind),
      close: () => c.endAsync(),
    };
    c.on('message', (topic, payload) => {
      if (payload.length === 0) return;
      const doc = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      if (topic === t.state(device)) w.states.push(doc);
      else w.events.push(doc);
    });
    await c.subscribeAsync({ [t.state(device)]: { qos: 1 }, [t.events(device)]: { qos: 1 } });
    return w;
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/** What a device published, as seen by an operator. */
export interface DeviceWatch {
  states: Array<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
  latestState(): Record<string, unknown> | undefined;
  eventsOf(kind: string): Array<Record<string, unknown>>;
  waitFor(what: string, pred: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}
