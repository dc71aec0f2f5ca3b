/**
 * The fleet demo end to end, as `npm start` runs it but against a real
 * Mosquitto broker: the built operator CLI (`dist/canopy.cjs demo
 * --broker=…`) provisions simulated devices that run the built agent
 * (`dist/canopy-agent.cjs run`, real sysroots, simulated reboots), rolls
 * 2.0 out in waves, publishes a 3.0 whose health check fails, and rolls one
 * device back remotely. Afterwards the broker still holds what the fleet
 * reported: every device's final state and the paused rollout are checked
 * there, and no process of the demo may be left running.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceState } from '../../agent/src/channel/index';
import { removeDeviceDirs } from '../../agent/src/dev/index';
import { FleetView, OperatorLink, operatorTrust, readAnnouncement, rolloutStatus } from '../../agent/src/fleet/index';
import { readRef, Repo } from '../../agent/src/repo/index';
import { findMosquitto, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { CLI, ensureBuilt } from '../unit/cli/cli-harness';

/** Command lines of every process on the machine that mention `needle`. */
function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

describe('the fleet demo (built CLI and agent, Mosquitto)', function () {
  this.timeout(600_000);
  let broker: Mosquitto;
  let host: string;
  let work = '';
  let stdout = '';
  let stderr = '';
  let status: number | null = null;

  before(async function () {
    if (!findMosquitto()) {
      console.log('      skipped: mosquitto is not installed (Debian package mosquitto)');
      this.skip();
    }
    ensureBuilt();
    broker = await startMosquitto();
    host = mkdtempSync(join(tmpdir(), 'canopy-e2e-fleet-'));
    const child = spawn(process.execPath, [CLI, 'demo', `--broker=${broker.url}`, '--devices=6', '--keep'], {
      env: { ...process.env, TMPDIR: host }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    work = /Kept (\S+)/.exec(stdout)?.[1] ?? '';
  });

  after(async () => {
    if (work) removeDeviceDirs(work);
    if (host) rmSync(host, { recursive: true, force: true });
    await broker?.close();
  });

  it('runs to the end, printing each operator command and its outcome', () => {
    assert.equal(status, 0, `demo exited ${status}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`);
    assert.ok(existsSync(work), 'the kept working directory');
    for (const step of ['keys generate', 'publish --repo=repo --branch=demo/os --tree=dir=rootfs-2.0', 'rollout start --channel=stable', 'rollout status', 'fleet status', 'fleet rollback --device=']) {
      assert.ok(stdout.includes(`$ canopy ${step}`), `missing step: ${step}`);
    }
    assert.equal((stdout.match(/opening wave/g) ?? []).length, 2, 'the 2.0 rollout opened its two later waves one at a time');
    assert.match(stdout, /complete: every wave is open/);
    assert.match(stdout, /paused: wave canary: 1 of 1 settled devices failed/);
    assert.match(stdout, /: accepted\n/);
    assert.match(stdout, /: done\n/);
  });

  it('leaves every device in the expected state, and the 3.0 rollout paused, in the broker', async () => {
    const repo = Repo.open(join(work, 'repo'));
    const v3 = readRef(repo, 'demo/os')!;
    const v2 = repo.loadCommit(v3).parent!;
    const v1 = repo.loadCommit(v2).parent!;
    const link = await OperatorLink.connect({ url: broker.url, fleet: 'demo' });
    try {
      const view = new FleetView();
      link.onState((s) => view.applyState(s));
      await link.watchFleet({ events: false });
      const states = new Map<string, DeviceState>(view.states().map((s) => [s.device, s]));
      assert.deepEqual([...states.keys()].sort(), ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6']);
      const a = (await readAnnouncement(link, 'stable', await operatorTrust({}, [join(work, 'keys/operator.pub')])))!.announcement;
      assert.equal(a.commit, v3);
      assert.equal(rolloutStatus(a), 'paused');
      assert.deepEqual(a.rollout.waves.map((w) => [w.name, w.open, w.state]), [['canary', false, 'paused'], ['half', false, 'closed'], ['all', false, 'closed']]);
      const canaries = [...states.values()].filter((s) => s.lastRollback?.from === v3);
      assert.equal(canaries.length, 1, 'exactly the canary wave fell back from 3.0');
      for (const s of states.values()) {
        assert.equal(s.online, false, `${s.device} reported going offline when the demo stopped it`);
        assert.notEqual(s.running?.commit, v3, `${s.device} does not run 3.0`);
      }
      const canary = canaries[0];
      assert.equal(canary.running?.commit, v2);
      assert.equal(canary.lastRollback?.reason, 'health-failed');
      assert.match(canary.lastRollback?.detail ?? '', /the demo app does not answer/);
      assert.equal(canary.lastHealth?.result, 'fail');
      const rolled = [...states.values()].filter((s) => s.running?.commit === v1);
      assert.equal(rolled.length, 1, 'one device was rolled back to 1.0 remotely');
      assert.equal(rolled[0].lastRollback?.from, v2);
      assert.match(rolled[0].lastRollback?.detail ?? '', /customer asked for 1\.0/);
      const rest = [...states.values()].filter((s) => s !== canary && s !== rolled[0]);
      assert.equal(rest.length, 4);
      for (const s of rest) {
        assert.equal(s.running?.commit, v2, `${s.device} runs 2.0`);
        assert.deepEqual([s.lastHealth?.commit, s.lastHealth?.result], [v2, 'pass'], `${s.device} passed its checks on 2.0`);
        assert.equal(s.lastRollback ?? null, null, `${s.device} never rolled back`);
      }
    } finally {
      await link.close();
    }
  });

  it('leaves nothing running', () => {
    assert.deepEqual(processesMentioning(work), []);
  });
});

describe('the fleet demo, interrupted (embedded broker)', function () {
  this.timeout(300_000);

  it('stops every agent, the broker and the server on SIGINT, and removes its directory', async () => {
    ensureBuilt();
    const host = mkdtempSync(join(tmpdir(), 'canopy-e2e-fleet-int-'));
    try {
      const child = spawn(process.execPath, [CLI, 'demo', '--devices=3'], { env: { ...process.env, TMPDIR: host }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const deadline = Date.now() + 240_000;
      while (!out.includes('Act 3.') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(out.includes('Act 3.'), `the demo reached its rollout:\n${out.slice(-3000)}`);
      assert.ok(processesMentioning(host).some((p) => p.includes('canopy-agent.cjs run')), 'agents were running');
      child.kill('SIGINT');
      assert.equal(await exited, 130, out.slice(-2000));
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(processesMentioning(host), []);
      assert.deepEqual(readdirSync(host), [], 'the working directory is gone');
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });
});
