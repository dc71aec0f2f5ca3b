/**
 * The health-check directories, layered the way systemd layers its `.d` directories:
 *
 * - each kind (`required.d`, `wanted.d`, `green.d`, `red.d`) is looked up in every layer,
 *   lowest first: by default `/usr/lib/canopy/health/<kind>` (what the image ships) and
 *   `/etc/canopy/health/<kind>` (what the administrator adds);
 * - files are merged by name: a file in a higher layer replaces the file of the same name
 *   below it;
 * - a file is masked (the name runs nothing) when the winning entry is a symlink to
 *   `/dev/null` or an empty regular file, as systemd masks units and tmpfiles.d, sysctl.d
 *   snippets: `ln -s /dev/null /etc/canopy/health/required.d/20-canopy-agent`;
 * - names starting with `.` are ignored (editor and package-manager leftovers);
 * - `NAME.json` is the settings file of the check `NAME` (see check-settings.ts), layered
 *   like any file, so `/etc` can change a shipped check's timeout without replacing it;
 * - every other name must be an executable regular file (symlinks followed); anything
 *   else is skipped with a warning. Unlike greenboot, a `.sh` file without the execute bit
 *   is not run through bash: set the bit.
 *
 * Order is lexical by bytes (as `LC_ALL=C ls`), across layers. Every path is built under
 * an injectable root, so tests never touch the real `/etc`.
 */
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { compareUtf8 } from '../core/bytes';
import { ioError } from '../core/errors';
import { HEALTH_DIR_NAMES, type HealthDirKind, type HealthNote } from './check-result';

/** The layers, lowest first. */
export const DEFAULT_HEALTH_LAYERS: readonly string[] = ['/usr/lib/canopy/health', '/etc/canopy/health'];

/** Suffix of a check's settings file. */
export const SETTINGS_SUFFIX = '.json';

/** A file that won the layering. */
export interface HealthFile {
  name: string;
  /** Its path on disk (under the root). */
  path: string;
  /** The layer as configured (not under the root), for reports. */
  layer: string;
}

/** One kind's directory after layering. */
export interface HealthDirListing {
  kind: HealthDirKind;
  /** Executable files to run, in order. */
  checks: HealthFile[];
  /** Settings files by the check name they belong to. */
  settings: Map<string, HealthFile>;
  notes: HealthNote[];
}

/** Where to look. */
export interface HealthDirOptions {
  /** Prefix of every layer (default `/`). */
  root?: string;
  /** Layer directories, lowest first (default {@link DEFAULT_HEALTH_LAYERS}). */
  layers?: readonly string[];
}

interface Entry extends HealthFile {
  masked: boolean;
}

async function readLayer(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw ioError(e, 'read health-check directory', dir);
  }
}

async function isMask(path: string): Promise<boolean> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return (await readlink(path)) === '/dev/null';
  return st.isFile() && st.size === 0;
}

/**
 * Lists one kind's directory across the layers.
 *
 * @throws ERR_IO / ERR_PERMISSION when a layer directory exists but cannot be read (a
 *   health check that cannot be listed must not count as passed).
 */
export async function listHealthDir(kind: HealthDirKind, options: HealthDirOptions = {}): Promise<HealthDirListing> {
  const root = options.root ?? '/';
  const merged = new Map<string, Entry>();
  for (const layer of options.layers ?? DEFAULT_HEALTH_LAYERS) {
    const dir = join(root, layer, HEALTH_DIR_NAMES[kind]);
    for (const name of await readLayer(dir)) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      let masked: boolean;
      try {
        masked = await isMask(path);
      } catch (e) {
        throw ioError(e, 'inspect health check', path);
      }
      merged.set(name, { name, path, layer, masked });
    }
  }
  const listing: HealthDirListing = { kind, checks: [], settings: new Map(), notes: [] };
  const note = (level: HealthNote['level'], e: Entry, message: string): void => {
    listing.notes.push({ level, kind, name: e.name, path: e.path, message });
  };
  for (const name of [...merged.keys()].sort(compareUtf8)) {
    const e = merged.get(name) as Entry;
    const file: HealthFile = { name: e.name, path: e.path, layer: e.layer };
    if (e.masked) {
      note('info', e, `masked by ${e.path}`);
      continue;
    }
    if (name.endsWith(SETTINGS_SUFFIX) && name.length > SETTINGS_SUFFIX.length) {
      listing.settings.set(name.slice(0, -SETTINGS_SUFFIX.length), file);
      continue;
    }
    let st;
    try {
      st = await stat(e.path);
    } catch (err) {
      note('warning', e, `skipped: cannot be opened (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      continue;
    }
    if (!st.isFile()) {
      note('warning', e, 'skipped: not a regular file');
    } else if ((st.mode & 0o111) === 0) {
      note('warning', e, 'skipped: not executable (chmod +x it to run it)');
    } else {
      listing.checks.push(file);
    }
  }
  return listing;
}
