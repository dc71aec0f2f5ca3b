/**
 * Options the operator's fleet commands share: the broker and fleet, the
 * signing keys, and the journal; and turning them into a connection and
 * keys. Defaults come from the environment (`CANOPY_BROKER`,
 * `CANOPY_FLEET`, `CANOPY_SIGN_KEY`) so a shell session sets them once.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ioError } from '../core/errors';
import { isProtocolName, type SigningKeys } from '../channel/index';
import {
  defaultJournalPath, FleetView, journalFrom, loadJournalInto, OperatorLink, readJournal, readSecretKeyFile, writeJournal,
} from '../fleet/index';
import { usageError, type OptionSpecs } from './cli-args';
import type { RunContext } from './command';

export const BROKER_OPTIONS = {
  broker: { type: 'string', value: 'URL', help: 'MQTT broker, mqtt[s]:// or ws[s]:// (default $CANOPY_BROKER, else mqtt://127.0.0.1:1883)' },
  fleet: { type: 'string', value: 'NAME', help: 'Fleet name (default $CANOPY_FLEET)' },
  'topic-prefix': { type: 'string', value: 'TEMPLATE', help: 'Topic prefix (default canopy/v1/{fleet})' },
  'mqtt-username': { type: 'string', value: 'NAME', help: 'Broker user name' },
  'mqtt-password-file': { type: 'string', value: 'FILE', help: 'File holding the broker password' },
  'mqtt-ca': { type: 'string', value: 'FILE', help: 'CA certificates (PEM) for mqtts://' },
  'mqtt-cert': { type: 'string', value: 'FILE', help: 'Client certificate (PEM)' },
  'mqtt-key': { type: 'string', value: 'FILE', help: 'Client key (PEM)' },
} as const satisfies OptionSpecs;

export const KEY_OPTIONS = {
  'sign-key': { type: 'string', multiple: true, value: 'FILE', help: 'ed25519 secret key file, one base64 key a line as ostree sign --keys-file reads (default $CANOPY_SIGN_KEY)' },
  'gpg-key': { type: 'string', multiple: true, value: 'FILE', help: 'OpenPGP secret key file (armoured or binary)' },
  'gpg-passphrase-file': { type: 'string', value: 'FILE', help: 'File holding the passphrase of the --gpg-key' },
} as const satisfies OptionSpecs;

export const TRUST_OPTIONS = {
  'trusted-keys': { type: 'string', multiple: true, value: 'FILE', help: 'Also accept announcements signed by these ed25519 public keys (trusted.ed25519 format)' },
} as const satisfies OptionSpecs;

export const JOURNAL_OPTIONS = {
  journal: { type: 'string', value: 'FILE', help: 'Where refusals seen in events are kept (default $XDG_STATE_HOME/canopy/fleet-FLEET.json)' },
} as const satisfies OptionSpecs;

/** Parsed option values (any command's). */
type Values = object;
const get = (values: Values, k: string): unknown => (values as Record<string, unknown>)[k];

const abs = (ctx: RunContext, p: string): string => (isAbsolute(p) ? p : resolve(ctx.io.cwd, p));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v : []);

/** The fleet name from --fleet or $CANOPY_FLEET. */
export function fleetName(ctx: RunContext, command: string, values: Values): string {
  const fleet = str(get(values, 'fleet')) ?? ctx.io.env.CANOPY_FLEET;
  if (!fleet) throw usageError(command, 'the fleet is needed: --fleet=NAME or $CANOPY_FLEET');
  if (!isProtocolName(fleet)) throw usageError(command, `fleet ${JSON.stringify(fleet)} is not a valid name`);
  return fleet;
}

/** Checks a channel, device or tag name given on the command line. */
export function nameOption(command: string, what: string, v: string | undefined): string {
  if (v === undefined) throw usageError(command, `--${what} is needed`);
  if (!isProtocolName(v)) throw usageError(command, `${what} ${JSON.stringify(v)} is not a valid name (letters, digits, . _ : -)`);
  return v;
}

/** The signing keys given (possibly none). */
export function signingKeys(ctx: RunContext, values: Values): SigningKeys {
  const files = list(get(values, 'sign-key')).length ? list(get(values, 'sign-key')) : ctx.io.env.CANOPY_SIGN_KEY ? [ctx.io.env.CANOPY_SIGN_KEY] : [];
  const ed25519 = files.flatMap((f) => readSecretKeyFile(abs(ctx, f)).map((k) => k.secretKey));
  let passphrase: string | undefined;
  const pf = str(get(values, 'gpg-passphrase-file'));
  if (pf) {
    try {
      passphrase = readFileSync(abs(ctx, pf), 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw ioError(e, 'read passphrase file', abs(ctx, pf));
    }
  }
  const openpgp = list(get(values, 'gpg-key')).map((f) => {
    try {
      return { key: readFileSync(abs(ctx, f)), ...(passphrase !== undefined ? { passphrase } : {}) };
    } catch (e) {
      throw ioError(e, 'read OpenPGP key', abs(ctx, f));
    }
  });
  return { ...(ed25519.length ? { ed25519 } : {}), ...(openpgp.length ? { openpgp } : {}) };
}

/** The signing keys, at least one. */
export function requireKeys(ctx: RunContext, command: string, values: Values): SigningKeys {
  const keys = signingKeys(ctx, values);
  if (!keys.ed25519?.length && !keys.openpgp?.length) throw usageError(command, 'a signing key is needed: --sign-key=FILE (or $CANOPY_SIGN_KEY) or --gpg-key=FILE');
  return keys;
}

/** Extra trusted public key files, absolute. */
export function trustedKeyFiles(ctx: RunContext, values: Values): string[] {
  return list(get(values, 'trusted-keys')).map((f) => abs(ctx, f));
}

/** Connects to the broker named by the options. */
export async function connectBroker(ctx: RunContext, command: string, values: Values): Promise<OperatorLink> {
  const fleet = fleetName(ctx, command, values);
  const file = (k: string): string | undefined => (str(get(values, k)) ? abs(ctx, str(get(values, k))!) : undefined);
  return OperatorLink.connect({
    url: str(get(values, 'broker')) ?? ctx.io.env.CANOPY_BROKER ?? 'mqtt://127.0.0.1:1883',
    fleet,
    topicPrefix: str(get(values, 'topic-prefix')),
    username: str(get(values, 'mqtt-username')),
    passwordFile: file('mqtt-password-file'),
    caFile: file('mqtt-ca'),
    certFile: file('mqtt-cert'),
    keyFile: file('mqtt-key'),
  });
}

/** The journal file for the options, or undefined when there is no home to keep it in. */
export function journalPath(ctx: RunContext, fleet: string, values: Values): string | undefined {
  const given = str(get(values, 'journal'));
  return given ? abs(ctx, given) : defaultJournalPath(ctx.io.env, fleet);
}

/** Loads the journal into the view (a broken journal is a warning, not a failure). */
export function loadJournal(ctx: RunContext, view: FleetView, fleet: string, path: string | undefined): void {
  if (!path) return;
  try {
    loadJournalInto(view, readJournal(path, fleet));
  } catch (e) {
    ctx.out.warn(`${(e as Error).message}; starting without it`);
  }
}

/** Saves the view's refusals into the journal (failures are warnings). */
export function saveJournal(ctx: RunContext, view: FleetView, fleet: string, path: string | undefined): void {
  if (!path) return;
  try {
    let old;
    try {
      old = readJournal(path, fleet);
    } catch {
      old = undefined;
    }
    writeJournal(path, journalFrom(view, fleet, old));
  } catch (e) {
    ctx.out.warn(`cannot save the journal: ${(e as Error).message}`);
  }
}
