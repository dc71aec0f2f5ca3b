/**
 * The messages of the Canopy protocol as TypeScript types. They mirror the
 * JSON schemas in `schemas/` (the schemas are the contract; validate.ts
 * checks values against them before they are given these types). Fields a
 * receiver does not know are ignored, so every type here describes the
 * fields this version reads and writes.
 */
import type { RejectionReason } from './protocol';

/** The two kinds of signed message. */
export type SignedType = 'announcement' | 'command';

/** One signature in an envelope. */
export interface EnvelopeSignature {
  /** `ed25519` or `openpgp`; unknown values are skipped. */
  alg: string;
  /** ed25519: base64 public key; openpgp: signing key fingerprint (hex). */
  key: string;
  /** Standard base64 of the raw signature (ed25519: 64 bytes; openpgp: a binary detached signature packet). */
  sig: string;
}

/** What travels on the MQTT topic for an announcement or a command. */
export interface Envelope {
  v: 1;
  type: SignedType;
  /** The inner message as a JSON text (an {@link Announcement} or a {@link Command}). */
  payload: string;
  signatures: EnvelopeSignature[];
}

/** One step of a rollout. */
export interface Wave {
  name: string;
  /** Cumulative upper bound of the wave's buckets, in (0, 100], two decimals at most. */
  percent: number;
  /** Devices of this wave may install. */
  open: boolean;
}

/** The release a channel offers. */
export interface Announcement {
  v: 1;
  type: 'announcement';
  fleet: string;
  channel: string;
  ref: string;
  commit: string;
  version: string;
  /** Only these hardware names take the release (absent: all). */
  hardware?: string[];
  notes?: string;
  rollout: { id: string; waves: Wave[] };
  created: string;
  expires: string;
}

/** Who a command is for: one device or every device carrying a tag. */
export type CommandTarget = { device: string; tag?: never } | { tag: string; device?: never };

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

interface CommandBase {
  v: 1;
  type: 'command';
  fleet: string;
  target: CommandTarget;
  nonce: string;
  created: string;
  expires: string;
}

/** Every command, by kind. */
export type Command = CommandBase & (
  | { kind: 'check-now'; args?: Record<string, unknown> }
  | { kind: 'install'; args: { ref?: string; commit?: string; version?: string } }
  | { kind: 'rollback'; args?: { reason?: string } }
  | { kind: 'reboot'; args?: { reason?: string; force?: boolean } }
  | { kind: 'pin'; args?: { commit?: string; reason?: string } }
  | { kind: 'unpin'; args?: { reason?: string } }
  | { kind: 'report-inventory'; args?: Record<string, unknown> }
  | { kind: 'set-log-level'; args: { level: LogLevel; durationSeconds?: number } }
);

export type CommandKind = Command['kind'];

/** The command kinds this version executes. */
export const COMMAND_KINDS: readonly CommandKind[] = [
  'check-now', 'install', 'rollback', 'reboot', 'pin', 'unpin', 'report-inventory', 'set-log-level',
];

/** A device's state (retained on its state topic). */
export interface DeviceState {
  v: 1;
  type: 'state';
  fleet: string;
  device: string;
  time: string;
  online: boolean;
  agentVersion: string;
  hardware?: string;
  tags?: string[];
  channel?: string;
  /** The agent's state-machine state. */
  phase?: string;
  running?: { commit: string; ref?: string; version?: string } | null;
  pending?: { commit: string; version?: string; phase: string } | null;
  rollout?: { id: string; bucket: number; wave: string | null } | null;
  pinned?: { commit: string; reason?: string } | null;
  lastHealth?: { commit: string; result: 'pass' | 'fail'; time: string; failed?: string[] } | null;
  lastRollback?: { from: string; to: string; reason: string; detail?: string; time: string } | null;
}

interface EventBase {
  v: 1;
  type: 'event';
  fleet: string;
  device: string;
  time: string;
  /** Unique per event, for receivers to drop duplicates. */
  id: string;
}

export interface HealthCheckResult {
  name: string;
  result: 'pass' | 'fail' | 'timeout' | 'skip';
  required?: boolean;
  durationMs?: number;
  message?: string;
}

/** The body of an event, by kind (what a caller passes to publishEvent). */
export type EventBody =
  | { kind: 'progress'; phase: string; commit?: string; done?: number; total?: number; unit?: 'bytes' | 'objects' | 'percent'; message?: string }
  | { kind: 'health'; commit: string; result: 'pass' | 'fail'; checks: HealthCheckResult[] }
  | { kind: 'rollback'; from: string; to: string; reason: string; detail?: string }
  | { kind: 'ack'; nonce: string; command: string; status: 'accepted' | 'done' | 'failed' | 'refused'; reason?: string; message?: string }
  | { kind: 'rejected'; topic: string; messageType: SignedType | 'unknown'; reason: RejectionReason; message: string; nonce?: string };

/** One event as published. */
export type DeviceEvent = EventBase & EventBody;
