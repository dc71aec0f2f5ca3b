/**
 * `canopy demo`: a walkthrough that runs real `canopy` commands on a small
 * sample root filesystem in a temporary directory, printing each command
 * before its output, so a newcomer sees the whole repository workflow:
 * init, commit two versions, log, ls, cat, summary, checkout, fsck.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCommand } from './command';
import type { CliIo } from './output';

/** Quotes a word for display the way a shell user would type it. */
function shellQuote(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

function writeTree(root: string, version: string): void {
  const file = (rel: string, content: string, mode = 0o644): void => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
    chmodSync(join(root, rel), mode);
  };
  file('usr/lib/os-release', `NAME="Canopy Demo OS"\nVERSION_ID=${version}\nPRETTY_NAME="Canopy Demo OS ${version}"\n`);
  file('usr/etc/hostname', 'canopy-demo\n');
  file('usr/etc/motd', `Welcome to Canopy Demo OS ${version}\n`);
  file('usr/bin/hello', `#!/bin/sh\necho "hello from ${version}"\n`, 0o755);
  file('usr/share/doc/demo/README', 'A tiny root filesystem for the Canopy walkthrough.\n'.repeat(50));
  file('usr/lib/firmware/blob.bin', 'firmware'.repeat(4096));
  mkdirSync(join(root, 'var'), { recursive: true });
  symlinkSync('usr/bin', join(root, 'bin'));
}

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'Walk through the repository workflow on a sample root filesystem',
  usage: '',
  description: 'Creates a temporary directory, builds a tiny root filesystem, and runs canopy\n'
    + 'commands on it (each printed before its output): init, commit, log, ls, cat, a second\n'
    + 'version, summary, checkout and fsck. Removes everything at the end unless --keep.',
  options: {
    keep: { type: 'boolean', help: 'Keep the temporary directory and print where it is' },
  },
  operands: [0, 0],
}, async (ctx, { values }) => {
  // Imported here: main imports this file, so a top-level import would be a cycle.
  const { main } = await import('./main');
  const work = mkdtempSync(join(tmpdir(), 'canopy-demo-'));
  const repo = join(work, 'repo');
  const say = (text: string): void => { ctx.io.stdout.write(`\n${text}\n`); };
  const run = async (...args: string[]): Promise<void> => {
    ctx.io.stdout.write(`$ canopy ${args.map(shellQuote).join(' ')}\n`);
    const io: CliIo = { ...ctx.io, cwd: work };
    const status = await main(['node', 'canopy', ...args], io);
    if (status !== 0) throw new Error(`canopy ${args.join(' ')} exited with status ${status}`);
  };
  try {
    say('1. An archive repository: what a build server publishes over plain HTTP.');
    await run('--repo=repo', 'init', '--mode=archive');
    writeTree(join(work, 'rootfs-1.0'), '1.0');
    say('2. Commit a root filesystem as version 1.0 of the branch demo/os.');
    await run('--repo=repo', 'commit', '-b', 'demo/os', '-s', 'Demo OS 1.0', '--add-metadata-string=version=1.0', '--tree=dir=rootfs-1.0');
    await run('--repo=repo', 'ls', '-R', 'demo/os', '/usr/bin', '/usr/etc');
    await run('--repo=repo', 'cat', 'demo/os', '/usr/lib/os-release');
    say('3. Version 1.1 changes two files; only the changed objects are stored again.');
    writeTree(join(work, 'rootfs-1.1'), '1.1');
    await run('--repo=repo', 'commit', '-b', 'demo/os', '-s', 'Demo OS 1.1', '--add-metadata-string=version=1.1', '--tree=dir=rootfs-1.1');
    await run('--repo=repo', 'log', 'demo/os');
    say('4. The summary is what devices read first: refs, commits, versions.');
    await run('--repo=repo', 'summary', '-u');
    await run('--repo=repo', 'summary', '--view');
    say('5. Check the tree out again, and verify every object in the repository.');
    await run('--repo=repo', 'checkout', 'demo/os', 'checkout');
    await run('--repo=repo', 'fsck');
    say(`The same repository works with the real ostree tool, e.g. ostree --repo=${values.keep ? repo : '<repo>'} log demo/os`);
  } finally {
    if (values.keep) ctx.io.stdout.write(`\nKept ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
  }
});
