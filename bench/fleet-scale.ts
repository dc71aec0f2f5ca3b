/**
 * Fleet scale: one Mosquitto broker, N simulated devices (default 500) in a
 * few child processes, and the operator's rollout controller in this
 * process, through a full rollout in four waves (1, 10, 50, 100 %).
 *
 * The devices are lightweight (test/helpers/lite-device.ts): each runs the
 * real device-side MQTT channel (signature checks, replay store, wave
 * placement, retained state, events) in front of a pretend installer that
 * takes 50-500 ms and always passes its health checks. What is measured:
 *
 * - announce -> all: from publishing the first announcement until every
 *   device's retained state names the new rollout (each device received,
 *   verified and placed itself);
 * - rollout: from that announcement until every device is seen healthy and
 *   the controller marks the rollout complete;
 * - lost reports: devices whose final state or whose health event never
 *   reached the operator (must be 0);
 * - operator RSS: the peak resident set of this process (controller, fleet
 *   view, MQTT client), sampled every 100 ms.
 *
 *   node --import tsx bench/fleet-scale.ts [--devices 500] [--procs 4]
 *
 * Needs mosquitto (Debian package mosquitto).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DeviceEvent } from '../agent/src/channel/index';
import {
  DEFAULT_POLICY, FleetView, newRollout, OperatorLink, operatorTrust, parseWaves, publishAnnouncement, runRolloutController,
  type ControlledAnnouncement,
} from '../agent/src/fleet/index';
import { generateEd25519KeyPair } from '../agent/src/sign/index';
import { LiteDevice, memoryStoreFs } from '../test/helpers/lite-device';
import { findMosquitto, startMosquitto } from '../test/helpers/mosquitto';

const OLD = '0'.repeat(64);
const NEW = 'f'.repeat(64);
const FLEET = 'bench';

async function child(): Promise<void> {
  const { url, pub, first, count, dir } = JSON.parse(process.argv[3]) as { url: string; pub: string; first: number; count: number; dir: string };
  const storeFs = memoryStoreFs();
  const devices: LiteDevice[] = [];
  for (let i = first; i < first + count; i++) {
    const d = await LiteDevice.create({
      url, fleet: FLEET, id: `dev-${String(i).padStart(5, '0')}`, channel: 'stable', trusted: [Buffer.from(pub, 'base64')], dir, storeFs,
      running: { commit: OLD, version: '1.0' }, installMs: 50 + Math.floor(Math.random() * 450),
    });
    devices.push(d);
    await d.start();
  }
  process.send!({ ready: count });
  process.on('message', async (m: { stop?: boolean }) => {
    if (!m.stop) return;
    for (const d of devices) await d.stop();
    process.send!({ stopped: true }, () => process.exit(0));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { devices: { type: 'string', default: '500' }, procs: { type: 'string', default: '4' } } });
  const n = Number(values.devices);
  const procs = Math.max(1, Math.min(Number(values.procs), n));
  if (!findMosquitto()) throw new Error('mosquitto is not installed (Debian package mosquitto)');
  const broker = await startMosquitto({ extraConfig: ['max_queued_messages 10000'] });
  const dir = mkdtempSync(join(tmpdir(), 'canopy-fleet-scale-'));
  const pair = generateEd25519KeyPair();
  const keys = { ed25519: [pair.secretKey] };
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 100);
  const children: ReturnType<typeof fork>[] = [];
  try {
    const t0 = Date.now();
    const per = Math.ceil(n / procs);
    await Promise.all(Array.from({ length: procs }, (_, p) => new Promise<void>((resolve, reject) => {
      const first = p * per;
      const count = Math.min(per, n - first);
      const c = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ url: broker.url, pub: pair.publicKey.toString('base64'), first, count, dir })], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
      children.push(c);
      c.once('message', () => resolve());
      c.once('exit', (code) => reject(new Error(`device process ${p} exited ${code}`)));
    })));
    console.log(`${n} devices connected in ${procs} processes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const link = await OperatorLink.connect({ url: broker.url, fleet: FLEET });
    const view = new FleetView();
    const health = new Set<string>();
    let events = 0;
    link.onState((s) => view.applyState(s));
    link.onEvent((e: DeviceEvent) => {
      events++;
      view.applyEvent(e);
      if (e.kind === 'health' && e.commit === NEW && e.result === 'pass') health.add(e.device);
    });
    await link.watchFleet();
    const seen = view.size;
    console.log(`operator sees ${seen} retained states`);

    const body: ControlledAnnouncement = {
      v: 1, type: 'announcement', fleet: FLEET, channel: 'stable', ref: 'bench/os', commit: NEW, version: '2.0',
      rollout: newRollout('scale-1', parseWaves('1,10,50,100'), { ...DEFAULT_POLICY, minSample: 3 }, Date.now()), created: '', expires: '',
    };
    const tAnnounce = Date.now();
    await publishAnnouncement(link, body, keys, { now: tAnnounce });
    const placed = (): number => view.states().filter((s) => s.rollout?.id === 'scale-1').length;
    while (placed() < n && Date.now() - tAnnounce < 120_000) await new Promise((r) => setTimeout(r, 20));
    const announceAll = (Date.now() - tAnnounce) / 1000;
    const waves: string[] = [];
    const result = await runRolloutController({
      link, channel: 'stable', keys, trust: await operatorTrust(keys), view, tickMs: 250, timeoutMs: 600_000,
      log: (l) => { if (/opening wave/.test(l)) waves.push(`${((Date.now() - tAnnounce) / 1000).toFixed(1)} s: ${l.replace(/^.*opening /, 'opened ')}`); },
    });
    const rollout = (Date.now() - tAnnounce) / 1000;
    const final = view.states();
    const healthy = final.filter((s) => s.running?.commit === NEW && s.lastHealth?.commit === NEW && s.lastHealth.result === 'pass').length;
    const lostStates = n - healthy;
    const lostHealth = n - health.size;
    console.log('');
    for (const w of waves) console.log(`  ${w}`);
    console.log('');
    console.log(`| measure | value |`);
    console.log(`| --- | --- |`);
    console.log(`| devices | ${n} (in ${procs} processes, one Mosquitto) |`);
    console.log(`| rollout result | ${result.status} |`);
    console.log(`| announce -> every device placed in its wave | ${announceAll.toFixed(2)} s |`);
    console.log(`| announce -> every device healthy, rollout complete (4 waves) | ${rollout.toFixed(2)} s |`);
    console.log(`| reports seen by the operator | ${events} events, ${final.length} states |`);
    console.log(`| lost reports | ${lostStates} final states, ${lostHealth} health events |`);
    console.log(`| operator peak RSS | ${(peakRss / 1048576).toFixed(1)} MiB (${(baseRss / 1048576).toFixed(1)} MiB before connecting, tsx loader included) |`);
    await link.close();
    if (lostStates !== 0 || lostHealth !== 0 || result.status !== 'complete') process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.send({ stop: true });
      setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
    })));
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') void child();
else main().catch((e) => {
  console.error(e);
  process.exit(1);
});
