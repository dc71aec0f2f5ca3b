/**
 * dist/canopy.cjs, the launcher: it runs dist/canopy-cli.cjs from the code
 * cache the build made, which this Node.js accepts; without a cache, or with
 * a damaged one, the CLI still runs; CANOPY_WRITE_CODE_CACHE=1 makes one.
 * It lowers the priority of V8's helper threads only (the flag it sets,
 * --no-parallel-scavenge, has no effect a test here can see).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from './cli-harness';

const DIST = join(ROOT, 'dist');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function cacheName(): string {
  const hash = createHash('sha256').update(readFileSync(join(DIST, 'canopy-cli.cjs'))).digest('hex').slice(0, 16);
  return `canopy-cli.${hash}.v8cache`;
}

/**
 * Whether a fresh Node.js, like the one the launcher runs in, accepts `cache`
 * for `bundle`. Not this process: other tests here change V8 flags that the
 * check compares (loading undici keeps WebAssembly on V8's baseline tier).
 */
function acceptedByFreshNode(bundle: string, cache: string): boolean {
  const probe = `const { readFileSync } = require('node:fs'); const { wrap } = require('node:module'); const { Script } = require('node:vm');
const s = new Script(wrap(readFileSync(process.argv[1], 'utf8')), { filename: process.argv[1], cachedData: readFileSync(process.argv[2]) });
process.stdout.write(String(s.cachedDataRejected));`;
  const r = spawnSync(process.execPath, ['-e', probe, bundle, cache], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout === 'false';
}

function run(dir: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(dir, 'canopy.cjs'), '--version'], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('cli: the launcher and its code cache', () => {
  let dir: string;
  before(() => ensureBuilt());
  beforeEach(() => {
    // A copy of the three files, so damaging the cache touches nothing the other tests use.
    dir = mkdtempSync(join(tmpdir(), 'canopy-launcher-'));
    for (const f of ['canopy.cjs', 'canopy-cli.cjs', cacheName()]) copyFileSync(join(DIST, f), join(dir, f));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the build leaves one cache, named for the bundle it was made from, and the launcher asks for that name', () => {
    const caches = readdirSync(DIST).filter((f) => f.endsWith('.v8cache'));
    assert.deepEqual(caches, [cacheName()]);
    assert.ok(readFileSync(join(DIST, 'canopy.cjs'), 'utf8').includes(cacheName()));
  });

  it('this Node.js accepts the cache for the bundle as the launcher compiles it', () => {
    assert.equal(acceptedByFreshNode(join(DIST, 'canopy-cli.cjs'), join(DIST, cacheName())), true);
    writeFileSync(join(dir, cacheName()), Buffer.alloc(4096, 0x5a));
    assert.equal(acceptedByFreshNode(join(dir, 'canopy-cli.cjs'), join(dir, cacheName())), false, 'a damaged cache is refused');
  });

  it('runs with the cache, without it, and with a damaged one', () => {
    assert.equal(run(dir).stdout.trim(), `canopy ${version}`);
    writeFileSync(join(dir, cacheName()), Buffer.alloc(4096, 0x5a));
    const damaged = run(dir);
    assert.equal(damaged.status, 0, damaged.stderr);
    assert.equal(damaged.stdout.trim(), `canopy ${version}`);
    rmSync(join(dir, cacheName()));
    const none = run(dir);
    assert.equal(none.status, 0, none.stderr);
    assert.equal(none.stdout.trim(), `canopy ${version}`);
  });

  it('CANOPY_WRITE_CODE_CACHE=1 writes a cache that this Node.js accepts', () => {
    rmSync(join(dir, cacheName()));
    const r = run(dir, { CANOPY_WRITE_CODE_CACHE: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(dir, cacheName())));
    assert.equal(acceptedByFreshNode(join(dir, 'canopy-cli.cjs'), join(dir, cacheName())), true);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('lowers the priority of the helper threads it finds, not of the main thread or of threads started later', function () {
    if (process.platform !== 'linux') this.skip();
    // A stand-in for the bundle: starts a worker, then reports every thread's nice value.
    writeFileSync(join(dir, 'canopy-cli.cjs'), `
      const { Worker } = require('node:worker_threads');
      const fs = require('node:fs');
      const nice = (t) => { const st = fs.readFileSync('/proc/self/task/' + t + '/stat', 'utf8'); return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16]); };
      const w = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); setTimeout(() => {}, 500);", { eval: true });
      w.on('message', (tid) => {
        const all = Object.fromEntries(fs.readdirSync('/proc/self/task').map((t) => [t, nice(t)]));
        console.log(JSON.stringify({ main: String(process.pid), worker: tid, all }));
        w.terminate();
      });
    `);
    const r = run(dir);
    assert.equal(r.status, 0, r.stderr);
    const { main, worker, all } = JSON.parse(r.stdout) as { main: string; worker: string; all: Record<string, number> };
    const base = all[main];
    assert.equal(all[worker], base, 'a thread started later keeps the main thread\'s priority');
    const lowered = Object.entries(all).filter(([t, n]) => t !== main && t !== worker && n === Math.min(19, base + 10));
    assert.ok(lowered.length >= 4, `V8's helper threads run niced: ${JSON.stringify(all)}`);
  });
});
