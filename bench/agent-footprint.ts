/**
 * The device agent's footprint: the size of dist/canopy-agent.cjs, the resident
 * memory of the running daemon while it is connected and waiting, and its peak
 * while it pulls and deploys a root filesystem, next to the peak of `ostree pull`
 * fetching the same commit from the same server in the same run.
 *
 *   node --import tsx bench/agent-footprint.ts --tree DIR [--base DIR] [--delta] [--idle-only] [--settle S] [--work DIR]
 *
 * --tree is the root filesystem to update to (v2); --base the one the device
 * runs first (v1; default: a small generated tree, so the update is a full
 * pull). Each is made bootable in a hardlink copy (`etc` moved to `usr/etc`, a
 * dummy kernel). --delta also generates a static delta base -> tree with
 * `ostree static-delta generate`. Idle memory is sampled just after the
 * agent connects and again after --settle seconds (default 20), when V8 has
 * returned start-up garbage; --idle-only stops there. The device is a simulated one
 * (test/helpers/sim-device.ts) with a real Mosquitto broker; needs root,
 * mosquitto and ostree. Goals: bundle < 2 MB, idle RSS < 60 MB, peak < 150 MB.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startMosquitto } from '../test/helpers/mosquitto';
import { AGENT_BUNDLE, SimDevice, ensureAgentBuilt } from '../test/helpers/sim-device';
import { SimFleet } from '../test/helpers/sim-repo';
import { removeScratch } from '../test/helpers/sysroot-fixture';
import { sh, workDir } from './lib';

const { values } = parseArgs({ options: { tree: { type: 'string' }, base: { type: 'string' }, delta: { type: 'boolean' }, 'idle-only': { type: 'boolean' }, settle: { type: 'string' }, work: { type: 'string' } } });
if (!values.tree) throw new Error('usage: bench/agent-footprint.ts --tree DIR [--base DIR] [--delta] [--idle-only] [--settle S] [--work DIR]');
const settleSeconds = Number(values.settle ?? 20);
if (process.getuid?.() !== 0) throw new Error('the simulated device has a bare repository: run as root');

const MB = 1024 * 1024;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** VmRSS and VmHWM of a process, bytes (undefined once it is gone). */
function memory(pid: number | undefined): { rss: number; hwm: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** The `Environment=` settings of the agent's unit: the bench runs the agent as the device does. */
function unitEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  const unit = readFileSync(resolve('device/systemd/canopy-agent.service'), 'utf8');
  for (const m of unit.matchAll(/^Environment=(?:"([^"]*)"|(\S+))$/gm)) {
    const kv = m[1] ?? m[2];
    env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  }
  return env;
}

/** A bootable hardlink copy of `src` (or a small generated tree). */
function bootable(work: string, name: string, src: string | undefined): string {
  const dir = join(work, name);
  if (src) sh(['cp', '-al', resolve(src), dir]);
  else {
    mkdirSync(join(dir, 'usr/bin'), { recursive: true });
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'usr/bin/hello'), '#!/bin/sh\necho hello\n');
    writeFileSync(join(dir, 'etc/hostname'), 'bench\n');
  }
  if (existsSync(join(dir, 'etc')) && !existsSync(join(dir, 'usr/etc'))) renameSync(join(dir, 'etc'), join(dir, 'usr/etc'));
  mkdirSync(join(dir, 'usr/lib/modules/6.1.0'), { recursive: true });
  writeFileSync(join(dir, 'usr/lib/modules/6.1.0/vmlinuz'), `kernel of ${name}\n`);
  if (!existsSync(join(dir, 'usr/lib/os-release'))) writeFileSync(join(dir, 'usr/lib/os-release'), 'ID=bench\n');
  return dir;
}

async function main(): Promise<void> {
  ensureAgentBuilt();
  const work = workDir(values.work, 'canopy-agent-footprint-');
  const broker = await startMosquitto();
  const fleet = await SimFleet.create(join(work, 'fleet'));
  let device: SimDevice | undefined;
  try {
    const v1 = await fleet.publish({ version: '1', tree: bootable(work, 'base', values.base) });
    const v2 = await fleet.publish({ version: '2', tree: bootable(work, 'tree', values.tree), delta: values.delta === true });
    device = await SimDevice.provision({ dir: join(work, 'device'), id: 'bench-1', fleet, commit: v1.commit, brokerUrl: broker.url, config: { logLevel: 'info' } });
    const env = { ...unitEnvironment(), ...(process.env.AGENT_NODE_OPTIONS !== undefined ? { NODE_OPTIONS: process.env.AGENT_NODE_OPTIONS } : {}) };
    device.start({ env });
    await device.waitForLog(/^channel connected$/);
    await device.waitForPhase('idle', { running: v1.commit });
    // Sampled right after connecting and again after --settle seconds: V8 hands back
    // more memory once the process has been quiet for a while.
    const samples = async (): Promise<number> => {
      const rss: number[] = [];
      for (let i = 0; i < 30; i++) {
        await sleep(100);
        const m = memory(device!.pid);
        if (m) rss.push(m.rss);
      }
      return median(rss);
    };
    const idleEarly = await samples();
    await sleep(Math.max(0, settleSeconds * 1000 - 3000));
    const idleSettled = await samples();
    if (values['idle-only']) {
      console.log(`idle RSS (median of 30 samples): ${(idleEarly / MB).toFixed(1)} MiB just after connecting, ${(idleSettled / MB).toFixed(1)} MiB after ${settleSeconds} s`);
      return;
    }
    await fleet.announce(broker.url, { commit: v2.commit, version: '2' });
    let peak = 0;
    const t0 = Date.now();
    while (device.exits.length === 0) {
      const m = memory(device.pid);
      if (m) peak = Math.max(peak, m.hwm, m.rss);
      await sleep(50);
      if (Date.now() - t0 > 30 * 60_000) throw new Error(`no reboot after 30 min:\n${device.tail(20)}`);
    }
    const seconds = (Date.now() - t0) / 1000;
    const pulled = device.logs.find((l) => l.msg === `pulled ${v2.commit}`);
    await device.waitForPhase('idle', { running: v2.commit, timeoutMs: 10 * 60_000 });

    // The same commit pulled by ostree from the same server, for scale.
    const ref = join(work, 'ostree-repo');
    sh(['ostree', `--repo=${ref}`, 'init', '--mode=bare']);
    sh(['ostree', `--repo=${ref}`, 'remote', 'add', '--no-gpg-verify', 'bench', fleet.url]);
    // Asynchronously: the repository server runs in this process.
    const stderr = await new Promise<string>((resolveRun, reject) => {
      const c = spawn('/usr/bin/time', ['-f', '%M %e', 'ostree', `--repo=${ref}`, 'pull', 'bench', `${fleet.ref}@${v2.commit}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      c.once('error', reject);
      c.once('exit', (code) => (code === 0 ? resolveRun(err) : reject(new Error(`ostree pull failed: ${err}`))));
    });
    const [ostreeKb, ostreeSec] = stderr.trim().split('\n').pop()!.split(' ').map(Number);

    const bundle = statSync(AGENT_BUNDLE).size;
    const row = (what: string, value: string, goal: string): string => `| ${what} | ${value} | ${goal} |`;
    console.log([
      `| agent footprint (${v2.deltaMade ? 'static delta' : 'object pull'} of ${values.tree}; ${JSON.stringify(env)}) | measured | goal |`,
      '| --- | --- | --- |',
      row('bundle dist/canopy-agent.cjs', `${(bundle / MB).toFixed(2)} MiB`, '< 2 MiB'),
      row(`idle RSS (connected, waiting ${settleSeconds} s; median of 30 samples)`, `${(idleSettled / MB).toFixed(1)} MiB`, '< 60 MiB'),
      row('idle RSS just after connecting', `${(idleEarly / MB).toFixed(1)} MiB`, ''),
      row('peak RSS (pull + deploy, VmHWM)', `${(peak / MB).toFixed(1)} MiB`, '< 150 MiB'),
      row('update to the reboot request', `${seconds.toFixed(1)} s, ${pulled?.bytes ?? '?'} bytes, ${pulled?.objects ?? '?'} objects`, ''),
      row('ostree pull of the same commit: peak RSS', `${(ostreeKb / 1024).toFixed(1)} MiB (${ostreeSec} s); agent/ostree ${(peak / 1024 / ostreeKb).toFixed(2)}`, ''),
    ].join('\n'));
  } finally {
    await device?.close();
    await fleet.close();
    await broker.close();
    removeScratch(work);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
