/**
 * What the MQTT channel still has to send: the latest state (only the
 * newest matters, older ones are superseded), a bounded queue of events
 * (the oldest is dropped when it is full) and the messages in flight,
 * which go back to the queue when a connection drops before the broker
 * acknowledged them. Each message's promise settles exactly once: true
 * when acknowledged, false when superseded, dropped or abandoned. Pure
 * bookkeeping, no I/O.
 */

/** One message waiting to be sent or acknowledged. */
export interface Outgoing {
  topic: string;
  /** Built when sent, so timestamps and `online` are current. */
  build: () => Buffer;
  /** Retained messages are state; the rest are events. */
  retain: boolean;
  resolve: (ok: boolean) => void;
}

export class Outbox {
  readonly #maxEvents: number;
  #state: Outgoing | undefined;
  #events: Outgoing[] = [];
  #inflight = new Map<number, Outgoing>();
  #seq = 0;
  /** Events dropped because the queue was full, since the last {@link takeDropped}. */
  #dropped = 0;

  constructor(maxEvents: number) {
    this.#maxEvents = maxEvents;
  }

  /** Holds a message until the next connection. */
  hold(o: Outgoing): void {
    if (o.retain) {
      this.#state?.resolve(false);
      this.#state = o;
      return;
    }
    this.#events.push(o);
    while (this.#events.length > this.#maxEvents) {
      this.#events.shift()!.resolve(false);
      this.#dropped++;
    }
  }

  /** Takes everything held, state first, for sending on a new connection. */
  takeHeld(): { state: Outgoing | undefined; events: Outgoing[] } {
    const out = { state: this.#state, events: this.#events };
    this.#state = undefined;
    this.#events = [];
    return out;
  }

  /** The number of events dropped since the last call. */
  takeDropped(): number {
    const n = this.#dropped;
    this.#dropped = 0;
    return n;
  }

  /** Records a message handed to the broker; returns its ticket. */
  sent(o: Outgoing): number {
    const id = ++this.#seq;
    this.#inflight.set(id, o);
    return id;
  }

  /** The broker answered for a ticket; undefined when it was already requeued or abandoned. */
  settle(id: number): Outgoing | undefined {
    const o = this.#inflight.get(id);
    this.#inflight.delete(id);
    return o;
  }

  /** The connection dropped: what was in flight is held again, ahead of newer events. */
  requeueInflight(): void {
    const again = [...this.#inflight.values()];
    this.#inflight.clear();
    const events = this.#events;
    this.#events = [];
    for (const o of again) {
      if (o.retain) {
        if (this.#state) o.resolve(false);
        else this.#state = o;
      } else this.#events.push(o);
    }
    for (const o of events) this.hold(o);
  }

  /** Gives up on everything (the channel stopped). */
  abandon(): void {
    for (const o of [...this.#inflight.values(), ...this.#events]) o.resolve(false);
    this.#state?.resolve(false);
    this.#inflight.clear();
    this.#events = [];
    this.#state = undefined;
  }
}
