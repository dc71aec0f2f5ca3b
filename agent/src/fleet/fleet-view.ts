/**
 * The operator's picture of the fleet, folded from what devices publish:
 * retained states (one per device, the source of truth for what it runs)
 * and events (health verdicts, rollbacks, command acknowledgements and
 * refusals), which are not retained, so the refusals seen are also kept in
 * a small journal (journal.ts) for the next `fleet status`. Pure: callers
 * feed it messages and read rows.
 */
import { parseTimestamp, type DeviceEvent, type DeviceState } from '../channel/index';

/** The last command a device refused (an `ack` with status refused, or a `rejected` event). */
export interface Refusal {
  time: string;
  reason: string;
  message?: string;
  /** The command kind, when the device said. */
  command?: string;
  nonce?: string;
}

/** One row of `fleet status`. */
export interface FleetRow {
  device: string;
  online: boolean;
  /** When its state was made. */
  time: string;
  hardware?: string;
  tags?: string[];
  channel?: string;
  phase?: string;
  running?: { commit: string; version?: string } | null;
  pending?: { commit: string; version?: string; phase: string } | null;
  wave?: string | null;
  pinned?: { commit: string; reason?: string } | null;
  lastHealth?: DeviceState['lastHealth'];
  lastRollback?: DeviceState['lastRollback'];
  lastRefusal?: Refusal;
}

interface Entry {
  state?: DeviceState;
  lastRefusal?: Refusal;
  /** Event-derived facts newer than the state's. */
  lastHealth?: DeviceState['lastHealth'];
  lastRollback?: DeviceState['lastRollback'];
}

const newer = (a: string | undefined, b: string | undefined): boolean => a !== undefined && (b === undefined || parseTimestamp(a) > parseTimestamp(b));

export class FleetView {
  readonly #devices = new Map<string, Entry>();
  readonly #seenEvents = new Set<string>();

  #entry(id: string): Entry {
    let e = this.#devices.get(id);
    if (!e) {
      e = {};
      this.#devices.set(id, e);
    }
    return e;
  }

  /** Takes a state unless an older one arrives after a newer one. Returns whether it was taken. */
  applyState(s: DeviceState): boolean {
    const e = this.#entry(s.device);
    if (e.state && newer(e.state.time, s.time)) return false;
    e.state = s;
    return true;
  }

  /** Folds an event in (duplicates, by id, are dropped). Returns whether it changed anything. */
  applyEvent(ev: DeviceEvent): boolean {
    if (this.#seenEvents.has(ev.id)) return false;
    this.#seenEvents.add(ev.id);
    if (this.#seenEvents.size > 10_000) this.#seenEvents.delete(this.#seenEvents.values().next().value as string);
    const e = this.#entry(ev.device);
    switch (ev.kind) {
      case 'health':
        if (!e.lastHealth || newer(ev.time, e.lastHealth.time)) {
          const failed = ev.checks.filter((c) => c.result === 'fail' || c.result === 'timeout').map((c) => c.name);
          e.lastHealth = { commit: ev.commit, result: ev.result, time: ev.time, ...(failed.length ? { failed } : {}) };
        }
        return true;
      case 'rollback':
        if (!e.lastRollback || newer(ev.time, e.lastRollback.time)) {
          e.lastRollback = { from: ev.from, to: ev.to, reason: ev.reason, time: ev.time, ...(ev.detail ? { detail: ev.detail } : {}) };
        }
        return true;
      case 'ack':
        if (ev.status !== 'refused') return false;
        this.recordRefusal(ev.device, { time: ev.time, reason: ev.reason ?? 'refused', command: ev.command, nonce: ev.nonce, ...(ev.message ? { message: ev.message } : {}) });
        return true;
      case 'rejected':
        if (ev.messageType !== 'command') return false;
        this.recordRefusal(ev.device, { time: ev.time, reason: ev.reason, message: ev.message, ...(ev.nonce ? { nonce: ev.nonce } : {}) });
        return true;
      default:
        return false;
    }
  }

  /** Records a refusal (from an event, or from the journal). Older ones do not replace newer ones. */
  recordRefusal(device: string, r: Refusal): void {
    const e = this.#entry(device);
    if (!e.lastRefusal || !newer(e.lastRefusal.time, r.time)) e.lastRefusal = r;
  }

  /** The devices' states (those that published one). */
  states(): DeviceState[] {
    return [...this.#devices.values()].flatMap((e) => (e.state ? [this.#merged(e)] : []));
  }

  /** The state with event-derived facts that are newer than it. */
  #merged(e: Entry): DeviceState {
    const s = e.state!;
    const lastHealth = e.lastHealth && newer(e.lastHealth.time, s.lastHealth?.time) ? e.lastHealth : s.lastHealth;
    const lastRollback = e.lastRollback && newer(e.lastRollback.time, s.lastRollback?.time) ? e.lastRollback : s.lastRollback;
    return { ...s, ...(lastHealth !== undefined ? { lastHealth } : {}), ...(lastRollback !== undefined ? { lastRollback } : {}) };
  }

  /** The refusals known, by device. */
  refusals(): Map<string, Refusal> {
    const out = new Map<string, Refusal>();
    for (const [id, e] of this.#devices) if (e.lastRefusal) out.set(id, e.lastRefusal);
    return out;
  }

  /** Every device with a state, sorted by id. */
  rows(): FleetRow[] {
    const rows: FleetRow[] = [];
    for (const [id, e] of this.#devices) {
      if (!e.state) continue;
      const s = this.#merged(e);
      rows.push({
        device: id, online: s.online, time: s.time, hardware: s.hardware, tags: s.tags, channel: s.channel, phase: s.phase,
        running: s.running ? { commit: s.running.commit, version: s.running.version } : s.running, pending: s.pending,
        wave: s.rollout === undefined ? undefined : s.rollout?.wave ?? null, pinned: s.pinned,
        lastHealth: s.lastHealth, lastRollback: s.lastRollback, ...(e.lastRefusal ? { lastRefusal: e.lastRefusal } : {}),
      });
    }
    return rows.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  }

  get size(): number {
    return [...this.#devices.values()].filter((e) => e.state).length;
  }
}
