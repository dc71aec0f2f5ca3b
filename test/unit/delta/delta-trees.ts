/**
 * Two versions of a small tree and repositories holding them, for the delta
 * generator and applier tests. A -> B has every kind of change a delta
 * handles:
 *
 * - `bin/app`: a 300 kB binary with scattered byte changes (bsdiff);
 * - `var/log.txt`: 1 MB of text with 10 kB appended (rollsum: >= 90% of it
 *   is in chunks of the old file);
 * - `bin/tool-x86`: a new file that looks like an x86-64 ELF executable
 *   (goes to the x86-filtered part);
 * - `share/blob.bin`: a new 600 kB file (a fallback with a 500 kB threshold);
 * - `etc/app.conf` edited, `etc/new.conf` added, `old.txt` removed, a new
 *   directory, new symlinks, an empty file.
 *
 * Commits use canonical permissions (uid/gid 0, no xattrs, mode & 0755)
 * so a bare-user-only repository can hold them; the same tree committed
 * into any repository gives the same checksum.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { RepoMode } from '../../../agent/src/objects/index';
import { commitTree } from '../../../agent/src/repo/commit-tree';
import { Repo } from '../../../agent/src/repo/repo';
import { pseudoRandomBytes } from '../../helpers/nasty-tree';

export const isRoot = process.getuid?.() === 0;

export function haveXz(): boolean {
  return spawnSync('xz', ['--version']).status === 0;
}

function text(lines: number, seed: number): string {
  const words = ['delta', 'part', 'commit', 'object', 'canopy', 'update', 'device', 'fleet', 'rollout', 'health'];
  let x = seed;
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const line: string[] = [];
    for (let j = 0; j < 8; j++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      line.push(words[x % words.length]);
    }
    out.push(`${i}: ${line.join(' ')}`);
  }
  return out.join('\n') + '\n';
}

/** Bytes that start like an x86-64 ELF executable. */
export function fakeX86Elf(size: number, seed: number): Buffer {
  const b = pseudoRandomBytes(size, seed);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(b, 0);
  b[16] = 2;
  b[17] = 0;
  b[18] = 62;
  b[19] = 0;
  // Some call instructions with small relative targets, as code has.
  for (let i = 64; i + 5 < b.length; i += 97) b.set([0xe8, i & 0xff, 0x10, 0x00, 0x00], i);
  return b;
}

const APP = pseudoRandomBytes(300_000, 11);
const LOG = text(16_000, 5);

export function writeTreeA(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'etc'), { recursive: true });
  mkdirSync(join(dir, 'var'), { recursive: true });
  writeFileSync(join(dir, 'bin/app'), APP);
  chmodSync(join(dir, 'bin/app'), 0o755);
  writeFileSync(join(dir, 'var/log.txt'), LOG);
  writeFileSync(join(dir, 'etc/app.conf'), 'mode=fast\nlevel=3\n' + text(50, 9));
  writeFileSync(join(dir, 'old.txt'), 'going away\n');
  writeFileSync(join(dir, 'empty'), '');
  symlinkSync('bin/app', join(dir, 'app-link'));
}

export function writeTreeB(dir: string): void {
  writeTreeA(dir);
  const app = Buffer.from(APP);
  for (let i = 100; i < app.length; i += 997) app[i] ^= 0x5a;
  writeFileSync(join(dir, 'bin/app'), app);
  writeFileSync(join(dir, 'var/log.txt'), LOG + text(300, 77));
  writeFileSync(join(dir, 'etc/app.conf'), 'mode=safe\nlevel=4\n' + text(50, 9));
  writeFileSync(join(dir, 'etc/new.conf'), text(40, 3));
  rmSync(join(dir, 'old.txt'));
  writeFileSync(join(dir, 'bin/tool-x86'), fakeX86Elf(120_000, 21));
  chmodSync(join(dir, 'bin/tool-x86'), 0o755);
  mkdirSync(join(dir, 'share/doc'), { recursive: true });
  writeFileSync(join(dir, 'share/blob.bin'), pseudoRandomBytes(600_000, 31));
  writeFileSync(join(dir, 'share/doc/README'), 'read me\n');
  symlinkSync('../bin/tool-x86', join(dir, 'share/tool'));
  symlinkSync('doc/README', join(dir, 'share/readme'));
}

export interface DeltaWorld {
  dir: string;
  /** Archive repository holding A and B (the operator's). */
  server: Repo;
  a: string;
  b: string;
  treeA: string;
  treeB: string;
  /** A fresh repository of `mode` holding A (same checksum as the server's A). */
  client(mode: RepoMode, name?: string): Promise<Repo>;
  cleanup(): void;
}

const COMMIT_OPTS = { branch: 'os/main', canonicalPermissions: true } as const;

/** Builds the server repository (and the two trees) in a temp dir. */
export async function deltaWorld(): Promise<DeltaWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-delta-world-'));
  const treeA = join(dir, 'tree-a');
  const treeB = join(dir, 'tree-b');
  writeTreeA(treeA);
  writeTreeB(treeB);
  const server = Repo.init(join(dir, 'server'), { mode: 'archive' });
  server.config.set('core', 'fsync', 'false');
  server.saveConfig();
  const a = (await commitTree(server, treeA, { ...COMMIT_OPTS, subject: 'A', timestamp: 1_700_000_000 })).checksum;
  const b = (await commitTree(server, treeB, { ...COMMIT_OPTS, subject: 'B', timestamp: 1_700_100_000 })).checksum;
  let n = 0;
  return {
    dir, server, a, b, treeA, treeB,
    async client(mode, name) {
      const repo = Repo.init(join(dir, name ?? `client-${mode}-${n++}`), { mode });
      repo.config.set('core', 'fsync', 'false');
      repo.saveConfig();
      const c = (await commitTree(repo, treeA, { ...COMMIT_OPTS, subject: 'A', timestamp: 1_700_000_000 })).checksum;
      if (c !== a) throw new Error(`client commit ${c} differs from the server's ${a}`);
      return repo;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
