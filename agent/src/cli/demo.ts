/**
 * `canopy demo`: the fleet demo (agent/src/dev/fleet-demo.ts): a signed
 * release, an embedded broker and a web server on loopback, simulated
 * devices running the real agent, a rollout in health-gated waves, a bad
 * release that pauses itself, and a remote rollback. `--walkthrough` is the
 * shorter repository tour instead: real `canopy` commands on a sample root
 * filesystem (init, commit two versions, log, ls, cat, summary, checkout,
 * fsck). Every command is printed before its output; everything runs in a
 * temporary directory that is removed at the end (unless --keep), and
 * every process the demo started is stopped, on SIGINT too.
 */
import { existsSync, chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CanopyError } from '../core/errors';
import type { DemoResources } from '../dev/index';
import { intOption } from './cli-args';
import { defineCommand, type RunContext } from './command';
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
  summary: 'The fleet demo: publish, roll out in waves, a bad release pauses itself, a remote rollback',
  usage: '',
  description: 'Runs in a temporary directory: an archive repository with a signed release, an embedded MQTT broker\n'
    + '(or --broker) and a web server on loopback, and --devices simulated devices (real sysroots, the real\n'
    + 'agent, simulated reboots). Then: 2.0 rolled out in waves; 3.0, whose health check fails, falls back\n'
    + 'on the first wave and the rollout pauses; one device rolled back remotely. Takes a few minutes.\n'
    + '--walkthrough shows the repository commands only (init, commit, log, ls, cat, summary, checkout, fsck).',
  options: {
    keep: { type: 'boolean', help: 'Keep the temporary directory and print where it is' },
    walkthrough: { type: 'boolean', help: 'Only the repository walkthrough (no fleet)' },
    devices: { type: 'string', value: 'N', help: 'Simulated devices (default 6, 2..12)' },
    broker: { type: 'string', value: 'URL', help: 'Use this MQTT broker instead of the embedded one' },
  },
  operands: [0, 0],
}, async (ctx, { values }) => {
  if (values.walkthrough) return walkthrough(ctx, Boolean(values.keep));
  const devices = intOption('demo', 'devices', values.devices, 2, 12) ?? 6;
  const agentBundle = ctx.io.env.CANOPY_AGENT_BUNDLE ?? join(dirname(resolve(process.argv[1] ?? '.')), 'canopy-agent.cjs');
  if (!existsSync(agentBundle)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `the device agent ${agentBundle} is missing: build it first (npm run build), or set CANOPY_AGENT_BUNDLE`);
  }
  // Loaded on demand: the rest of the CLI does not need the agent and sysroot code.
  const { main } = await import('./main');
  const { removeDeviceDirs, runFleetDemo, stopDemo } = await import('../dev/index');
  const work = mkdtempSync(join(tmpdir(), 'canopy-demo-'));
  const res: DemoResources = { devices: [] };
  const tty = ctx.io.stderr.isTTY === true;
  const say = (text: string): void => { ctx.io.stdout.write(`\n${text}\n`); };
  const note = (text: string): void => { if (tty) ctx.io.stderr.write(`\r\x1b[K${text.slice(0, (ctx.io.stderr.columns ?? 100) - 1)}`); };
  // Whatever happens, no agent outlives the demo.
  const killAll = (): void => { for (const d of res.devices) d.killNow(); };
  process.once('exit', killAll);
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    ctx.io.stderr.write('\ninterrupted: stopping the devices, the broker and the server\n');
    void stopDemo(res).finally(() => {
      if (!values.keep) removeDeviceDirs(work);
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await runFleetDemo({
      work, devices, brokerUrl: values.broker, agentBundle, say, note,
      canopy: async (args, env) => {
        note('');
        ctx.io.stdout.write(`\n$ canopy ${args.map(shellQuote).join(' ')}\n`);
        return main(['node', 'canopy', ...args], { ...ctx.io, cwd: work, env: { ...ctx.io.env, ...env } });
      },
    }, res);
  } finally {
    note('');
    if (!interrupted) {
      await stopDemo(res);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', killAll);
      if (values.keep) ctx.io.stdout.write(`\nKept ${work}\n`);
      else removeDeviceDirs(work);
    }
  }
});

async function walkthrough(ctx: RunContext, keep: boolean): Promise<void> {
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
    say(`The same repository works with the real ostree tool, e.g. ostree --repo=${keep ? repo : '<repo>'} log demo/os`);
  } finally {
    if (keep) ctx.io.stdout.write(`\nKept ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
  }
}
