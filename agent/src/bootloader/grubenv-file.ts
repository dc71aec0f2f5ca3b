/**
 * grubenv files as the agent keeps them: a primary `grubenv` (where greenboot and
 * grub-editenv expect it) and an optional redundant copy, `grubenv.redund`, that
 * grub/canopy.cfg reads when the primary is unreadable. GRUB has no redundant env of
 * its own and its `save_env` rewrites a file in place, so a torn sector can destroy
 * the primary; the second copy keeps the boot state.
 *
 * The agent replaces each file whole: a temporary file in the same directory, fsync,
 * rename, fsync of the directory. A power cut leaves either the old or the new file,
 * never a mix. The primary is written first, so when the two differ the primary is the
 * newer, and GRUB prefers it.
 */
import { open, readFile } from 'node:fs/promises';
import { CanopyError, ioError } from '../core/errors';
import { writeFileDurable } from '../platform/durable-file';
import { GRUBENV_MAX_SIZE, GRUBENV_SIGNATURE, GRUBENV_SIZE, parseGrubEnv, serializeGrubEnv } from './grubenv';
import type { EnvVars } from './env-text';

/** File name of the redundant copy beside `grubenv`, as grub/canopy.cfg expects it. */
export const GRUB_ENV_REDUNDANT_NAME = 'grubenv.redund';

/** Where the copies are. */
export interface GrubEnvPaths {
  /** The grubenv GRUB reads first. */
  primary: string;
  /** The redundant copy, or null/undefined for a single copy. */
  redundant?: string | null;
}

/** The I/O the store needs; tests replace it to simulate power cuts. */
export interface GrubEnvFileIo {
  /** The file's bytes, or null when it does not exist. At most `limit` bytes are read. */
  read(path: string, limit: number): Promise<Uint8Array | null>;
  /** Replaces the file atomically (temporary file, fsync, rename, directory fsync). */
  replace(path: string, bytes: Uint8Array): Promise<void>;
}


/** {@link GrubEnvFileIo} on node:fs. */
export const nodeGrubEnvFileIo: GrubEnvFileIo = {
  async read(path, limit) {
    try {
      const fh = await open(path, 'r');
      try {
        const { size } = await fh.stat();
        if (size > limit) {
          throw new CanopyError('ERR_ENV_INVALID', `${path}: ${size} bytes is larger than a grubenv may be (${limit})`, { path, size });
        }
        return new Uint8Array(await readFile(fh));
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ioError(e, 'read', path);
    }
  },
  async replace(path, bytes) {
    // The directory is the boot loader's own (e.g. /boot/grub): never created here.
    writeFileDurable(path, bytes, { fileMode: 0o644, createDir: false });
  },
};

/** What was read. */
export interface GrubEnvFileState {
  /** Variables of the copy GRUB would use; empty when none is readable. */
  vars: Map<string, string>;
  /** 0 = primary, 1 = redundant, null = no readable copy. */
  copy: 0 | 1 | null;
  /** Whether each copy exists and parses (the second is false without a redundant path). */
  valid: [boolean, boolean];
  /** Block size of the copy read (GRUBENV_SIZE when none). */
  size: number;
}

async function readCopy(path: string, io: GrubEnvFileIo): Promise<{ vars: Map<string, string>; size: number } | null> {
  const bytes = await io.read(path, GRUBENV_MAX_SIZE);
  if (bytes === null || bytes.length < GRUBENV_SIGNATURE.length) return null;
  try {
    return { vars: parseGrubEnv(bytes, { size: bytes.length }), size: bytes.length };
  } catch (e) {
    if (e instanceof CanopyError && e.code === 'ERR_ENV_INVALID') return null;
    throw e;
  }
}

/**
 * Reads the copies as grub/canopy.cfg does: the primary when it is readable, else the
 * redundant one. Missing or malformed copies are reported in `valid`, not thrown: GRUB
 * then boots with no counting state, and the agent rewrites both.
 *
 * @throws ERR_IO and friends when a file cannot be read for another reason than not existing.
 */
export async function readGrubEnvFiles(paths: GrubEnvPaths, io: GrubEnvFileIo = nodeGrubEnvFileIo): Promise<GrubEnvFileState> {
  const primary = await readCopy(paths.primary, io);
  const redundant = paths.redundant ? await readCopy(paths.redundant, io) : null;
  const valid: [boolean, boolean] = [primary !== null, redundant !== null];
  if (primary) return { vars: primary.vars, copy: 0, valid, size: primary.size };
  if (redundant) return { vars: redundant.vars, copy: 1, valid, size: redundant.size };
  return { vars: new Map(), copy: null, valid, size: GRUBENV_SIZE };
}

/**
 * Writes `vars` (in their order) to the primary, then to the redundant copy.
 *
 * @throws what {@link serializeGrubEnv} throws (nothing is written then), plus ERR_IO and friends.
 */
export async function writeGrubEnvFiles(paths: GrubEnvPaths, vars: EnvVars,
  options: { io?: GrubEnvFileIo; size?: number } = {}): Promise<void> {
  const io = options.io ?? nodeGrubEnvFileIo;
  const block = serializeGrubEnv(vars, { size: options.size ?? GRUBENV_SIZE });
  await io.replace(paths.primary, block);
  if (paths.redundant) await io.replace(paths.redundant, block);
}

/**
 * Read-modify-write: applies `changes` (a string sets, null removes) to the copy GRUB
 * would read, keeping the order of existing variables as grub-editenv does, and writes
 * both copies with the block size read. Returns the state read back.
 *
 * @throws what {@link readGrubEnvFiles} and {@link writeGrubEnvFiles} throw.
 */
export async function updateGrubEnvFiles(paths: GrubEnvPaths, changes: Readonly<Record<string, string | null>>,
  io: GrubEnvFileIo = nodeGrubEnvFileIo): Promise<GrubEnvFileState> {
  const current = await readGrubEnvFiles(paths, io);
  const vars = new Map(current.vars);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) vars.delete(name);
    else vars.set(name, value);
  }
  await writeGrubEnvFiles(paths, vars, { io, size: current.size });
  return readGrubEnvFiles(paths, io);
}
