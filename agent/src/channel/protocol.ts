/**
 * Constants of the Canopy messaging protocol (see `agent/PROTOCOL.md`): the
 * major version, size limits, time rules, the signing context and the
 * stable reasons a device gives when it refuses a message. Pure data.
 */

/** The major protocol version this code speaks (the `v` field). */
export const PROTOCOL_VERSION = 1;

/** Largest MQTT payload a device accepts on an inbound topic (announcement, command). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** Largest payload a device publishes (state, event). */
export const MAX_REPORT_BYTES = 64 * 1024;

/** Most signatures in one envelope. */
export const MAX_SIGNATURES = 8;

/** Default tolerance for clocks that disagree, in seconds. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 300;

/** A command may live at most this long (`expires - created`), in seconds. */
export const MAX_COMMAND_LIFETIME_SECONDS = 7 * 24 * 3600;

/**
 * The signed bytes of an envelope are this ASCII prefix followed by the
 * UTF-8 bytes of the payload string, so a signature over a message can
 * never be taken for a signature over anything else the same key signs
 * (an OSTree commit, a summary).
 */
export const SIGNING_CONTEXT = 'canopy-message-v1\n';

/** The default topic prefix; `{fleet}` is replaced by the device's fleet. */
export const DEFAULT_TOPIC_PREFIX = 'canopy/v1/{fleet}';

/**
 * Device ids, fleet, channel and tag names: they become MQTT topic levels,
 * so no `/`, `+`, `#`, NUL or spaces.
 */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const NAME_RE = new RegExp(NAME_PATTERN);

/** True when `s` may be used as a device id, fleet, channel or tag. */
export function isProtocolName(s: unknown): s is string {
  return typeof s === 'string' && NAME_RE.test(s);
}

/**
 * Why a device refused an inbound message. Stable strings: operators and
 * dashboards branch on them.
 */
export const REJECTION_REASONS = {
  'too-large': 'the message is larger than the protocol allows',
  malformed: 'the message is not valid JSON or does not match its schema',
  'unsupported-version': 'the message (or its payload) has a major version this device does not speak',
  unsigned: 'the message carries no signature by an engine this device supports',
  'unknown-key': 'no signature was made by a trusted, usable key',
  'revoked-key': 'the only valid signatures were made by revoked keys',
  'bad-signature': 'a signature claims a trusted key but does not match the signed bytes, or is malformed',
  'not-for-me': 'the message names another fleet, channel, device, tag or hardware',
  expired: 'the message expired (beyond the allowed clock skew)',
  replayed: 'the message was already accepted once, or is older than one already accepted',
  'internal-error': 'the device could not record the message (its replay store failed), so it did not act on it',
} as const;

export type RejectionReason = keyof typeof REJECTION_REASONS;

/** Parses an RFC 3339 UTC timestamp as the protocol writes it; NaN when it is not one. */
export function parseTimestamp(s: string): number {
  if (!TIMESTAMP_RE.test(s)) return NaN;
  return Date.parse(s);
}

/** `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, UTC only. Kept in sync with the schemas. */
export const TIMESTAMP_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z$';
const TIMESTAMP_RE = new RegExp(TIMESTAMP_PATTERN);

/** Formats a time as the protocol writes timestamps (millisecond precision, UTC). */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}
