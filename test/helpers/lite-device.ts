/**
 * A lightweight simulated device for operator tests and the fleet-scale
 * benchmark: the real device-side channel (MqttChannel, MessageGate with
 * the replay store, signature checks, `rejected` events) in front of a
 * pretend update engine that "installs" in a few milliseconds and asks a
 * verdict function whether the new commit is healthy. It speaks the whole
 * protocol: retained state with its rollout wave, progress, health and
 * rollback events, `ack` events for commands (refusing rollback without a
 * previous release, and anything while pinned except unpin). It does not
 * pull, deploy or reboot: the end-to-end test runs the real daemon for that.
 *
 *   const d = new LiteDevice({ url, fleet: 'acme', id: 'dev-1', channel: 'stable', trusted: [pub], dir, running: { commit, version: '1.0' } });
 *   await d.start();  ...  await d.stop();
 */
import { join } from 'node:path';
import {
  Ed25519KeySet, type Ed25519KeyPair,
} from '../../agent/src/sign/index';
import {
  MessageGate, MqttChannel, NonceStore, wavePlacement, type StoreFs, type Announcement, type Command, type DeviceState, type EventBody, type StateReport,
} from '../../agent/src/channel/index';

export interface LiteDeviceOptions {
  url: string;
  fleet: string;
  id: string;
  channel: string;
  hardware?: string;
  tags?: string[];
  /** Trusted operator public keys (32 bytes each). */
  trusted: Array<Ed25519KeyPair['publicKey']>;
  /** Where its replay store lives. */
  dir: string;
  running: { commit: string; version?: string };
  /** Pretend install time, ms (default 20). */
  installMs?: number;
  /** Health verdict for a commit (default pass); a name list means these checks failed. */
  verdict?: (commit: string) => true | string[];
  protocolVersion?: 4 | 5;
  clockSkewSeconds?: number;
  /** Where the replay store is kept (default files under `dir`; the benchmark keeps it in memory). */
  storeFs?: StoreFs;
}

/** A replay-store file system in memory. */
export function memoryStoreFs(): StoreFs {
  const files = new Map<string, Uint8Array>();
  return {
    readFile: async (p) => files.get(p),
    writeFileAtomic: async (p, d) => { files.set(p, Uint8Array.from(d)); },
  };
}

export class LiteDevice {
  readonly id: string;
  readonly channel: MqttChannel;
  #o: LiteDeviceOptions;
  #report: StateReport;
  #previous: { commit: string; version?: string } | undefined;
  #rejected = new Set<string>();
  #installing: string | undefined;
  #announcement: Announcement | undefined;
  #timers = new Set<NodeJS.Timeout>();
  /** Announcements that passed the gate. */
  announcements = 0;
  /** Commands that passed the gate. */
  commands: Command[] = [];

  private constructor(o: LiteDeviceOptions, channel: MqttChannel) {
    this.#o = o;
    this.id = o.id;
    this.channel = channel;
    this.#report = { phase: 'idle', running: { ...o.running }, pending: null, rollout: null, pinned: null, lastHealth: null, lastRollback: null };
  }

  static async create(o: LiteDeviceOptions): Promise<LiteDevice> {
    const store = await NonceStore.open({ path: join(o.dir, `${o.id}.replay.json`), ...(o.storeFs ? { fs: o.storeFs } : {}) });
    const device = { id: o.id, fleet: o.fleet, hardware: o.hardware, tags: o.tags };
    const gate = new MessageGate({
      device, store, clockSkewSeconds: o.clockSkewSeconds ?? 300,
      trust: { ed25519: { trusted: new Ed25519KeySet(o.trusted), revoked: new Ed25519KeySet() } },
    });
    const channel = new MqttChannel({
      url: o.url, device, channel: o.channel, gate, agentVersion: 'lite-0.1', protocolVersion: o.protocolVersion ?? 4,
      cleanSession: true, backoff: { initialMs: 100, maxMs: 2000 },
    });
    const d = new LiteDevice(o, channel);
    channel.onAnnouncement((m) => d.#onAnnouncement(m.announcement));
    channel.onCommand((m) => d.#onCommand(m.command));
    return d;
  }

  get state(): StateReport {
    return this.#report;
  }

  async start(): Promise<void> {
    void this.channel.publishState(this.#report);
    await this.channel.start();
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.channel.stop();
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #publish(patch: Partial<StateReport>): void {
    this.#report = { ...this.#report, ...patch };
    void this.channel.publishState(this.#report);
  }

  #event(e: EventBody): void {
    void this.channel.publishEvent(e);
  }

  #onAnnouncement(a: Announcement): void {
    this.announcements++;
    this.#announcement = a;
    const p = wavePlacement(a, this.id);
    const rollout = { id: a.rollout.id, bucket: p.bucket, wave: p.wave?.name ?? null };
    const go = p.open && !this.#report.pinned && a.commit !== this.#report.running?.commit && !this.#rejected.has(a.commit) && this.#installing !== a.commit;
    this.#publish({ rollout });
    if (go) this.#install(a.commit, a.version, a.ref);
  }

  #install(commit: string, version: string | undefined, ref?: string, done?: () => void): void {
    this.#installing = commit;
    this.#publish({ phase: 'downloading', pending: { commit, ...(version ? { version } : {}), phase: 'downloading' } });
    this.#event({ kind: 'progress', phase: 'downloading', commit });
    this.#later(this.#o.installMs ?? 20, () => {
      this.#installing = undefined;
      const from = this.#report.running!;
      const verdict = this.#o.verdict?.(commit) ?? true;
      const time = new Date().toISOString();
      if (verdict === true) {
        this.#previous = from;
        this.#event({ kind: 'health', commit, result: 'pass', checks: [{ name: 'boot', result: 'pass' }] });
        this.#publish({ phase: 'idle', running: { commit, ...(ref ? { ref } : {}), ...(version ? { version } : {}) }, pending: null, lastHealth: { commit, result: 'pass', time } });
      } else {
        this.#rejected.add(commit);
        const detail = `required checks failed: ${verdict.join(', ')}`;
        this.#event({ kind: 'health', commit, result: 'fail', checks: verdict.map((name) => ({ name, result: 'fail' as const, required: true })) });
        this.#event({ kind: 'rollback', from: commit, to: from.commit, reason: 'health-failed', detail });
        this.#publish({
          phase: 'idle', pending: null, lastHealth: { commit, result: 'fail', time, failed: verdict },
          lastRollback: { from: commit, to: from.commit, reason: 'health-failed', detail, time },
        });
      }
      done?.();
    });
  }

  #ack(c: Command, status: 'accepted' | 'done' | 'failed' | 'refused', reason?: string, message?: string): void {
    this.#event({ kind: 'ack', nonce: c.nonce, command: c.kind, status, ...(reason ? { reason } : {}), ...(message ? { message } : {}) });
  }

  #onCommand(c: Command): void {
    this.commands.push(c);
    if (this.#report.pinned && c.kind !== 'unpin' && c.kind !== 'report-inventory' && c.kind !== 'set-log-level') {
      return this.#ack(c, 'refused', 'pinned', `pinned to ${this.#report.pinned.commit}`);
    }
    switch (c.kind) {
      case 'rollback': {
        const prev = this.#previous;
        if (!prev) return this.#ack(c, 'refused', 'no-previous-deployment', 'there is no previous deployment');
        this.#ack(c, 'accepted');
        const from = this.#report.running!;
        const time = new Date().toISOString();
        this.#previous = from;
        this.#event({ kind: 'rollback', from: from.commit, to: prev.commit, reason: 'operator', ...(c.args?.reason ? { detail: c.args.reason } : {}) });
        this.#publish({ running: prev, lastRollback: { from: from.commit, to: prev.commit, reason: 'operator', ...(c.args?.reason ? { detail: c.args.reason } : {}), time } });
        return this.#ack(c, 'done');
      }
      case 'install': {
        const commit = c.args.commit ?? this.#announcement?.commit;
        if (!commit) return this.#ack(c, 'refused', 'unknown-commit');
        this.#ack(c, 'accepted');
        this.#rejected.delete(commit);
        return this.#install(commit, c.args.version, c.args.ref, () => this.#ack(c, 'done'));
      }
      case 'pin':
        this.#publish({ pinned: { commit: c.args?.commit ?? this.#report.running!.commit, ...(c.args?.reason ? { reason: c.args.reason } : {}) } });
        this.#ack(c, 'accepted');
        return this.#ack(c, 'done');
      case 'unpin':
        this.#publish({ pinned: null });
        this.#ack(c, 'accepted');
        return this.#ack(c, 'done');
      default:
        this.#ack(c, 'accepted');
        return this.#ack(c, 'done');
    }
  }

  /** The state document as the broker retains it (for assertions). */
  snapshot(): Partial<DeviceState> {
    return { device: this.id, ...this.#report };
  }
}
