/**
 * Remote commands: build a command (fresh nonce, short lifetime), sign it
 * with the operator's keys, publish it to one device or a tag, and collect
 * each device's answer from its events: `ack` (accepted, done, failed,
 * refused with a reason) or `rejected` (the device's gate refused the
 * message: unknown-key, expired, replayed, not-for-me …), matched by nonce.
 */
import { buildCommand, encodeEnvelope, signMessage, type Command, type CommandInput, type DeviceEvent, type SigningKeys } from '../channel/index';
import type { FleetView } from './fleet-view';
import type { OperatorLink } from './operator-link';

/** What one device answered. */
export interface CommandAnswer {
  device: string;
  /** `accepted`, `done`, `failed`, `refused` (by the agent), `rejected` (by the message checks) or `no-answer`. */
  status: 'accepted' | 'done' | 'failed' | 'refused' | 'rejected' | 'no-answer';
  reason?: string;
  message?: string;
}

export interface SendCommandOptions {
  link: OperatorLink;
  keys: SigningKeys;
  command: CommandInput;
  /** Devices expected to answer (for a tag: those the fleet view says carry it). */
  expect: readonly string[];
  /** Wait for `done`/`failed` after `accepted` (default: `accepted` is enough). */
  waitDone?: boolean;
  /** Default 30 s. */
  timeoutMs?: number;
  /** The view to feed with the answers (refusals show up in fleet status). */
  view?: FleetView;
  /** Each answer as it arrives. */
  onAnswer?: (a: CommandAnswer) => void;
  /**
   * Publish these bytes instead of the signed command (tests and drills of
   * hostile senders: a replayed or re-targeted copy). The nonce of
   * `command` is still what answers are matched by.
   */
  rawBytes?: Buffer;
  /** Publish on this device's or tag's topic instead of the target's (drills: a command aimed at another device). */
  via?: { device: string } | { tag: string };
}

export interface SendCommandResult {
  command: Command;
  answers: CommandAnswer[];
}

const FINAL = new Set<CommandAnswer['status']>(['done', 'failed', 'refused', 'rejected']);

/**
 * Sends a command and waits for the answers of the expected devices (and
 * records any other device that answers). Devices that stay silent get
 * `no-answer` when the time is up.
 *
 * @throws ERR_INVALID_ARGUMENT for a command that would not pass a
 *   device's schema; ERR_NETWORK / ERR_TIMEOUT from the broker.
 */
export async function sendCommand(o: SendCommandOptions): Promise<SendCommandResult> {
  const command = buildCommand(o.command);
  const bytes = o.rawBytes ?? encodeEnvelope(await signMessage('command', command, o.keys));
  const answers = new Map<string, CommandAnswer>();
  const expected = new Set(o.expect);
  let settle: (() => void) | undefined;
  const finished = (): boolean => [...expected].every((d) => {
    const a = answers.get(d);
    return a !== undefined && (FINAL.has(a.status) || (a.status === 'accepted' && !o.waitDone));
  });
  const onEvent = (e: DeviceEvent): void => {
    let answer: CommandAnswer | undefined;
    if (e.kind === 'ack' && e.nonce === command.nonce) {
      answer = { device: e.device, status: e.status, ...(e.reason ? { reason: e.reason } : {}), ...(e.message ? { message: e.message } : {}) };
    } else if (e.kind === 'rejected' && e.messageType === 'command' && e.nonce === command.nonce) {
      answer = { device: e.device, status: 'rejected', reason: e.reason, message: e.message };
    }
    if (!answer) return;
    o.view?.applyEvent(e);
    const before = answers.get(e.device);
    if (before && FINAL.has(before.status)) return;
    answers.set(e.device, answer);
    o.onAnswer?.(answer);
    if (finished()) settle?.();
  };
  const off = o.link.onEvent(onEvent);
  let timer: NodeJS.Timeout | undefined;
  try {
    await o.link.watchEvents();
    // With nobody known to expect (a tag nobody reported), listen for the whole time.
    const done = new Promise<void>((resolve) => {
      if (expected.size > 0) settle = resolve;
      timer = setTimeout(resolve, o.timeoutMs ?? 30_000);
    });
    await o.link.publishCommand(o.via ?? (command.target.device !== undefined ? { device: command.target.device } : { tag: command.target.tag! }), bytes);
    await done;
  } finally {
    clearTimeout(timer);
    off();
  }
  for (const d of expected) if (!answers.has(d)) answers.set(d, { device: d, status: 'no-answer', message: `no answer within ${Math.round((o.timeoutMs ?? 30_000) / 1000)} s` });
  return { command, answers: [...answers.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0)) };
}
