/**
 * The built device agent (`dist/canopy-agent.cjs run`) end to end: simulated
 * devices (test/helpers/sim-device.ts) with real sysroots and boot-loader
 * envs, a real Mosquitto broker, a local HTTP repository with signed
 * commits and static deltas, and reboots simulated with the boot contract's
 * model. Covers the update and its report, a failed health check and the
 * boot loader's fallback, a commanded rollback, polling without a broker,
 * kills in every phase, a broker restart and a failing server during a
 * download, and hostile messages.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEnvelope, signMessage, buildCommand } from '../../agent/src/channel/index';
import { generateEd25519KeyPair } from '../../agent/src/sign/index';
import { findMosquitto, freePort, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { SimDevice, ensureAgentBuilt, failingCheck, type SimDeviceOptions } from '../helpers/sim-device';
import { SimFleet, type DeviceWatch, type Published } from '../helpers/sim-repo';
import { removeScratch } from '../helpers/sysroot-fixture';

const ostreePresent = (): boolean => existsSync('/usr/bin/ostree') || existsSync('/usr/local/bin/ostree');

describe('canopy-agent run (the built bundle, simulated devices)', function () {
  this.timeout(120_000);
  let dir = '';
  let broker: Mosquitto;
  let fleet: SimFleet;
  let v1: Published;
  let v2: Published;
  const devices: SimDevice[] = [];
  const watches: DeviceWatch[] = [];

  before(async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: the sysroot repository is a bare repository, which needs root');
      this.skip();
    }
    if (!findMosquitto()) {
      console.log('      skipped: mosquitto is not installed (Debian package mosquitto)');
      this.skip();
    }
    ensureAgentBuilt();
    dir = mkdtempSync(join(tmpdir(), 'canopy-e2e-agent-'));
    broker = await startMosquitto();
    fleet = await SimFleet.create(join(dir, 'fleet'));
    v1 = await fleet.publish({ version: '1.0' });
    v2 = await fleet.publish({ version: '2.0', delta: ostreePresent(), files: { 'usr/share/app/data': 'new data\n'.repeat(1000) } });
  });

  after(async () => {
    for (const d of devices) await d.close();
    for (const w of watches) await w.close().catch(() => undefined);
    await fleet?.close();
    await broker?.close();
    if (dir) removeScratch(dir);
  });

  afterEach(() => fleet?.server.clearFaults());

  async function device(id: string, extra: Partial<SimDeviceOptions> = {}): Promise<SimDevice> {
    const d = await SimDevice.provision({ dir: join(dir, id), id, fleet, commit: v1.commit, brokerUrl: broker.url, ...extra });
    devices.push(d);
    return d;
  }

  async function watch(id: string): Promise<DeviceWatch> {
    const w = await fleet.watch(broker.url, id);
    watches.push(w);
    return w;
  }

  /** No commit is listed twice, at most two deployments, and no deployment directory outside the list. */
  function assertDeployments(d: SimDevice, expected: string[]): void {
    const { listed, dirs } = d.deployments();
    assert.deepEqual(listed.map((x) => x.commit), expected, 'deployments, default first');
    assert.equal(dirs.length, listed.length, `no stray deployment directory: ${dirs.join(', ')}`);
  }

  it('(a) a signed announcement: verified pull (delta), deployment, reboot, health pass, confirmed and reported', async () => {
    const d = await device('dev-a');
    const w = await watch('dev-a');
    d.start();
    await d.waitForPhase('idle', { running: v1.commit });
    await w.waitFor('the online state', () => w.latestState()?.online === true);
    await fleet.announce(broker.url, { commit: v2.commit, version: '2.0' });
    await d.waitForPhase('idle', { running: v2.commit });
    await w.waitFor('the confirmed state', () => (w.latestState()?.running as { commit?: string } | undefined)?.commit === v2.commit && w.latestState()?.phase === 'idle'
      && w.latestState()?.rollout !== null);
    assert.ok(w.states.some((x) => x.phase === 'rebooting' && x.online === true), 'the rebooting state went out before the reboot');
    const st = w.latestState()!;
    assert.deepEqual(st.running, { commit: v2.commit, ref: fleet.ref, version: '2.0' });
    assert.equal((st.lastHealth as { result: string }).result, 'pass');
    assert.equal(st.pending, null);
    assert.deepEqual((st.rollout as { id: string }).id, 'r-2.0');
    const phases = w.eventsOf('progress').map((e) => e.phase);
    for (const p of ['downloading', 'deploying', 'staged', 'rebooting', 'verifying', 'confirmed']) assert.ok(phases.includes(p), `progress ${p} in ${phases.join(',')}`);
    assert.deepEqual(w.eventsOf('health').map((e) => e.result), ['pass']);
    assert.deepEqual(d.exits, [10], 'one simulated reboot');
    const pulled = d.logs.find((l) => l.msg === `pulled ${v2.commit}`)!;
    assert.equal(pulled.verified, true, 'the commit was verified by the trust policy');
    if (v2.deltaMade) {
      assert.equal(pulled.deltas, 1, 'the static delta was used');
      assert.ok(d.logs.some((l) => /^static delta .* applied$/.test(l.msg)));
    }
    assertDeployments(d, [v2.commit, v1.commit]);
    assert.equal(d.boots[d.boots.length - 1].env.upgrade_available, '1', 'the new deployment booted on trial');
    assert.deepEqual((await d.bootState()).summary, { trial: false, fallback: false, healthFailed: false }, 'and the trial was confirmed');
  });

  it('(c) a signed remote rollback command: the device goes back and reports it', async () => {
    const d = devices.find((x) => x.o.id === 'dev-a')!;
    const w = watches[0];
    // The announcement would offer v2 again after the rollback; the operator withdraws it first.
    await fleet.clearAnnouncement(broker.url);
    const nonce = await fleet.command(broker.url, 'dev-a', { kind: 'rollback', args: { reason: 'field report' } });
    await d.waitForPhase('idle', { running: v1.commit });
    await w.waitFor('the rollback event', () => w.eventsOf('rollback').length > 0);
    assert.deepEqual(w.eventsOf('rollback').map((e) => [e.from, e.to, e.reason]), [[v2.commit, v1.commit, 'remote-command']]);
    await w.waitFor('ack done', () => w.eventsOf('ack').some((e) => e.nonce === nonce && e.status === 'done'));
    assert.deepEqual(w.eventsOf('ack').filter((e) => e.nonce === nonce).map((e) => e.status), ['accepted', 'done']);
    assert.equal((d.state()!.lastRollback as { reason: string }).reason, 'remote-command');
    assertDeployments(d, [v1.commit, v2.commit]);
  });

  it('(e) forged, replayed, expired and malformed commands are refused and reported, never acted on', async () => {
    const d = devices.find((x) => x.o.id === 'dev-a')!;
    const w = watches[0];
    const topic = fleet.topics().deviceCommands('dev-a');
    const good = await fleet.commandEnvelope('dev-a', { kind: 'report-inventory' });
    await fleet.publishRaw(broker.url, topic, encodeEnvelope(good.envelope));
    await w.waitFor('the inventory ack', () => w.eventsOf('ack').some((e) => e.nonce === good.nonce && e.status === 'done'));
    assert.ok(w.eventsOf('inventory').length > 0);
    // The same envelope again: replayed.
    await fleet.publishRaw(broker.url, topic, encodeEnvelope(good.envelope));
    // Signed by a key the device does not trust.
    const stranger = generateEd25519KeyPair();
    const forged = await signMessage('command', buildCommand({ fleet: fleet.fleet, target: { device: 'dev-a' }, kind: 'reboot', args: { force: true } }), { ed25519: [stranger.secretKey] });
    await fleet.publishRaw(broker.url, topic, encodeEnvelope(forged));
    // A trusted signature over other bytes.
    const tampered = await fleet.commandEnvelope('dev-a', { kind: 'reboot', args: { force: true } });
    await fleet.publishRaw(broker.url, topic, encodeEnvelope({ ...tampered.envelope, payload: tampered.envelope.payload.replace('"reboot"', '"rollback"') }));
    // Expired an hour ago.
    const old = await fleet.commandEnvelope('dev-a', { kind: 'reboot', created: new Date(Date.now() - 2 * 3600_000), ttlSeconds: 3600 });
    await fleet.publishRaw(broker.url, topic, encodeEnvelope(old.envelope));
    await fleet.publishRaw(broker.url, topic, '{"v":1,"type":"command","payload":');
    await w.waitFor('five rejections', () => w.eventsOf('rejected').length >= 5);
    const reasons = w.eventsOf('rejected').map((e) => e.reason).sort();
    assert.deepEqual(reasons, ['bad-signature', 'expired', 'malformed', 'replayed', 'unknown-key']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.state()!.phase.name, 'idle', 'nothing was acted on');
    assert.ok(d.running, 'no reboot happened');
    assert.equal(w.eventsOf('ack').filter((e) => e.nonce !== good.nonce && e.command !== 'rollback').length, 0, 'no refused message was acknowledged');
  });

  it('(b) a failing required check: mark bad, fallback, rollback reported with the check and its output, not retried', async () => {
    const d = await device('dev-b', { checks: { '50-app': failingCheck('app cannot reach its database') } });
    const w = await watch('dev-b');
    d.start();
    await d.waitForPhase('idle', { running: v1.commit });
    await fleet.announce(broker.url, { commit: v2.commit, version: '2.0' });
    await w.waitFor('the rollback event', () => w.eventsOf('rollback').length > 0);
    await d.waitForPhase('idle', { running: v1.commit });
    const rb = w.eventsOf('rollback')[0];
    assert.equal(rb.from, v2.commit);
    assert.equal(rb.to, v1.commit);
    assert.equal(rb.reason, 'health-failed');
    assert.match(String(rb.detail), /50-app exited with status 1: app cannot reach its database/);
    assert.deepEqual(w.eventsOf('health').map((e) => e.result), ['fail']);
    const st = d.state()!;
    assert.equal(st.lastRollback?.reason, 'health-failed');
    assert.deepEqual(st.lastHealth?.failed, ['50-app']);
    assert.deepEqual(d.exits, [10, 10], 'reboot into the trial, reboot after mark-bad');
    assert.equal(d.boots[d.boots.length - 1].entry, 1, 'the boot loader fell back to the previous entry');
    assertDeployments(d, [v1.commit]);
    const rejected = JSON.parse(readFileSync(join(d.paths.state, 'health/rejected-commits.json'), 'utf8'));
    assert.deepEqual(rejected.rejected.map((r: { commit: string }) => r.commit), [v2.commit]);
    // Offered again: not taken.
    const pulls = d.logs.filter((l) => l.msg === 'idle -> downloading').length;
    await fleet.announce(broker.url, { commit: v2.commit, version: '2.0', rolloutId: 'r-2.0-again' });
    await d.waitForLog(new RegExp(`not taking ${v2.commit}: .*rejected`), { fromRun: d.run });
    assert.equal(d.logs.filter((l) => l.msg === 'idle -> downloading').length, pulls);
    await fleet.clearAnnouncement(broker.url);
  });

  it('(d) with the broker down, polling finds and installs the update', async () => {
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    const d = await device('dev-d', { brokerUrl: dead });
    d.start();
    await d.waitForPhase('idle', { running: v2.commit, timeoutMs: 90_000 });
    assert.ok(d.logs.some((l) => /^poll: .* is now /.test(l.msg)));
    assert.equal(d.state()!.lastHealth?.result, 'pass');
    assertDeployments(d, [v2.commit, v1.commit]);
  });

  it('(e) killed in every phase, the agent resumes: the update completes with no lost or duplicated deployment', async () => {
    await fleet.announce(broker.url, { commit: v2.commit, version: '2.0', rolloutId: 'r-kill' });
    const phases = ['idle', 'downloading', 'deploying', 'staged', 'rebooting', 'verifying'] as const;
    await Promise.all(phases.map(async (phase) => {
      const d = await device(`kill-${phase}`);
      d.start({ holdIn: phase, holdSticky: true });
      await d.waitForLog(new RegExp(`holding in phase ${phase}`));
      assert.equal(d.state()!.phase.name, phase);
      if (phase === 'deploying' || phase === 'staged') await d.powerCut();
      else {
        await d.kill();
        d.start();
      }
      await d.waitForPhase('idle', { running: v2.commit, timeoutMs: 90_000 });
      assertDeployments(d, [v2.commit, v1.commit]);
    }));
  });

  it('(e) killed while rolling back or waiting to retry, the agent resumes', async () => {
    const rb = await device('kill-rolling-back', { checks: { '50-app': failingCheck('still broken') } });
    rb.start({ holdIn: 'rolling-back', holdSticky: true });
    await rb.waitForLog(/holding in phase rolling-back/);
    const fl = await device('kill-failed');
    const stopFaults = fleet.server.addFault({ match: /^\/(objects|deltas)\//, status: 500 });
    fl.start({ holdIn: 'failed' });
    await fl.waitForLog(/holding in phase failed/);
    assert.equal(fl.state()!.lastError?.code, 'ERR_HTTP_STATUS', 'the failed attempt is recorded with its code');
    stopFaults();
    await rb.kill();
    rb.start();
    await fl.kill();
    fl.start();
    await Promise.all([rb.waitForPhase('idle', { running: v1.commit, timeoutMs: 90_000 }), fl.waitForPhase('idle', { running: v2.commit, timeoutMs: 90_000 })]);
    assert.equal(rb.state()!.lastRollback?.reason, 'health-failed');
    assertDeployments(rb, [v1.commit]);
    assertDeployments(fl, [v2.commit, v1.commit]);
  });

  it('(e) killed while checking (a check-now command), the agent checks again and installs', async () => {
    await fleet.clearAnnouncement(broker.url);
    const d = await device('kill-checking');
    d.start({ holdIn: 'checking' });
    await d.waitForLog(/channel connected/);
    await fleet.command(broker.url, 'kill-checking', { kind: 'check-now' });
    await d.waitForLog(/holding in phase checking/);
    await d.kill();
    d.start();
    await d.waitForPhase('idle', { running: v2.commit });
    assertDeployments(d, [v2.commit, v1.commit]);
  });

  it('a staged deployment (--staged) on a GRUB device: finalized at the simulated shutdown, then verified and confirmed', async () => {
    await fleet.announce(broker.url, { commit: v2.commit, version: '2.0', rolloutId: 'r-staged' });
    const d = await device('dev-grub', { loader: 'grub' });
    d.start({ staged: true });
    await d.waitForPhase('idle', { running: v2.commit });
    assert.equal(d.boots[1].finalized, true, 'the staged deployment was finalized at shutdown');
    assert.equal(d.boots[1].entry, 0);
    assert.ok(d.logs.some((l) => /\(staged: finalized at shutdown\)/.test(l.msg)));
    assertDeployments(d, [v2.commit, v1.commit]);
    assert.deepEqual((await d.bootState()).summary, { trial: false, fallback: false, healthFailed: false });
    await fleet.clearAnnouncement(broker.url);
  });

  it('run --once without a broker: resumes, polls once, installs, and exits 0 after the confirming boot', async () => {
    const d = await device('dev-once', { brokerUrl: undefined });
    d.start({ once: true });
    await d.waitFor('a clean exit after the update', () => d.exits.includes(0) && !d.running);
    assert.deepEqual(d.exits, [10, 0]);
    assert.equal(d.state()!.running?.commit, v2.commit);
    assert.equal(d.state()!.phase.name, 'idle');
  });

  it('(e) a broker restart mid-download and a server answering 500 then recovering do not stop the update', async () => {
    await fleet.clearAnnouncement(broker.url);
    const d = await device('dev-e');
    d.start();
    await d.waitForPhase('idle', { running: v1.commit });
    // The server fails every object and delta request at first; once it recovers, it is slow.
    const failing = fleet.server.addFault({ match: /^\/(objects|deltas)\//, status: 500 });
    await fleet.announce(broker.url, { commit: v2.commit, version: '2.0', rolloutId: 'r-restart' });
    await d.waitForLog(/downloading -> failed/);
    failing();
    fleet.server.addFault({ match: /^\/deltas\//, delayMs: 1500 });
    fleet.server.addFault({ match: /\.filez$/, delayMs: 50 });
    await d.waitForLog(/failed -> downloading/);
    await broker.stop();
    await new Promise((r) => setTimeout(r, 1000));
    await broker.start();
    await d.waitForPhase('idle', { running: v2.commit, timeoutMs: 90_000 });
    fleet.server.clearFaults();
    const w = await watch('dev-e');
    await w.waitFor('the state after the broker restart', () => (w.latestState()?.running as { commit?: string } | undefined)?.commit === v2.commit);
    assert.ok(d.logs.some((l) => /^ERR_HTTP_STATUS: /.test(l.msg)), 'the failure was logged with its code');
    assertDeployments(d, [v2.commit, v1.commit]);
  });
});
