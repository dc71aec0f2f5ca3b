/**
 * The operator side against a real Mosquitto broker and a small fleet of
 * lightweight devices that run the real device-side channel (gate, replay
 * store, signatures): a rollout that completes wave by wave, a bad release
 * whose first wave fails and pauses the rollout (state kept in the
 * retained announcement, so a restarted controller sees it), and signed
 * commands: answered, refused by the agent, and refused by the device's
 * checks (unknown key, expired, replayed, aimed at another device), with
 * the refusals visible in `canopy fleet status` (the built CLI).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCommand, encodeEnvelope, rolloutBucket, signMessage } from '../../agent/src/channel/index';
import {
  DEFAULT_POLICY, FleetView, generateKeyFiles, journalFrom, newRollout, OperatorLink, operatorTrust, parseWaves, publishAnnouncement,
  readAnnouncement, readSecretKeyFile, resumeRollout, rolloutReport, rolloutStatus, runRolloutController, sendCommand, writeJournal,
  type ControlledAnnouncement,
} from '../../agent/src/fleet/index';
import { LiteDevice } from '../helpers/lite-device';
import { findMosquitto, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { CLI, ensureBuilt } from '../unit/cli/cli-harness';

const V1 = '1'.repeat(64);
const V2 = '2'.repeat(64);
const V3 = '3'.repeat(64);
const FLEET = 'acme';

/** Runs the built CLI without blocking the event loop (the devices live in this process). */
function canopyAsync(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fleet operator tools against Mosquitto', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  let dir: string;
  let link: OperatorLink;
  let keyFile: string;
  let strangerFile: string;
  const devices: LiteDevice[] = [];
  const ids = ['dev-a', 'dev-b', 'dev-c', 'dev-d', 'dev-e', 'dev-f'];
  let keys: { ed25519: Buffer[] };

  before(async function () {
    if (!findMosquitto()) {
      console.log('    (skipped: mosquitto is not installed; Debian package mosquitto)');
      this.skip();
    }
    ensureBuilt();
    broker = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'canopy-fleet-it-'));
    keyFile = generateKeyFiles(dir, 'operator').secretPath;
    strangerFile = generateKeyFiles(dir, 'stranger').secretPath;
    const pair = readSecretKeyFile(keyFile)[0];
    keys = { ed25519: [pair.secretKey] };
    for (const id of ids) {
      const d = await LiteDevice.create({
        url: broker.url, fleet: FLEET, id, channel: 'stable', tags: id === 'dev-f' ? ['lab'] : ['field'], trusted: [pair.publicKey], dir,
        running: { commit: V1, version: '1.0' }, verdict: (c) => (c === V3 ? ['app-responds'] : true),
      });
      devices.push(d);
      await d.start();
    }
    link = await OperatorLink.connect({ url: broker.url, fleet: FLEET });
    await until(() => devices.every((d) => d.channel !== undefined), 'devices');
  });

  after(async () => {
    await link?.close();
    for (const d of devices) await d.stop();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const announce = async (commit: string, version: string, waves: string, id: string, previous?: ControlledAnnouncement): Promise<ControlledAnnouncement> => {
    const body: ControlledAnnouncement = {
      v: 1, type: 'announcement', fleet: FLEET, channel: 'stable', ref: 'acme/os', commit, version,
      rollout: newRollout(id, parseWaves(waves), { ...DEFAULT_POLICY, minSample: 1 }, Date.now()), created: '', expires: '',
    };
    return publishAnnouncement(link, body, keys, { now: Date.now(), previous });
  };

  it('rolls a release out wave by wave until every device runs it healthy', async () => {
    const a = await announce(V2, '2.0', 'canary:20,half:60,all:100', 'r-v2');
    const opened: string[] = [];
    const view = new FleetView();
    const r = await runRolloutController({
      link, channel: 'stable', keys, trust: await operatorTrust(keys), tickMs: 100, view, timeoutMs: 30_000,
      log: (l) => { if (/opening wave/.test(l)) opened.push(l); },
    });
    assert.equal(r.status, 'complete', r.reason);
    assert.equal(opened.length, 2, `waves opened one at a time: ${opened.join(' | ')}`);
    await until(() => devices.every((d) => d.state.running?.commit === V2), 'every device on v2');
    const report = rolloutReport(r.announcement, view.states(), Date.now());
    assert.equal(report.waves.reduce((n, w) => n + w.targeted, 0), ids.length);
    assert.equal(report.waves.reduce((n, w) => n + w.healthy, 0), ids.length);
    for (const d of devices) {
      const s = d.state;
      assert.equal(s.rollout?.id, 'r-v2');
      const bucket = rolloutBucket('r-v2', d.id);
      assert.equal(s.rollout?.bucket, bucket);
    }
    // Each device was in its wave when it installed: nobody of a later wave ran it before the wave opened.
    assert.equal(a.rollout.waves[0].open, true);
  });

  it('pauses by itself when the first wave of a bad release fails; the pause is in the retained announcement', async () => {
    const prev = (await readAnnouncement(link, 'stable', await operatorTrust(keys)))!.announcement;
    await announce(V3, '3.0', 'canary:35,all:100', 'r-v3', prev);
    const canaries = ids.filter((id) => rolloutBucket('r-v3', id) < 35);
    assert.ok(canaries.length > 0 && canaries.length < ids.length, `the canary wave holds some devices: ${canaries.join(',')}`);
    const view = new FleetView();
    const r = await runRolloutController({ link, channel: 'stable', keys, trust: await operatorTrust(keys), tickMs: 100, view, timeoutMs: 30_000 });
    assert.equal(r.status, 'paused');
    assert.match(r.reason, /wave canary: \d+ of \d+ settled devices failed/);
    assert.match(r.reason, /rolled back \(health-failed: required checks failed: app-responds\)/);
    for (const d of devices) {
      assert.equal(d.state.running?.commit, V2, `${d.id} runs v2 (fell back, or never started v3)`);
      if (canaries.includes(d.id)) assert.equal(d.state.lastRollback?.from, V3, `${d.id} rolled back from v3`);
      else assert.notEqual(d.state.lastRollback?.from, V3, `${d.id} of the closed wave never tried v3`);
    }
    // A controller started again reads the pause from the broker and stops at once.
    const again = await runRolloutController({ link, channel: 'stable', keys, trust: await operatorTrust(keys), tickMs: 100, timeoutMs: 10_000 });
    assert.equal(again.status, 'paused');
    const retained = (await readAnnouncement(link, 'stable', await operatorTrust(keys)))!.announcement;
    assert.equal(rolloutStatus(retained), 'paused');
    assert.deepEqual(retained.rollout.waves.map((w) => [w.name, w.open, w.state]), [['canary', false, 'paused'], ['all', false, 'closed']]);
    const report = rolloutReport(retained, view.states(), Date.now());
    assert.equal(report.waves[0].rolledBack, canaries.length);
    assert.equal(report.waves[1].waiting, ids.length - canaries.length, JSON.stringify(report.devices));
    // Status through the CLI shows the same counts.
    const st = await canopyAsync(['rollout', 'status', '--json', '--channel=stable', `--fleet=${FLEET}`, `--broker=${broker.url}`, `--sign-key=${keyFile}`]);
    assert.equal(st.status, 0, st.stderr);
    const json = JSON.parse(st.stdout);
    assert.equal(json.status, 'paused');
    assert.equal(json.waves[0].rolledBack, canaries.length);
    // Resuming from another operator session reopens the paused wave; the controller pauses again at once.
    const resumed = await publishAnnouncement(link, resumeRollout(retained, Date.now(), 'checked'), keys, { now: Date.now(), previous: retained });
    assert.equal(rolloutStatus(resumed), 'running');
    const third = await runRolloutController({ link, channel: 'stable', keys, trust: await operatorTrust(keys), tickMs: 100, timeoutMs: 10_000 });
    assert.equal(third.status, 'paused');
  });

  it('sends signed commands and prints each answer; the agent\'s refusals come back with their reason', async () => {
    const env = { CANOPY_FLEET: FLEET, CANOPY_BROKER: broker.url, CANOPY_SIGN_KEY: keyFile };
    const journal = join(dir, 'journal.json');
    const ok = await canopyAsync(['fleet', 'rollback', '--device=dev-a', '--reason=drill', '--wait-done', `--journal=${journal}`], env);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /dev-a: accepted/);
    assert.match(ok.stdout, /dev-a: done/);
    await until(() => devices[0].state.running?.commit === V1, 'dev-a back on v1');
    assert.deepEqual([devices[0].state.lastRollback?.reason, devices[0].state.lastRollback?.detail], ['operator', 'drill']);

    const pin = await canopyAsync(['fleet', 'command', '--device=dev-b', 'pin', 'reason=investigating', `--journal=${journal}`], env);
    assert.equal(pin.status, 0, pin.stderr);
    await until(() => devices[1].state.pinned?.reason === 'investigating', 'dev-b pinned');
    const refused = await canopyAsync(['fleet', 'command', '--json', '--device=dev-b', 'reboot', `--journal=${journal}`], env);
    assert.equal(refused.status, 1);
    const err = JSON.parse(refused.stdout).error;
    assert.equal(err.code, 'ERR_COMMAND_REFUSED');
    assert.match(err.message, /dev-b: refused \(pinned\)/);

    const unknown = await canopyAsync(['fleet', 'command', '--device=dev-c', 'check-now', `--sign-key=${strangerFile}`, `--journal=${journal}`], env);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stdout, /dev-c: rejected \(unknown-key\)/);

    const tag = await canopyAsync(['fleet', 'command', '--group=lab', 'report-inventory', `--journal=${journal}`], env);
    assert.equal(tag.status, 0, tag.stderr);
    assert.match(tag.stdout, /dev-f: accepted/);
    assert.doesNotMatch(tag.stdout, /dev-a/);

    const status = await canopyAsync(['fleet', 'status', '--json', `--journal=${journal}`], env);
    assert.equal(status.status, 0, status.stderr);
    const rows = JSON.parse(status.stdout) as Array<{ device: string; online: boolean; lastRefusal?: { reason: string; command?: string }; pinned?: unknown }>;
    assert.deepEqual(rows.map((r) => r.device), ids);
    assert.ok(rows.every((r) => r.online));
    assert.deepEqual([rows[1].lastRefusal?.reason, rows[1].lastRefusal?.command], ['pinned', 'reboot']);
    assert.equal(rows[2].lastRefusal?.reason, 'unknown-key');
    const text = await canopyAsync(['fleet', 'status', `--journal=${journal}`], env);
    assert.match(text.stdout, /dev-c .*unknown-key/);
    assert.match(text.stdout, /dev-a .*operator .*: drill/);
  });

  it('devices refuse expired, replayed and misdirected commands; the refusals reach fleet status', async () => {
    const view = new FleetView();
    const send = (command: Parameters<typeof buildCommand>[0], expect: string[], rawBytes?: Buffer) =>
      sendCommand({ link, keys, command, expect, timeoutMs: 5000, view, ...(rawBytes ? { rawBytes } : {}) });
    // Expired: made two hours ago, valid for a minute (beyond the 5-minute clock skew).
    const expired = await send({ fleet: FLEET, target: { device: 'dev-c' }, kind: 'check-now', created: new Date(Date.now() - 7200_000), ttlSeconds: 60 }, ['dev-c']);
    assert.deepEqual(expired.answers.map((a) => [a.status, a.reason]), [['rejected', 'expired']]);
    // Replayed: the same signed bytes twice.
    const cmd = buildCommand({ fleet: FLEET, target: { device: 'dev-d' }, kind: 'check-now' });
    const bytes = encodeEnvelope(await signMessage('command', cmd, keys));
    const first = await send({ fleet: FLEET, target: { device: 'dev-d' }, kind: 'check-now', nonce: cmd.nonce }, ['dev-d'], bytes);
    assert.ok(['accepted', 'done'].includes(first.answers[0].status), first.answers[0].status);
    const replay = await send({ fleet: FLEET, target: { device: 'dev-d' }, kind: 'check-now', nonce: cmd.nonce }, ['dev-d'], bytes);
    assert.deepEqual(replay.answers.map((a) => [a.status, a.reason]), [['rejected', 'replayed']]);
    // Aimed at another device: a command for dev-a published on dev-e's topic.
    const forA = buildCommand({ fleet: FLEET, target: { device: 'dev-a' }, kind: 'reboot' });
    const aBytes = encodeEnvelope(await signMessage('command', forA, keys));
    const misdirected = await sendCommand({
      link, keys, command: { fleet: FLEET, target: { device: 'dev-a' }, kind: 'reboot', nonce: forA.nonce }, expect: ['dev-e'], timeoutMs: 5000, view,
      rawBytes: aBytes, via: { device: 'dev-e' },
    });
    assert.deepEqual(misdirected.answers.find((a) => a.device === 'dev-e')?.reason, 'not-for-me');
    assert.ok(!devices[4].commands.some((c) => c.nonce === forA.nonce), 'dev-e never acted on it');
    // Those refusals, journaled, show in fleet status.
    const journal = join(dir, 'journal-2.json');
    writeJournal(journal, journalFrom(view, FLEET));
    const st = await canopyAsync(['fleet', 'status', '--json', `--fleet=${FLEET}`, `--broker=${broker.url}`, `--journal=${journal}`]);
    const rows = JSON.parse(st.stdout) as Array<{ device: string; lastRefusal?: { reason: string } }>;
    const by = Object.fromEntries(rows.map((r) => [r.device, r.lastRefusal?.reason]));
    assert.deepEqual([by['dev-c'], by['dev-d'], by['dev-e']], ['expired', 'replayed', 'not-for-me']);
  });

  it('canopy publish: commit, sign, summary and announcement in one step; a re-run changes nothing', async () => {
    const repo = join(dir, 'repo');
    const tree = join(dir, 'rootfs');
    mkdirSync(join(tree, 'usr/bin'), { recursive: true });
    writeFileSync(join(tree, 'usr/bin/app'), '#!/bin/sh\necho 5.0\n');
    const init = await canopyAsync(['init', `--repo=${repo}`, '--mode=archive']);
    assert.equal(init.status, 0, init.stderr);
    const args = ['publish', `--repo=${repo}`, '--json', '--branch=acme/os', `--tree=dir=${tree}`, '--version=5.0', '--channel=beta', '--waves=canary:10,all:100',
      '--deltas-from-fleet', `--fleet=${FLEET}`, `--broker=${broker.url}`, `--sign-key=${keyFile}`];
    const first = await canopyAsync(args);
    assert.equal(first.status, 0, first.stdout + first.stderr);
    const r1 = JSON.parse(first.stdout);
    assert.equal(r1.created, true);
    assert.equal(r1.announcement.status, 'published');
    assert.deepEqual(r1.announcement.waves, ['canary', 'all']);
    assert.ok(r1.deltas.every((d: { status: string }) => d.status === 'skipped'), 'the fleet runs commits this repository does not have');
    assert.ok(r1.deltas.length >= 1);
    const a = (await readAnnouncement(link, 'beta', await operatorTrust(keys)))!.announcement;
    assert.deepEqual([a.commit, a.version, a.ref, a.rollout.waves.map((w) => w.open)], [r1.commit, '5.0', 'acme/os', [true, false]]);
    const second = await canopyAsync(args);
    assert.equal(second.status, 0, second.stderr);
    const r2 = JSON.parse(second.stdout);
    assert.deepEqual([r2.commit, r2.created, r2.announcement.status], [r1.commit, false, 'unchanged']);
    const b = (await readAnnouncement(link, 'beta', await operatorTrust(keys)))!.announcement;
    assert.equal(b.created, a.created, 'the retained announcement was not replaced');
    const text = await canopyAsync(args.filter((x) => x !== '--json'));
    assert.match(text.stdout, /commit: acme\/os already holds version 5\.0/);
    assert.match(text.stdout, /announce: channel beta already offers/);
  });

  it('rollout pause, resume and abort --revert from the command line; fleet status --watch streams JSON', async () => {
    const env = { CANOPY_FLEET: FLEET, CANOPY_BROKER: broker.url, CANOPY_SIGN_KEY: keyFile };
    const repo = join(dir, 'repo');
    const tree = join(dir, 'rootfs');
    writeFileSync(join(tree, 'usr/bin/app'), '#!/bin/sh\necho 5.1\n');
    const before = (await readAnnouncement(link, 'beta', await operatorTrust(keys)))!.announcement;
    const pub = await canopyAsync(['publish', `--repo=${repo}`, '--json', '--branch=acme/os', `--tree=dir=${tree}`, '--version=5.1', '--channel=beta', '--waves=10,100'], env);
    assert.equal(pub.status, 0, pub.stderr);
    const v51 = JSON.parse(pub.stdout).commit as string;
    const pause = await canopyAsync(['rollout', 'pause', '--json', '--channel=beta', '--reason=looking into it'], env);
    assert.equal(pause.status, 0, pause.stderr);
    assert.deepEqual([JSON.parse(pause.stdout).status, JSON.parse(pause.stdout).reason], ['paused', 'looking into it']);
    assert.equal((await canopyAsync(['rollout', 'pause', '--channel=beta'], env)).status, 0, 'pausing twice is harmless');
    const resume = await canopyAsync(['rollout', 'resume', '--json', '--channel=beta'], env);
    assert.equal(JSON.parse(resume.stdout).status, 'running');
    const again = await canopyAsync(['rollout', 'resume', '--json', '--channel=beta'], env);
    assert.equal(JSON.parse(again.stdout).error.code, 'ERR_ROLLOUT_STATE');
    const abort = await canopyAsync(['rollout', 'abort', '--json', '--channel=beta', '--revert', '--reason=bad build'], env);
    assert.equal(abort.status, 0, abort.stdout + abort.stderr);
    const a = (await readAnnouncement(link, 'beta', await operatorTrust(keys)))!.announcement;
    assert.equal(a.commit, before.commit, 'the channel offers 5.0 again');
    assert.equal(a.version, '5.0');
    assert.ok(a.rollout.waves.every((w) => w.open), 'to every device');
    assert.equal(a.rollout.control?.previous?.commit, v51);
    assert.match(a.rollout.control?.reason ?? '', /revert of 5\.1: bad build/);
    const none = await canopyAsync(['rollout', 'status', '--json', '--channel=nothing-here'], env);
    assert.equal(JSON.parse(none.stdout).error.code, 'ERR_ROLLOUT_STATE');

    const watch = spawn(process.execPath, [CLI, 'fleet', 'status', '--watch', '--json', `--journal=${join(dir, 'j3.json')}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watch.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    await until(() => out.includes('\n'), 'the first fleet status line', 15_000);
    const first = JSON.parse(out.split('\n')[0]) as { devices: Array<{ device: string }> };
    assert.equal(first.devices.length, ids.length);
    const closed = new Promise<number | null>((r) => watch.on('close', (c) => r(c)));
    watch.kill('SIGTERM');
    assert.equal(await closed, 0);
  });
});
