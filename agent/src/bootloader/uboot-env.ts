/**
 * U-Boot environment images: the bytes that U-Boot (`saveenv`, `env import -c`),
 * libubootenv (`fw_printenv`/`fw_setenv`) and `mkenvimage` share. Pure: no I/O.
 *
 * One copy is `size` bytes (the third column of fw_env.config, CONFIG_ENV_SIZE in U-Boot):
 *
 *   plain      | u32 crc | data[size-4]
 *   redundant  | u32 crc | u8 flags | data[size-5]
 *
 * - `crc` is CRC-32 (IEEE, as zlib computes it) of the whole data area, padding included.
 *   It never covers the crc field or the flags byte. Little-endian unless the target is
 *   big-endian (`mkenvimage -b`).
 * - `data` is `name=value\0` entries, then one more `\0`; the list ends at the first empty
 *   entry. The value is everything after the first `=`. Bytes after the terminator are
 *   padding, but writers disagree about them: U-Boot writes 0x00, mkenvimage 0xff, and
 *   libubootenv 0.3.2 leaves stale bytes behind. Readers must ignore them, yet they count
 *   for the CRC. Canopy writes 0x00 and sorts names by byte value, as U-Boot and
 *   libubootenv do, so its output matches fw_setenv's up to the terminator.
 * - Redundant envs keep two copies. A writer overwrites the copy that is *not* current,
 *   so a power cut leaves the current one intact. How the current copy is chosen depends
 *   on the flags scheme: see {@link chooseRedundantCopy}.
 */
import { crc32 } from 'node:zlib';
import { CanopyError } from '../core/errors';
import { decodeEnvText, encodeEnvText, envEntries, quoteForError, type EnvVars } from './env-text';

/** The largest env copy Canopy accepts (real boards use 8 KiB to 256 KiB). */
export const UBOOT_ENV_MAX_SIZE = 1024 * 1024;

/**
 * How the flags byte of a redundant env orders the two copies.
 * - `incremental`: a serial number; each write stores the current copy's value + 1
 *   (mod 256). U-Boot's MMC, NAND, SPI-flash and UBI backends and libubootenv for files,
 *   block devices, NAND and UBI use it.
 * - `boolean`: 1 = active, 0 = obsolete. U-Boot's parallel NOR flash backend and
 *   libubootenv for NOR MTD devices use it: the new copy is written active, then the old
 *   copy's flags byte is overwritten with 0 in place.
 */
export type RedundantScheme = 'incremental' | 'boolean';

/** Where the fields of one env copy are. */
export interface UbootEnvLayout {
  /** Bytes in one copy, header included. */
  size: number;
  /** True for a redundant env: a flags byte follows the CRC. */
  redundant?: boolean;
  /** CRC stored big-endian (`mkenvimage -b`). Default little-endian. */
  bigEndian?: boolean;
}

/** A decoded env copy. */
export interface ParsedUbootEnv {
  /** Variables in the order they appear in the image. */
  vars: Map<string, string>;
  /** The flags byte of a redundant copy. */
  flags?: number;
}

/** Bytes before the data area: 4 (crc), or 5 (crc + flags) when redundant. */
export function ubootEnvHeaderSize(redundant = false): number {
  return redundant ? 5 : 4;
}

/** Throws ERR_INVALID_ARGUMENT unless `layout.size` is an integer within the bounds. */
export function checkUbootEnvLayout(layout: UbootEnvLayout): void {
  const { size } = layout;
  const min = ubootEnvHeaderSize(layout.redundant) + 2;
  if (!Number.isSafeInteger(size) || size < min || size > UBOOT_ENV_MAX_SIZE) {
    throw new CanopyError('ERR_INVALID_ARGUMENT',
      `U-Boot env size ${String(size)} is outside ${min}..${UBOOT_ENV_MAX_SIZE} bytes`, { size: String(size) });
  }
}

function storedCrc(bytes: Uint8Array, bigEndian = false): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, !bigEndian);
}

/** What can be learnt about one copy without decoding its entries. */
export interface UbootEnvCopyStatus {
  /** True when the copy has the full size and its CRC matches. */
  crcOk: boolean;
  /** The flags byte of a redundant copy, when the copy is long enough to have one. */
  flags?: number;
}

/** Checks the length and CRC of one copy. Never throws for bad content. */
export function inspectUbootEnvCopy(bytes: Uint8Array, layout: UbootEnvLayout): UbootEnvCopyStatus {
  checkUbootEnvLayout(layout);
  const header = ubootEnvHeaderSize(layout.redundant);
  const flags = layout.redundant && bytes.length > 4 ? bytes[4] : undefined;
  if (bytes.length !== layout.size) return { crcOk: false, flags };
  const crcOk = crc32(bytes.subarray(header, layout.size)) === storedCrc(bytes, layout.bigEndian);
  return { crcOk, flags };
}

/**
 * Decodes the entry list of a data area. Later duplicates win, as in U-Boot and
 * libubootenv. `base` is the data area's offset in the copy, for messages.
 */
function parseEntries(data: Uint8Array, base: number): Map<string, string> {
  const vars = new Map<string, string>();
  let pos = 0;
  for (;;) {
    const end = data.indexOf(0, pos);
    if (end < 0) {
      throw new CanopyError('ERR_ENV_INVALID',
        `U-Boot env: entry at offset ${base + pos} is not NUL-terminated before the end of the data area`,
        { offset: base + pos });
    }
    if (end === pos) return vars;
    const eq = data.indexOf(0x3d, pos);
    if (eq < 0 || eq > end) {
      throw new CanopyError('ERR_ENV_INVALID', `U-Boot env: entry at offset ${base + pos} has no "="`, { offset: base + pos });
    }
    if (eq === pos) {
      throw new CanopyError('ERR_ENV_INVALID', `U-Boot env: entry at offset ${base + pos} has an empty name`, { offset: base + pos });
    }
    const name = decodeEnvText(data.subarray(pos, eq), `U-Boot env name at offset ${base + pos}`);
    vars.set(name, decodeEnvText(data.subarray(eq + 1, end), `U-Boot env value of ${quoteForError(name)}`));
    pos = end + 1;
  }
}

/**
 * Decodes one env copy of exactly `layout.size` bytes.
 *
 * @throws ERR_INVALID_ARGUMENT when the layout size is out of bounds.
 * @throws ERR_ENV_INVALID when the copy has the wrong length, an entry lacks `=` or a
 *   name, the list has no terminating empty entry, or text is not UTF-8.
 * @throws ERR_ENV_CRC when the stored CRC does not match the data area.
 */
export function parseUbootEnv(bytes: Uint8Array, layout: UbootEnvLayout): ParsedUbootEnv {
  checkUbootEnvLayout(layout);
  if (bytes.length !== layout.size) {
    const how = bytes.length < layout.size ? 'truncated' : 'too long';
    throw new CanopyError('ERR_ENV_INVALID',
      `U-Boot env copy is ${how}: ${bytes.length} bytes, expected ${layout.size}`, { length: bytes.length, size: layout.size });
  }
  const header = ubootEnvHeaderSize(layout.redundant);
  const data = bytes.subarray(header, layout.size);
  const stored = storedCrc(bytes, layout.bigEndian);
  const actual = crc32(data);
  if (stored !== actual) {
    throw new CanopyError('ERR_ENV_CRC',
      `U-Boot env copy has a bad CRC: stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')}`,
      { stored, actual });
  }
  const vars = parseEntries(data, header);
  return layout.redundant ? { vars, flags: bytes[4] } : { vars };
}

/** Throws ERR_ENV_NAME unless U-Boot can store `name`: not empty, no `=`, no NUL. */
export function assertUbootEnvName(name: string): void {
  let why: string | undefined;
  if (name.length === 0) why = 'is empty';
  else if (name.includes('=')) why = 'contains "="';
  else if (name.includes('\0')) why = 'contains NUL';
  if (why) throw new CanopyError('ERR_ENV_NAME', `U-Boot env variable name ${quoteForError(name)} ${why}`, { name: name.slice(0, 120), why });
}

/** Options of {@link serializeUbootEnv}. */
export interface SerializeUbootEnvOptions extends UbootEnvLayout {
  /** Flags byte of a redundant copy (0..255). Default 1, what `mkenvimage -r` writes. */
  flags?: number;
  /** Keep the caller's order instead of sorting names by byte value. Default false. */
  keepOrder?: boolean;
}

/**
 * Encodes variables as one env copy of `size` bytes, zero padded.
 *
 * @throws ERR_INVALID_ARGUMENT for a bad size or flags value.
 * @throws ERR_ENV_NAME for an empty name or one with `=` or NUL.
 * @throws ERR_ENV_VALUE for a value with NUL or a lone surrogate.
 * @throws ERR_ENV_TOO_LARGE when the entries and terminator exceed the data area.
 */
export function serializeUbootEnv(vars: EnvVars, options: SerializeUbootEnvOptions): Uint8Array {
  checkUbootEnvLayout(options);
  const flags = options.flags ?? 1;
  if (!Number.isInteger(flags) || flags < 0 || flags > 255) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `U-Boot env flags ${String(flags)} is not a byte (0..255)`, { flags: String(flags) });
  }
  const header = ubootEnvHeaderSize(options.redundant);
  const capacity = options.size - header;
  const encoded: Uint8Array[] = [];
  let needed = 1; // the terminating empty entry
  for (const [name, value] of envEntries(vars, !options.keepOrder)) {
    assertUbootEnvName(name);
    if (value.includes('\0')) {
      throw new CanopyError('ERR_ENV_VALUE', `U-Boot env value of ${quoteForError(name)} contains NUL`, { name: name.slice(0, 120) });
    }
    const entry = encodeEnvText(`${name}=${value}`, `U-Boot env variable ${quoteForError(name)}`, 'ERR_ENV_VALUE');
    encoded.push(entry);
    needed += entry.length + 1;
  }
  if (needed > capacity) {
    throw new CanopyError('ERR_ENV_TOO_LARGE',
      `U-Boot env needs ${needed} bytes of data but a ${options.size}-byte copy holds ${capacity} (${header} bytes are header)`,
      { needed, capacity, size: options.size });
  }
  const out = new Uint8Array(options.size);
  let pos = header;
  for (const entry of encoded) {
    out.set(entry, pos);
    pos += entry.length + 1; // the NUL is already there
  }
  if (options.redundant) out[4] = flags;
  new DataView(out.buffer).setUint32(0, crc32(out.subarray(header)), !options.bigEndian);
  return out;
}

/**
 * Which copy of a redundant env is current, given each copy's status; null when
 * neither has a valid CRC. A copy with a bad CRC (torn write, erased flash) never wins.
 *
 * `incremental` (U-Boot env/common.c and libubootenv): with both valid, 255 and 0 means
 * the counter wrapped, so the copy with 0 wins; otherwise the higher flags win; equal
 * flags pick the first copy.
 *
 * `boolean` (U-Boot env/flash.c): active (1) beats obsolete (0); equal flags pick the
 * first copy; otherwise a copy whose flags byte is still erased (0xff) wins. For any other
 * pair, where U-Boot falls back to its default env, this follows libubootenv: higher wins.
 */
export function chooseRedundantCopy(a: UbootEnvCopyStatus, b: UbootEnvCopyStatus, scheme: RedundantScheme = 'incremental'): 0 | 1 | null {
  if (!a.crcOk && !b.crcOk) return null;
  if (!b.crcOk) return 0;
  if (!a.crcOk) return 1;
  const fa = a.flags ?? 0;
  const fb = b.flags ?? 0;
  if (scheme === 'incremental') {
    if (fa === 255 && fb === 0) return 1;
    if (fb === 255 && fa === 0) return 0;
    return fb > fa ? 1 : 0;
  }
  if (fa === 1 && fb === 0) return 0;
  if (fa === 0 && fb === 1) return 1;
  if (fa === fb) return 0;
  if (fa === 0xff) return 0;
  if (fb === 0xff) return 1;
  return fb > fa ? 1 : 0;
}

/** The outcome of {@link pickRedundantCopy}. */
export interface RedundantPick {
  /** Index of the current copy: 0 is the first fw_env.config line. */
  copy: 0 | 1;
  /** The current copy's flags byte. */
  flags: number;
  /** Its variables. */
  vars: Map<string, string>;
  /** Whether each copy passed its CRC check. */
  valid: readonly [boolean, boolean];
}

/**
 * Decodes a redundant env from its two copies, as U-Boot and fw_printenv would.
 *
 * @throws ERR_ENV_CRC when neither copy has a valid CRC.
 * @throws ERR_ENV_INVALID when the chosen copy passes its CRC but its entries are
 *   malformed (U-Boot would not fall back to the other copy either).
 */
export function pickRedundantCopy(copyA: Uint8Array, copyB: Uint8Array,
  options: { size: number; bigEndian?: boolean; scheme?: RedundantScheme }): RedundantPick {
  const layout: UbootEnvLayout = { size: options.size, redundant: true, bigEndian: options.bigEndian };
  const a = inspectUbootEnvCopy(copyA, layout);
  const b = inspectUbootEnvCopy(copyB, layout);
  const copy = chooseRedundantCopy(a, b, options.scheme);
  if (copy === null) {
    throw new CanopyError('ERR_ENV_CRC', 'U-Boot env: neither redundant copy has a valid CRC', { size: options.size });
  }
  const parsed = parseUbootEnv(copy === 0 ? copyA : copyB, layout);
  return { copy, flags: parsed.flags ?? 0, vars: parsed.vars, valid: [a.crcOk, b.crcOk] };
}

/** Where and how the next write of a redundant env goes. */
export interface RedundantWrite {
  /** The copy to overwrite: always the one that is not current. */
  copy: 0 | 1;
  /** The flags byte to store in it. */
  flags: number;
  /**
   * `boolean` scheme only: after the new copy is on stable storage, overwrite this copy's
   * flags byte (offset 4) with 0 to mark it obsolete.
   */
  obsolete?: 0 | 1;
}

/**
 * Plans the next write of a redundant env. `current` is the current copy and its flags,
 * or null when neither copy is valid; then copy 0 is written with flags 1.
 */
export function nextRedundantWrite(current: { copy: 0 | 1; flags: number } | null,
  scheme: RedundantScheme = 'incremental'): RedundantWrite {
  if (current === null) return { copy: 0, flags: 1 };
  const copy: 0 | 1 = current.copy === 0 ? 1 : 0;
  if (scheme === 'boolean') return { copy, flags: 1, obsolete: current.copy };
  return { copy, flags: (current.flags + 1) & 0xff };
}
