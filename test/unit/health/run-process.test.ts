import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  nodeProcessPorts, runProcess, type HealthClock, type ProcessPorts, type SpawnedProcess,
} from '../../../agent/src/health/run-process';
import { alive, eventually, script, tempRoot } from './fixtures';

const ENV = { PATH: '/usr/bin:/bin' };

describe('health/run-process: real processes', () => {
  let root = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ root, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('records the exit status, the interleaved output and the duration', async () => {
    const p = await script(root, '', 'd', 'x', 'echo out; echo err >&2; exit 3');
    const o = await runProcess(p, { env: ENV, timeoutMs: 10_000, outputLimit: 1024 }, nodeProcessPorts);
    assert.equal(o.exitCode, 3);
    assert.equal(o.signal, null);
    assert.equal(o.timedOut, false);
    assert.match(o.output, /out\n/);
    assert.match(o.output, /err\n/);
    assert.equal(o.outputBytes, 8);
    assert.ok(o.durationMs >= 0);
  });

  it('passes exactly the given environment and no arguments', async () => {
    const p = await script(root, '', 'd', 'x', 'echo "args=$#"; env | sort');
    const o = await runProcess(p, { env: { PATH: '/usr/bin:/bin', CANOPY_X: 'a b;$(id)' }, timeoutMs: 10_000, outputLimit: 4096 }, nodeProcessPorts);
    assert.equal(o.exitCode, 0);
    const lines = o.output.trim().split('\n');
    assert.equal(lines[0], 'args=0');
    const names = lines.slice(1).map((l) => l.split('=')[0]).filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_');
    assert.deepEqual(names, ['CANOPY_X', 'PATH']);
    assert.ok(lines.includes('CANOPY_X=a b;$(id)'));
  });

  it('kills the whole process group on a timeout: no background child survives', async function () {
    const pidFile = join(root, 'bg.pid');
    const p = await script(root, '', 'd', 'x', `sleep 100 & echo $! > '${pidFile}'; echo started; sleep 100`);
    const o = await runProcess(p, { env: ENV, timeoutMs: 300, killGraceMs: 2000, outputLimit: 1024 }, nodeProcessPorts);
    assert.equal(o.timedOut, true);
    assert.equal(o.exitCode, null);
    assert.equal(o.signal, 'SIGTERM');
    assert.match(o.output, /started/);
    const bg = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(bg > 0);
    assert.ok(await eventually(() => !alive(bg)), `background sleep ${bg} still running`);
  });

  it('escalates to SIGKILL when the check ignores SIGTERM', async () => {
    const p = await script(root, '', 'd', 'x', "trap '' TERM; echo ready; while :; do sleep 0.05; done");
    const o = await runProcess(p, { env: ENV, timeoutMs: 200, killGraceMs: 200, outputLimit: 1024 }, nodeProcessPorts);
    assert.equal(o.timedOut, true);
    assert.equal(o.signal, 'SIGKILL');
  });

  it('does not wait for, and does not leave, what a passing check left in the background', async () => {
    const pidFile = join(root, 'bg.pid');
    const p = await script(root, '', 'd', 'x', `sleep 100 & echo $! > '${pidFile}'; exit 0`);
    const started = Date.now();
    const o = await runProcess(p, { env: ENV, timeoutMs: 20_000, outputLimit: 1024 }, nodeProcessPorts);
    assert.equal(o.exitCode, 0);
    assert.ok(Date.now() - started < 10_000);
    const bg = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(await eventually(() => !alive(bg)), `background sleep ${bg} still running`);
  });

  it('keeps only the tail of a huge output and counts all of it', async () => {
    const p = await script(root, '', 'd', 'x', 'head -c 3000000 /dev/zero | tr "\\0" a; echo; echo THE-END');
    const o = await runProcess(p, { env: ENV, timeoutMs: 20_000, outputLimit: 64 * 1024 }, nodeProcessPorts);
    assert.equal(o.exitCode, 0);
    assert.equal(o.outputBytes, 3_000_000 + 1 + 8);
    assert.equal(o.outputTruncated, true);
    assert.equal(Buffer.byteLength(o.output), 64 * 1024);
    assert.ok(o.output.endsWith('THE-END\n'));
  });

  it('reports a program that cannot be started as a spawn error, not a throw', async () => {
    const o = await runProcess(join(root, 'missing'), { env: ENV, timeoutMs: 1000, outputLimit: 1024 }, nodeProcessPorts);
    assert.match(o.spawnError ?? '', /ENOENT/);
    assert.equal(o.exitCode, null);
  });
});

/** A fake clock whose timers fire only when the test advances it. */
class FakeClock implements HealthClock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return 1_700_000_000_000 + this.t;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => { timer.live = false; };
  }
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = next.at;
      next.live = false;
      next.fn();
    }
    this.t = until;
  }
}

class FakeChild extends EventEmitter {
  readonly pid = 4242;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
}

describe('health/run-process: timeouts on a process clock', () => {
  it('sends SIGTERM to the group at the timeout and SIGKILL after the grace period', async () => {
    const clock = new FakeClock();
    const child = new FakeChild();
    const kills: Array<[number, string, number]> = [];
    const ports: ProcessPorts = {
      clock,
      spawn: (_cmd, args, options) => {
        assert.deepEqual(args, []);
        assert.equal(options.detached, true);
        return child as unknown as SpawnedProcess;
      },
      killGroup: (pgid, signal) => {
        kills.push([pgid, signal, clock.t]);
        if (signal === 'SIGKILL') {
          child.stdout.end();
          child.stderr.end();
          child.emit('exit', null, 'SIGKILL');
        }
      },
    };
    const done = runProcess('/check', { env: {}, timeoutMs: 60_000, killGraceMs: 5000, outputLimit: 16 }, ports);
    child.stdout.write('0123456789abcdefXYZ');
    clock.advance(59_999);
    assert.equal(kills.length, 0);
    clock.advance(1);
    assert.deepEqual(kills, [[4242, 'SIGTERM', 60_000]]);
    clock.advance(5000);
    const o = await done;
    assert.deepEqual(kills.map((k) => k.slice(0, 2)), [[4242, 'SIGTERM'], [4242, 'SIGKILL'], [4242, 'SIGKILL']]);
    assert.equal(o.timedOut, true);
    assert.equal(o.signal, 'SIGKILL');
    assert.equal(o.durationMs, 65_000);
    assert.equal(o.output, '3456789abcdefXYZ');
    assert.equal(o.outputTruncated, true);
  });

  it('stops waiting for pipes that a runaway grandchild keeps open', async () => {
    const clock = new FakeClock();
    const child = new FakeChild();
    const ports: ProcessPorts = { clock, spawn: () => child as unknown as SpawnedProcess, killGroup: () => {} };
    const done = runProcess('/check', { env: {}, timeoutMs: 60_000, outputLimit: 16, drainMs: 500 }, ports);
    child.emit('exit', 0, null);
    clock.advance(500);
    const o = await done;
    assert.equal(o.exitCode, 0);
    assert.equal(o.timedOut, false);
  });
});
