/**
 * U-Boot environments stored in files or block devices, located by a fw_env.config as
 * libubootenv reads it. The format work is in ./uboot-env; this file only moves bytes,
 * through a small {@link EnvBlockIo} that tests replace to simulate torn writes.
 *
 * fw_env.config (libubootenv 0.3.x, same as U-Boot's own tools):
 *
 *   # comment
 *   <device or file> <offset> <env size> [<sector size> [<sectors>]]
 *
 * One line is a plain env, two lines a redundant env (same size required). The offset is
 * read like C's strtoll with base 0 (`0x..` hex, a leading `0` octal, else decimal), but
 * the sizes are ALWAYS hexadecimal, with or without `0x`: `2000` means 8192 bytes.
 * Relative paths are resolved against the current directory by libubootenv; here
 * against `baseDir` (default: the current directory).
 *
 * Writes never touch the current copy of a redundant env: the other copy is written and
 * fsynced, so a power cut at any moment leaves at least one valid copy. A plain env is
 * rewritten in place and is only as safe as the storage under it.
 */
import { open, readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import {
  UBOOT_ENV_MAX_SIZE, chooseRedundantCopy, inspectUbootEnvCopy, nextRedundantWrite, parseUbootEnv,
  serializeUbootEnv, ubootEnvHeaderSize, type RedundantScheme, type UbootEnvLayout,
} from './uboot-env';
import { envEntries, type EnvVars } from './env-text';

/** One line of fw_env.config. */
export interface FwEnvDevice {
  path: string;
  offset: number;
  size: number;
  sectorSize?: number;
  sectors?: number;
}

/** A parsed fw_env.config. */
export interface FwEnvConfig {
  /** One device, or two for a redundant env. */
  devices: readonly FwEnvDevice[];
  redundant: boolean;
  /** Size of one env copy. */
  size: number;
}

const MAX_CONFIG_BYTES = 64 * 1024;
const C_INTEGER = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;
const HEX = /^(0[xX])?[0-9a-fA-F]+$/;

function configError(where: string, line: number, message: string): CanopyError {
  return new CanopyError('ERR_CONFIG_INVALID', `${where}:${line}: ${message}`, { where, line });
}

function parseNumber(token: string, hexOnly: boolean, where: string, line: number, what: string): number {
  if (!(hexOnly ? HEX : C_INTEGER).test(token)) {
    const hint = token.startsWith('-') ? ' (negative offsets are not supported)' : '';
    throw configError(where, line, `${what} ${JSON.stringify(token)} is not a ${hexOnly ? 'hexadecimal' : 'C'} integer${hint}`);
  }
  let n: number;
  if (hexOnly) n = parseInt(token.replace(/^0[xX]/, ''), 16);
  else if (/^0[xX]/.test(token)) n = parseInt(token.slice(2), 16);
  else if (token.startsWith('0')) n = parseInt(token, 8);
  else n = parseInt(token, 10);
  if (!Number.isSafeInteger(n)) throw configError(where, line, `${what} ${token} is too large`);
  return n;
}

/**
 * Parses fw_env.config text. `where` names the file in messages.
 *
 * @throws ERR_CONFIG_INVALID for a malformed line, a size below the header plus two bytes
 *   or above {@link UBOOT_ENV_MAX_SIZE}, a negative offset, more than two copies, copies of
 *   different sizes, or two copies that overlap.
 */
export function parseFwEnvConfig(text: string, where = 'fw_env.config'): FwEnvConfig {
  if (text.length > MAX_CONFIG_BYTES) throw configError(where, 0, `longer than ${MAX_CONFIG_BYTES} bytes`);
  const devices: FwEnvDevice[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const tokens = lines[i].trim().split(/\s+/).filter((t) => t.length > 0);
    const commentAt = tokens.findIndex((t) => t.startsWith('#'));
    if (commentAt >= 0) tokens.length = commentAt;
    if (tokens.length === 0) continue;
    if (tokens.length < 3) throw configError(where, lineNo, 'expected "<device> <offset> <env size> [<sector size> [<sectors>]]"');
    if (tokens.length > 5) throw configError(where, lineNo, `unexpected ${JSON.stringify(tokens[5])} after the sector count`);
    if (devices.length === 2) throw configError(where, lineNo, 'more than two environment copies');
    const device: FwEnvDevice = {
      path: tokens[0],
      offset: parseNumber(tokens[1], false, where, lineNo, 'offset'),
      size: parseNumber(tokens[2], true, where, lineNo, 'env size'),
    };
    if (tokens.length > 3) device.sectorSize = parseNumber(tokens[3], true, where, lineNo, 'sector size');
    if (tokens.length > 4) device.sectors = parseNumber(tokens[4], true, where, lineNo, 'sector count');
    if (device.size > UBOOT_ENV_MAX_SIZE) {
      throw configError(where, lineNo, `env size 0x${device.size.toString(16)} is larger than 0x${UBOOT_ENV_MAX_SIZE.toString(16)} (sizes are hexadecimal)`);
    }
    devices.push(device);
  }
  if (devices.length === 0) throw configError(where, 0, 'no environment device');
  const [a, b] = devices;
  if (b) {
    if (a.size !== b.size) throw configError(where, 0, `the two copies differ in size (0x${a.size.toString(16)} and 0x${b.size.toString(16)})`);
    if (a.path === b.path && a.offset < b.offset + b.size && b.offset < a.offset + a.size) {
      throw configError(where, 0, 'the two copies overlap');
    }
  }
  const min = ubootEnvHeaderSize(devices.length === 2) + 2;
  if (a.size < min) throw configError(where, 0, `env size 0x${a.size.toString(16)} is smaller than the minimum 0x${min.toString(16)}`);
  return { devices, redundant: devices.length === 2, size: a.size };
}

/** Reads and parses a fw_env.config file. Throws ERR_IO or ERR_CONFIG_INVALID. */
export async function loadFwEnvConfig(path: string): Promise<FwEnvConfig> {
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size > MAX_CONFIG_BYTES) throw configError(path, 0, `longer than ${MAX_CONFIG_BYTES} bytes`);
      text = await readFile(fh, 'utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw ioError(e, 'read', path);
  }
  return parseFwEnvConfig(text, path);
}

/** The I/O a store needs. Paths are absolute. */
export interface EnvBlockIo {
  /** Reads up to `length` bytes at `offset`; fewer only at the end of the file. */
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Writes all of `bytes` at `offset` of an existing file, then fsyncs before resolving. */
  write(path: string, offset: number, bytes: Uint8Array): Promise<void>;
}

/** {@link EnvBlockIo} on node:fs: positional reads and writes, fsync after each write. */
export const nodeEnvBlockIo: EnvBlockIo = {
  async read(path, offset, length) {
    try {
      const fh = await open(path, 'r');
      try {
        const buf = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw ioError(e, 'read', path);
    }
  },
  async write(path, offset, bytes) {
    try {
      const fh = await open(path, 'r+'); // never create: a missing env file is a config error
      try {
        let done = 0;
        while (done < bytes.length) {
          const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, offset + done);
          done += bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw ioError(e, 'write', path);
    }
  },
};

/** Options of the file-backed store. */
export interface UbootEnvFileOptions {
  io?: EnvBlockIo;
  /** Directory that relative device paths are resolved against. Default: the current directory. */
  baseDir?: string;
  /** CRC stored big-endian. */
  bigEndian?: boolean;
  /** Flags scheme of a redundant env. Default `incremental` (what libubootenv uses for files). */
  scheme?: RedundantScheme;
}

/** The env as read from storage. */
export interface UbootEnvFileState {
  vars: Map<string, string>;
  /** Index of the copy the variables came from (always 0 for a plain env). */
  copy: 0 | 1;
  /** Flags byte of that copy (redundant envs only). */
  flags?: number;
  /** CRC validity of each configured copy. */
  valid: boolean[];
}

function devicePath(device: FwEnvDevice, options: UbootEnvFileOptions): string {
  if (/^\/dev\/(mtd|ubi)/.test(device.path)) {
    throw new CanopyError('ERR_CONFIG_INVALID', `${device.path}: MTD and UBI devices are not supported (they need erase-before-write)`, { path: device.path });
  }
  return isAbsolute(device.path) ? device.path : resolve(options.baseDir ?? process.cwd(), device.path);
}

function layoutOf(config: FwEnvConfig, options: UbootEnvFileOptions): UbootEnvLayout {
  return { size: config.size, redundant: config.redundant, bigEndian: options.bigEndian };
}

async function readCopies(config: FwEnvConfig, options: UbootEnvFileOptions): Promise<Uint8Array[]> {
  const io = options.io ?? nodeEnvBlockIo;
  const copies: Uint8Array[] = [];
  for (const device of config.devices) copies.push(await io.read(devicePath(device, options), device.offset, config.size));
  return copies;
}

/** Current copy index and flags, or null when no copy has a valid CRC. */
function currentOf(copies: Uint8Array[], config: FwEnvConfig, options: UbootEnvFileOptions): { copy: 0 | 1; flags: number } | null {
  const layout = layoutOf(config, options);
  const status = copies.map((c) => inspectUbootEnvCopy(c, layout));
  if (!config.redundant) return status[0].crcOk ? { copy: 0, flags: 0 } : null;
  const copy = chooseRedundantCopy(status[0], status[1], options.scheme);
  return copy === null ? null : { copy, flags: status[copy].flags ?? 0 };
}

/**
 * Reads the env the way fw_printenv does: the only valid copy, or the current one by flags.
 *
 * @throws ERR_ENV_CRC when no copy is valid (a blank or torn env: U-Boot would use its
 *   built-in default env, which Canopy cannot know).
 * @throws ERR_ENV_INVALID when the current copy is malformed or a plain env is truncated.
 * @throws ERR_CONFIG_INVALID for MTD/UBI devices; ERR_IO and friends when reading fails.
 */
export async function readUbootEnvFile(config: FwEnvConfig, options: UbootEnvFileOptions = {}): Promise<UbootEnvFileState> {
  const copies = await readCopies(config, options);
  const layout = layoutOf(config, options);
  const valid = copies.map((c) => inspectUbootEnvCopy(c, layout).crcOk);
  const current = currentOf(copies, config, options);
  if (current === null) {
    if (!config.redundant && copies[0].length < config.size) {
      parseUbootEnv(copies[0], layout); // throws the truncation error
    }
    throw new CanopyError('ERR_ENV_CRC',
      `U-Boot env at ${config.devices.map((d) => d.path).join(' and ')}: no copy has a valid CRC`,
      { paths: config.devices.map((d) => d.path) });
  }
  const parsed = parseUbootEnv(copies[current.copy], layout);
  return config.redundant
    ? { vars: parsed.vars, copy: current.copy, flags: parsed.flags, valid }
    : { vars: parsed.vars, copy: 0, valid };
}

/**
 * Replaces the whole env with `vars`. A redundant env is written to the copy that is not
 * current (re-read from storage first), with the next flags value, and fsynced.
 * Returns the copy written and its flags.
 *
 * Use {@link updateUbootEnvFile} for changes: U-Boot does not merge a saved env with its
 * defaults, so a write must carry every variable the board needs.
 *
 * @throws what {@link serializeUbootEnv} throws, plus ERR_IO and friends.
 */
export async function writeUbootEnvFile(config: FwEnvConfig, vars: EnvVars,
  options: UbootEnvFileOptions = {}): Promise<{ copy: 0 | 1; flags?: number }> {
  const io = options.io ?? nodeEnvBlockIo;
  const layout = layoutOf(config, options);
  if (!config.redundant) {
    const image = serializeUbootEnv(vars, layout);
    await io.write(devicePath(config.devices[0], options), config.devices[0].offset, image);
    return { copy: 0 };
  }
  const plan = nextRedundantWrite(currentOf(await readCopies(config, options), config, options), options.scheme);
  const image = serializeUbootEnv(vars, { ...layout, flags: plan.flags });
  const target = config.devices[plan.copy];
  await io.write(devicePath(target, options), target.offset, image);
  if (plan.obsolete !== undefined) {
    const old = config.devices[plan.obsolete];
    await io.write(devicePath(old, options), old.offset + 4, Uint8Array.of(0));
  }
  return { copy: plan.copy, flags: plan.flags };
}

/**
 * Read-modify-write: applies `changes` (a string sets, null deletes) to the current env
 * and writes the result as {@link writeUbootEnvFile} does. When no copy is valid, the
 * env is rebuilt from `initial` (like `fw_setenv -f`); without it the call fails rather
 * than write a partial env that would replace U-Boot's defaults.
 *
 * @throws ERR_ENV_CRC when no copy is valid and no `initial` env is given.
 * @throws what {@link readUbootEnvFile} and {@link writeUbootEnvFile} throw.
 */
export async function updateUbootEnvFile(config: FwEnvConfig, changes: Readonly<Record<string, string | null>>,
  options: UbootEnvFileOptions & { initial?: EnvVars } = {}): Promise<UbootEnvFileState> {
  let vars: Map<string, string>;
  try {
    vars = (await readUbootEnvFile(config, options)).vars;
  } catch (e) {
    if (!(e instanceof CanopyError && e.code === 'ERR_ENV_CRC' && options.initial)) throw e;
    vars = new Map(envEntries(options.initial, false));
  }
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) vars.delete(name);
    else vars.set(name, value);
  }
  await writeUbootEnvFile(config, vars, options);
  return readUbootEnvFile(config, options); // read back: proves the new copy is the current one
}
