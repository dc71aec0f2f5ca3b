/**
 * Loading the agent's configuration: JSON fragments from three config.d
 * directories, lowest precedence first,
 *
 *   /usr/lib/canopy/config.d   what the image ships
 *   /etc/canopy/config.d       what the administrator sets
 *   /run/canopy/config.d       what this boot says (provisioning, tests)
 *
 * Within a directory the `*.json` files are read in lexical (byte) order;
 * other names and names starting with `.` are skipped. Fragments merge as
 * merge.ts says (objects deep, arrays replaced). Each fragment is checked
 * on its own first (types, unknown fields), so an error names the file;
 * the merged result is then checked whole (required fields, field
 * combinations) and defaults are filled in. An invalid configuration is an
 * error as a whole: nothing is half applied.
 *
 * All file access goes through {@link ConfigFs}, and the roots are
 * parameters, so tests never read the real /etc.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compareUtf8 } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { isProtocolName, validateAgentConfig, validateAgentConfigFragment, type SchemaIssue, type Validator } from '../channel/index';
import { isPlainObject, mergeFragments, originOf, type JsonObject } from './merge';
import type { AgentConfig } from './types';

/** The directories holding `config.d`, lowest precedence first. */
export const DEFAULT_CONFIG_ROOTS: readonly string[] = ['/usr/lib/canopy', '/etc/canopy', '/run/canopy'];

/** Largest fragment read, bytes. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Most fragments read from one directory. */
export const MAX_CONFIG_FILES_PER_DIR = 256;

/** File access for loading (inject a fake in tests). */
export interface ConfigFs {
  /** Entry names of a directory; undefined when it does not exist. */
  readdir(dir: string): string[] | undefined;
  /** True for a regular file (symlinks followed). */
  isFile(path: string): boolean;
  /** The file's bytes. */
  readFile(path: string): Uint8Array;
}

/** {@link ConfigFs} on node:fs. */
export const nodeConfigFs: ConfigFs = {
  readdir(dir) {
    try {
      return readdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new CanopyError('ERR_CONFIG_INVALID', `cannot list ${dir}: ${(e as Error).message}`, { path: dir }, { cause: e });
    }
  },
  isFile(path) {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  readFile: (path) => readFileSync(path),
};

export interface LoadConfigOptions {
  /** Directories that hold `config.d` (default {@link DEFAULT_CONFIG_ROOTS}). */
  roots?: readonly string[];
  fs?: ConfigFs;
}

/** A loaded configuration. */
export interface LoadedConfig {
  config: AgentConfig;
  /** The fragments applied, in order. */
  files: string[];
}

/** One fragment against the relaxed schema (fragment-schema.ts): types and known fields. */
const validateFragment: Validator<JsonObject> = validateAgentConfigFragment;
/** The merged whole against schema.json: required fields, combinations; fills in defaults. */
const validateWhole: Validator<AgentConfig> = validateAgentConfig;

/**
 * Loads, merges, checks and completes the configuration.
 *
 * @throws ERR_CONFIG_INVALID naming the file and the field path: a file
 *   that is not JSON, not an object, too large, or has a field of the
 *   wrong type or an unknown field; a required field that no file sets;
 *   an `idFile` that cannot be read or holds no valid id; MQTT without any
 *   message key.
 */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const fs = opts.fs ?? nodeConfigFs;
  const fragments: Array<{ source: string; value: JsonObject }> = [];
  for (const root of opts.roots ?? DEFAULT_CONFIG_ROOTS) {
    const dir = join(root, 'config.d');
    const names = (fs.readdir(dir) ?? []).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort(compareUtf8);
    if (names.length > MAX_CONFIG_FILES_PER_DIR) invalid(`${dir}: more than ${MAX_CONFIG_FILES_PER_DIR} fragments`, dir);
    for (const n of names) {
      const path = join(dir, n);
      if (!fs.isFile(path)) continue;
      fragments.push({ source: path, value: readFragment(fs, path) });
    }
  }
  const merged = mergeFragments(fragments);
  const files = fragments.map((f) => f.source);
  const doc = merged.value;
  resolveDeviceId(fs, doc, files);
  const whole = validateWhole(doc);
  if (!whole.ok) {
    const lines = whole.issues.map((i) => describe(i, merged.origins, files));
    invalid(`invalid configuration:\n  ${lines.join('\n  ')}`, originOf(merged.origins, whole.issues[0].path) ?? '(none)');
  }
  const config = whole.value;
  if (config.mqtt.enabled && config.mqtt.url && config.messages.keys.ed25519.length + config.messages.keys.openpgp.length === 0) {
    invalid(`invalid configuration:\n  messages.keys: no key file, but MQTT is configured (${originOf(merged.origins, 'mqtt.url')}): every message would be refused`, originOf(merged.origins, 'mqtt.url') ?? '');
  }
  return { config, files };
}

function readFragment(fs: ConfigFs, path: string): JsonObject {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFile(path);
  } catch (e) {
    return invalid(`${path}: cannot read: ${(e as Error).message}`, path);
  }
  if (bytes.length > MAX_CONFIG_FILE_BYTES) invalid(`${path}: larger than ${MAX_CONFIG_FILE_BYTES} bytes`, path);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    invalid(`${path}: not valid JSON: ${(e as Error).message}`, path);
  }
  if (!isPlainObject(value)) invalid(`${path}: must hold a JSON object`, path);
  const v = validateFragment(value);
  if (!v.ok) invalid(`${path}: ${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, path);
  return value as JsonObject;
}

/** Fills device.id from device.idFile when id is not set. */
function resolveDeviceId(fs: ConfigFs, doc: JsonObject, files: string[]): void {
  const device = doc.device;
  if (!isPlainObject(device) || device.id !== undefined) return;
  if (typeof device.idFile !== 'string') {
    return invalid(`invalid configuration:\n  device.id: is required (or device.idFile); no file sets it (read ${files.length ? files.join(', ') : 'no files'})`, '');
  }
  let text: string;
  try {
    text = Buffer.from(fs.readFile(device.idFile)).toString('utf8');
  } catch (e) {
    return invalid(`device.idFile: cannot read ${device.idFile}: ${(e as Error).message}`, device.idFile);
  }
  const id = text.split('\n')[0].trim();
  if (!isProtocolName(id)) invalid(`device.idFile: ${device.idFile} does not start with a valid device id (letters, digits, . _ : -, at most 128)`, device.idFile);
  device.id = id;
}

function describe(issue: SchemaIssue, origins: ReadonlyMap<string, string>, files: string[]): string {
  if (issue.keyword === 'required') return `${issue.path}: ${issue.message}; no file sets it (read ${files.length ? files.join(', ') : 'no files'})`;
  const from = originOf(origins, issue.path);
  return from ? `${issue.path}: ${issue.message} (set in ${from})` : `${issue.path}: ${issue.message}`;
}

function invalid(message: string, path: string): never {
  throw new CanopyError('ERR_CONFIG_INVALID', message, { path });
}
