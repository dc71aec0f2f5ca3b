/** Helpers for the health tests: a temp root with layered check directories, real scripts. */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const USR = '/usr/lib/canopy/health';
export const ETC = '/etc/canopy/health';

/** A fresh temp dir and its cleanup. */
export async function tempRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'canopy-health-'));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Writes an executable `#!/bin/sh` script at root/layer/dir/name. */
export async function script(root: string, layer: string, dir: string, name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(root, layer, dir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, mode);
  return path;
}

/** Writes a plain file (settings, empty mask, non-executable). */
export async function plain(root: string, layer: string, dir: string, name: string, text: string): Promise<string> {
  const path = join(root, layer, dir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  await chmod(path, 0o644);
  return path;
}

/** Masks a name with a symlink to /dev/null. */
export async function maskLink(root: string, layer: string, dir: string, name: string): Promise<void> {
  const path = join(root, layer, dir, name);
  await mkdir(dirname(path), { recursive: true });
  await symlink('/dev/null', path);
}

/** True while `pid` is a live process (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Polls `cond` for up to `ms`. */
export async function eventually(cond: () => boolean, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

export const COMMIT_A = 'a'.repeat(64);
export const COMMIT_B = 'b'.repeat(64);
