/**
 * The fleet demo (`canopy demo`): a signed release, an MQTT broker and a
 * web server on loopback, a fleet of simulated devices running the real
 * agent, and then the operator's day: roll v2 out in health-gated waves;
 * publish a v3 whose health check fails, watch the first wave fall back
 * and the rollout pause itself, see why in `fleet status`; roll one device
 * back remotely. Every operator step is a real `canopy` command, printed
 * before its output. Nothing is left running: the caller's `cleanup`
 * stops every agent, the broker and the server.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError } from '../core/errors';
import { rolloutBucket } from '../channel/index';
import { FleetView, OperatorLink, serveDirectory, type StaticServer } from '../fleet/index';
import { readRef, Repo } from '../repo/index';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker';
import { writeDemoOsTree } from './os-tree';
import { failsWhenPresent, SimDevice } from './sim-device';

export interface FleetDemoOptions {
  /** Working directory (empty; the caller removes it). */
  work: string;
  devices: number;
  /** Use this broker instead of the embedded one. */
  brokerUrl?: string;
  agentBundle: string;
  /** Runs `canopy ARGS…` in the work directory, printing it; resolves to the exit status. */
  canopy: (args: string[], env: Record<string, string>) => Promise<number>;
  say: (text: string) => void;
  /** A line of progress (overwritten on a terminal). */
  note: (text: string) => void;
}

/** What a demo leaves to clean up. */
export interface DemoResources {
  devices: SimDevice[];
  broker?: EmbeddedBroker;
  server?: StaticServer;
  link?: OperatorLink;
}

const FLEET = 'demo';
const CHANNEL = 'stable';
const REF = 'demo/os';
const BROKEN = 'usr/lib/demo/broken';

/** A rollout id whose waves each hold at least one of `ids` (the canary exactly `canary` of them when possible). */
export function pickRolloutId(prefix: string, ids: readonly string[], waves: readonly number[], canary: number): string {
  let fallback = `${prefix}-0`;
  for (let i = 0; i < 500; i++) {
    const id = `${prefix}-${i}`;
    const counts = waves.map(() => 0);
    for (const d of ids) {
      const b = rolloutBucket(id, d);
      const w = waves.findIndex((p) => Math.round(b * 100) < Math.round(p * 100));
      if (w >= 0) counts[w]++;
    }
    if (counts.every((c) => c > 0)) {
      if (counts[0] === canary) return id;
      fallback = id;
    }
  }
  return fallback;
}

async function until(what: string, pred: () => boolean, timeoutMs: number, devices: readonly SimDevice[]): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) {
      const tails = devices.map((d) => `--- ${d.spec.id}\n${d.tail(8)}`).join('\n');
      throw new CanopyError('ERR_TIMEOUT', `the demo timed out waiting for ${what}; the agents' last log lines:\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs the demo. Resources are added to `res` as they start, so the caller
 * can clean up after a failure or an interrupt.
 *
 * @throws ERR_TIMEOUT when the fleet does not do what the demo expects in time; CanopyError from the commands.
 */
export async function runFleetDemo(o: FleetDemoOptions, res: DemoResources): Promise<void> {
  const { work, say } = o;
  const ids = Array.from({ length: o.devices }, (_, i) => `dev-${i + 1}`);
  const must = async (args: string[], env: Record<string, string> = {}, expect = 0): Promise<void> => {
    const status = await o.canopy(args, env);
    if (status !== expect) throw new CanopyError('ERR_INVALID_ARGUMENT', `canopy ${args.join(' ')} exited ${status}, the demo expected ${expect}`);
  };

  say('Act 1. A signed release: keys, then the first version committed, signed and summarised in one step.');
  await must(['init', '--repo=repo', '--mode=archive']);
  await must(['keys', 'generate', '--type=ed25519', '--output=keys', '--name=operator']);
  writeDemoOsTree(join(work, 'rootfs-1.0'), { version: '1.0' });
  await must(['publish', '--repo=repo', `--branch=${REF}`, '--tree=dir=rootfs-1.0', '--version=1.0', '--canonical-permissions', '--sign-key=keys/operator.secret']);
  const v1 = readRef(Repo.open(join(work, 'repo')), REF)!;

  say(`Act 2. The infrastructure on loopback: ${o.brokerUrl ? `the broker at ${o.brokerUrl}` : 'an embedded MQTT broker'}, a web server for the repository, and ${o.devices} simulated devices running the real agent.`);
  let brokerUrl = o.brokerUrl;
  if (!brokerUrl) {
    res.broker = await startEmbeddedBroker();
    brokerUrl = res.broker.url;
  }
  res.server = await serveDirectory({ root: join(work, 'repo') });
  o.note(`broker ${brokerUrl}, repository ${res.server.url}`);
  say(`  broker:     ${brokerUrl}\n  repository: ${res.server.url}`);
  const env = { CANOPY_FLEET: FLEET, CANOPY_BROKER: brokerUrl, CANOPY_SIGN_KEY: join(work, 'keys/operator.secret'), XDG_STATE_HOME: join(work, 'operator-state') };
  res.link = await OperatorLink.connect({ url: brokerUrl, fleet: FLEET });
  const view = new FleetView();
  res.link.onState((s) => view.applyState(s));
  await res.link.watchFleet({ events: false });
  for (const id of ids) {
    o.note(`provisioning ${id}: sysroot, boot-loader env, release 1.0 pulled and deployed, first boot`);
    mkdirSync(join(work, 'devices', id), { recursive: true });
    const dev = await SimDevice.provision({
      dir: join(work, 'devices', id), id, fleet: FLEET, channel: CHANNEL, tags: [id === ids[ids.length - 1] ? 'lab' : 'field'],
      repoUrl: res.server.url, ref: REF, commitKeyFile: join(work, 'keys/operator.pub'), messageKeyFile: join(work, 'keys/operator.pub'),
      brokerUrl, commit: v1, agentBundle: o.agentBundle, checks: { '50-app-responds': failsWhenPresent(BROKEN, 'the demo app does not answer') },
    });
    res.devices.push(dev);
    dev.start();
  }
  const online = (commit: string): number => view.states().filter((s) => s.online && s.running?.commit === commit).length;
  await until('every device to come online on 1.0', () => online(v1) === ids.length, 120_000, res.devices);
  o.note('');
  await must(['fleet', 'status'], env);

  say('Act 3. Version 2.0: published with a static delta from 1.0 and announced in three waves; the controller opens each wave only when the devices so far are healthy.');
  writeDemoOsTree(join(work, 'rootfs-2.0'), { version: '2.0', files: { 'usr/share/demo/feature': 'new in 2.0\n' } });
  const id2 = pickRolloutId('demo-2.0', ids, [20, 50, 100], 1);
  await must(['publish', '--repo=repo', `--branch=${REF}`, '--tree=dir=rootfs-2.0', '--version=2.0', '--canonical-permissions', `--delta-from=${REF}`, `--channel=${CHANNEL}`,
    '--waves=canary:20,half:50,all:100', `--rollout-id=${id2}`], env);
  const v2 = readRef(Repo.open(join(work, 'repo')), REF)!;
  await must(['rollout', 'start', `--channel=${CHANNEL}`, '--timeout=300'], env);
  await until('every device to run 2.0', () => online(v2) === ids.length, 60_000, res.devices);
  await must(['fleet', 'status'], env);

  say(`Act 4. Version 3.0 breaks the app: its health check fails after the reboot. The canary wave installs it, fails its checks, and the boot loader falls back to 2.0; the controller pauses the rollout by itself and the other devices never see 3.0.`);
  writeDemoOsTree(join(work, 'rootfs-3.0'), { version: '3.0', files: { [BROKEN]: 'this release does not work\n' } });
  const id3 = pickRolloutId('demo-3.0', ids, [20, 50, 100], 1);
  await must(['publish', '--repo=repo', `--branch=${REF}`, '--tree=dir=rootfs-3.0', '--version=3.0', '--canonical-permissions', `--delta-from=${REF}`, `--channel=${CHANNEL}`,
    '--waves=canary:20,half:50,all:100', `--rollout-id=${id3}`, '--max-failure-rate=10'], env);
  await must(['rollout', 'start', `--channel=${CHANNEL}`, '--timeout=300'], env, 1);
  const v3 = readRef(Repo.open(join(work, 'repo')), REF)!;
  const canaries = ids.filter((id) => rolloutBucket(id3, id) < 20);
  o.note(`waiting for ${canaries.join(', ')} to fall back to 2.0 and report why`);
  await until('the canary wave to fall back to 2.0', () => canaries.every((id) => view.states().some((s) => s.device === id && s.online
    && s.running?.commit === v2 && s.lastRollback?.from === v3)), 180_000, res.devices);
  o.note('');
  await must(['rollout', 'status', `--channel=${CHANNEL}`], env);
  await must(['fleet', 'status'], env);
  const rolledBack = canaries;

  say('Act 5. A field engineer rolls one device back to 1.0 remotely: a signed command with a nonce and an expiry; the device acknowledges it, reboots into its previous deployment and reports.');
  const target = ids.find((id) => !rolledBack.includes(id)) ?? ids[0];
  await must(['fleet', 'rollback', `--device=${target}`, '--reason=customer asked for 1.0', '--wait-done', '--timeout=120'], env);
  await until(`${target} to run 1.0`, () => view.states().some((s) => s.device === target && s.online && s.running?.commit === v1), 120_000, res.devices);
  await must(['fleet', 'status'], env);
  say(`Done: ${ids.length - 1} devices run 2.0 (the 3.0 rollout is paused: see "rollout status" above), ${target} runs 1.0 as asked. Try "canopy rollout resume" or "canopy rollout abort --revert" next time.`);
}

/** Stops every agent, then the link, server and broker. Never throws. */
export async function stopDemo(res: DemoResources): Promise<void> {
  await Promise.all(res.devices.map((d) => d.stop().catch(() => undefined)));
  await res.link?.close().catch(() => undefined);
  await res.server?.close().catch(() => undefined);
  await res.broker?.close().catch(() => undefined);
}
