/**
 * The polling channel: asks the remote repository for its `summary` every
 * interval (plus jitter), with `If-None-Match` so an unchanged summary
 * costs one 304, and reports when the device's ref points at a new
 * commit. It is the channel for fleets without a broker and the fallback
 * while MQTT is down (see {@link FallbackChannel}).
 *
 * It talks through the transport module's {@link HttpClient} port, so
 * `https://` (with the remote's TLS settings) and `file://` remotes both
 * work. When the remote's summary policy is on (`trust`), `summary.sig`
 * is fetched with each changed summary and checked with the sign module's
 * trust policy before the summary is believed; the pull verifies the
 * commit itself in any case.
 *
 * There is no upstream: publishState and publishEvent resolve false, and
 * no announcement or command ever arrives.
 */
import { CanopyError, isCanopyError } from '../core/errors';
import { parseSummary } from '../objects/index';
import { MAX_DETACHED_METADATA_SIZE, verifyTrust, type TrustSettings } from '../sign/index';
import { readBody, type HttpClient, type HttpResponse } from '../transport/index';
import { backoffDelay, type BackoffPolicy } from './backoff';
import {
  Listeners, type AnnouncementMessage, type Channel, type ChannelLog, type ChannelStatus, type CommandMessage, type RefUpdate,
  type RejectedMessage, type StateReport, type Unsubscribe,
} from './channel';
import type { EventBody } from './messages';

export interface PollChannelOptions {
  /** The remote's base URL (the repository), e.g. `https://updates.example.com/repo`. */
  url: string;
  /** The ref the device follows. */
  ref: string;
  http: HttpClient;
  /** Time between polls, ms (default 300000). */
  intervalMs?: number;
  /** Up to this much is added at random to each interval, ms (default 10% of the interval). */
  jitterMs?: number;
  /** The remote's summary policy; absent or both engines off: the summary is not checked. */
  trust?: TrustSettings;
  /** Largest summary accepted, bytes (default 16 MiB). */
  maxSummaryBytes?: number;
  /** The commit the device already has for the ref: no update is reported until the ref moves away from it. */
  knownCommit?: string;
  /** Retry delays after a failed poll (capped at the interval). */
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  log?: ChannelLog;
}

/** What one poll found. */
export type PollOutcome =
  | { status: 'unchanged' }
  | { status: 'update'; update: RefUpdate }
  | { status: 'same-commit'; commit: string };

/** The HTTP-poll adapter of {@link Channel}. */
export class PollChannel implements Channel {
  readonly #o: PollChannelOptions;
  readonly #log: ChannelLog;
  readonly #refUpdates: Listeners<RefUpdate>;
  readonly #status: Listeners<ChannelStatus>;
  readonly #announcements: Listeners<AnnouncementMessage>;
  readonly #commands: Listeners<CommandMessage>;
  readonly #rejected: Listeners<RejectedMessage>;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #etag: string | undefined;
  #commit: string | undefined;
  #failures = 0;
  #inFlight: Promise<PollOutcome> | undefined;

  constructor(opts: PollChannelOptions) {
    this.#o = opts;
    this.#log = opts.log ?? (() => undefined);
    this.#commit = opts.knownCommit;
    const onError = (e: unknown): void => this.#log('error', `a channel listener threw: ${(e as Error)?.message ?? String(e)}`);
    this.#refUpdates = new Listeners(onError);
    this.#status = new Listeners(onError);
    this.#announcements = new Listeners(onError);
    this.#commands = new Listeners(onError);
    this.#rejected = new Listeners(onError);
  }

  onAnnouncement(cb: (m: AnnouncementMessage) => void): Unsubscribe {
    return this.#announcements.add(cb);
  }

  onCommand(cb: (m: CommandMessage) => void): Unsubscribe {
    return this.#commands.add(cb);
  }

  onRefUpdate(cb: (u: RefUpdate) => void): Unsubscribe {
    return this.#refUpdates.add(cb);
  }

  onRejected(cb: (r: RejectedMessage) => void): Unsubscribe {
    return this.#rejected.add(cb);
  }

  onStatus(cb: (s: ChannelStatus) => void): Unsubscribe {
    return this.#status.add(cb);
  }

  /** Polls at once, then every interval. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#inFlight?.catch(() => undefined);
    this.#status.emit({ state: 'stopped' });
  }

  publishState(_s: StateReport): Promise<boolean> {
    return Promise.resolve(false);
  }

  publishEvent(_e: EventBody): Promise<boolean> {
    return Promise.resolve(false);
  }

  /**
   * Polls now (a `check-now` command, or a test). Concurrent calls share
   * one request. Listeners hear about an update as with a timed poll.
   *
   * @throws ERR_HTTP_STATUS, ERR_NETWORK, ERR_TLS, ERR_OBJECT_INVALID
   *   (summary too large or malformed), ERR_GVARIANT_*, ERR_REF_NOT_FOUND,
   *   and the signature codes of the trust policy (ERR_SIGNATURE_MISSING,
   *   ERR_SIGNATURE_INVALID, ERR_KEY_*).
   */
  checkNow(): Promise<PollOutcome> {
    this.#inFlight ??= this.#poll().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  #schedule(delay: number): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      void this.checkNow().then(
        () => {
          this.#failures = 0;
          this.#status.emit({ state: 'connected' });
          this.#schedule(this.#nextInterval());
        },
        (e) => {
          const retry = Math.min(this.#interval(), backoffDelay(this.#failures++, this.#o.backoff, this.#o.random));
          const error = isCanopyError(e) ? `${e.code}: ${e.message}` : String(e);
          this.#log('warn', `polling ${this.#o.url} failed: ${error}`);
          this.#status.emit({ state: 'disconnected', error, retryInMs: retry });
          this.#schedule(retry);
        },
      );
    }, delay);
  }

  #interval(): number {
    return this.#o.intervalMs ?? 300_000;
  }

  #nextInterval(): number {
    const jitter = this.#o.jitterMs ?? this.#interval() / 10;
    return Math.round(this.#interval() + jitter * (this.#o.random ?? Math.random)());
  }

  async #poll(): Promise<PollOutcome> {
    const url = `${this.#o.url.replace(/\/+$/, '')}/summary`;
    const res = await this.#o.http.get({ url, headers: this.#etag ? { 'if-none-match': this.#etag } : undefined });
    if (res.status === 304) {
      await res.dump();
      return { status: 'unchanged' };
    }
    if (res.status !== 200) throw await statusError(res, url);
    const bytes = await readBody(res, this.#o.maxSummaryBytes ?? 16 * 1024 * 1024, `summary of ${this.#o.url}`);
    let verified = false;
    const t = this.#o.trust;
    if (t && (t.gpgVerify === true || (t.signVerify !== undefined && t.signVerify !== false))) {
      const sigUrl = `${url}.sig`;
      const sr = await this.#o.http.get({ url: sigUrl });
      let sig: Buffer | null = null;
      if (sr.status === 200) sig = await readBody(sr, MAX_DETACHED_METADATA_SIZE, `summary.sig of ${this.#o.url}`);
      else if (sr.status === 404) await sr.dump();
      else throw await statusError(sr, sigUrl);
      verified = (await verifyTrust(t, { what: `summary of ${this.#o.url}`, data: bytes, detachedMetadata: sig })).verified;
    }
    const summary = parseSummary(bytes);
    const ref = summary.refs.find((r) => r.name === this.#o.ref);
    if (!ref) throw new CanopyError('ERR_REF_NOT_FOUND', `the summary of ${this.#o.url} has no ref ${this.#o.ref}`, { url: this.#o.url, ref: this.#o.ref });
    // Remember the ETag only once the summary was believed, so a bad one is fetched again.
    this.#etag = res.headers.etag;
    if (ref.commit === this.#commit) return { status: 'same-commit', commit: ref.commit };
    this.#commit = ref.commit;
    const update: RefUpdate = { ref: ref.name, commit: ref.commit, url: this.#o.url, verified };
    this.#refUpdates.emit(update);
    return { status: 'update', update };
  }
}

async function statusError(res: HttpResponse, url: string): Promise<CanopyError> {
  await res.dump().catch(() => undefined);
  return new CanopyError('ERR_HTTP_STATUS', `GET ${url}: HTTP ${res.status}`, { url, status: res.status });
}
