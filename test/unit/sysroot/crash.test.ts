/**
 * Crash safety: deploy and cleanup are interrupted after every one of their
 * file-system operations, by SIGKILL in a child process (no finally blocks,
 * no clean-up) and by a thrown error in this process. After each
 * interruption the sysroot must boot the old default deployment or the new
 * one, never neither, and running the operation again must finish and leave
 * nothing behind.
 *
 * "Boots": boot/loader resolves to a loader directory whose entries all
 * resolve through the bootlinks to complete deployment directories; each
 * entry's kernel, initramfs and device tree exist under /boot with the
 * deployment's bytes; uEnv.txt (through boot/uEnv.txt) lists the same
 * kernels and arguments, default first.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { parseUenv } from '../../../agent/src/bootloader/index';
import { cleanup, deploy, loadSysroot } from '../../../agent/src/sysroot/index';
import { Repo } from '../../../agent/src/repo/repo';
import { canopySysroot, commitOs, isRoot, removeScratch, scratch } from './fixture';

const here = dirname(fileURLToPath(import.meta.url));

/** Checks that `s` boots; returns the default deployment's commit. */
export function assertBoots(s: string): string {
  assert.match(readlinkSync(join(s, 'boot/loader')), /^loader\.[01]$/);
  const st = loadSysroot(s);
  assert.ok(st.deployments.length > 0, 'at least one deployment');
  const uenv = parseUenv(readFileSync(join(s, 'boot/uEnv.txt'), 'utf8'));
  assert.equal(uenv.entries.length, st.deployments.length, 'uEnv.txt lists every entry');
  st.deployments.forEach((d, i) => {
    const root = join(s, 'ostree/deploy', d.stateroot, 'deploy', `${d.csum}.${d.serial}`);
    assert.ok(existsSync(join(root, 'usr/lib/os-release')) && existsSync(join(root, 'etc/fileA')), `deployment ${i} is complete`);
    for (const [key, src] of [['linux', 'vmlinuz'], ['initrd', 'initramfs.img'], ['devicetree', 'devicetree']]) {
      const p = d.bootconfig.get(key)!;
      assert.deepEqual(readFileSync(join(s, 'boot', p)), readFileSync(join(root, 'usr/lib/modules/6.1.0', src)), `${key} of entry ${i}`);
    }
    assert.equal(uenv.entries[i].kernelImage, `/boot${d.bootconfig.get('linux')}`);
    assert.equal(uenv.entries[i].bootargs, d.bootconfig.get('options'));
  });
  return st.deployments[0].csum;
}

/** Nothing is left that no entry references. */
function assertClean(s: string): void {
  const st = loadSysroot(s);
  assert.ok(!existsSync(join(s, 'boot/loader.tmp')));
  assert.ok(!existsSync(join(s, `boot/loader.${1 - st.bootversion}`)));
  const dirs = readdirSync(join(s, 'ostree/deploy/testos/deploy')).filter((x) => !x.endsWith('.origin')).sort();
  assert.deepEqual(dirs, st.deployments.map((d) => `${d.csum}.${d.serial}`).sort());
  const origins = readdirSync(join(s, 'ostree/deploy/testos/deploy')).filter((x) => x.endsWith('.origin')).sort();
  assert.deepEqual(origins, dirs.map((d) => `${d}.origin`));
  assert.deepEqual(readdirSync(join(s, 'boot/ostree')).sort(), [...new Set(st.deployments.map((d) => `testos-${d.bootcsum}`))].sort());
  for (const b of readdirSync(join(s, 'boot/ostree'))) assert.ok(readdirSync(join(s, 'boot/ostree', b)).every((f) => !f.endsWith('.tmp')));
}

function copyTree(from: string, to: string): void {
  removeScratch(to);
  const r = spawnSync('cp', ['-a', from, to]);
  assert.equal(r.status, 0, r.stderr?.toString());
}

describe('sysroot crash safety (kill at every file-system operation)', function () {
  this.timeout(240_000);
  let tmp: string;
  let child: string;
  let base: string;
  let garbage: string;
  let v1: string;
  let v2: string;
  const tried = { deploy: 0, cleanup: 0, thrown: 0 };

  before(async function () {
    if (!isRoot) {
      console.log('      skipped: a bare sysroot repository needs root');
      this.skip();
    }
    tmp = scratch('canopy-crash-', { memory: true });
    child = join(tmp, 'child.cjs');
    await build({ entryPoints: [join(here, 'crash-child.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: child, logLevel: 'silent' });
    // base: v1 deployed, with local /etc changes, and v2 committed to testos/main.
    base = canopySysroot(join(tmp, 'base'));
    // Interruptions here are process kills, not power cuts: skip fsync to keep the many runs quick.
    const r = Repo.open(join(base, 'ostree/repo'));
    r.config.set('core', 'fsync', 'false');
    r.saveConfig();
    v1 = await commitOs(base, tmp, { version: '1.0' });
    await deploy(base, 'testos/main', { stateroot: 'testos', fsync: false, immutable: false });
    const st = loadSysroot(base);
    const d = join(base, 'ostree/deploy/testos/deploy', `${v1}.0`);
    writeFileSync(join(d, 'etc/fileA'), 'local\n');
    rmSync(join(d, 'etc/fileB'));
    writeFileSync(join(d, 'etc/local-only'), 'mine\n');
    assert.equal(st.deployments.length, 1);
    v2 = await commitOs(base, tmp, { version: '2.0', kernel: 'kernel 2\n', etc: { fileA: 'a2\n', fileB: 'b\n', 'sub/fileC': 'c2\n', fileE: 'e\n' } });
    // garbage: v1, v2 and v3 deployed, plus what interrupted operations and old versions leave.
    garbage = join(tmp, 'garbage');
    copyTree(base, garbage);
    await deploy(garbage, 'testos/main', { stateroot: 'testos', fsync: false, immutable: false, retain: true });
    await commitOs(garbage, tmp, { version: '3.0', kernel: 'kernel 3\n' });
    await deploy(garbage, 'testos/main', { stateroot: 'testos', fsync: false, immutable: false, retain: true });
    await commitOs(garbage, tmp, { version: '9.0', branch: 'orphan/x' });
    const repo = join(garbage, 'ostree/repo');
    rmSync(join(repo, 'refs/heads/orphan'), { recursive: true });
    const g = loadSysroot(garbage);
    assert.equal(g.deployments.length, 3);
    const other = 1 - g.bootversion;
    const junk: Array<[string, string]> = [
      ['boot/loader.tmp', `@loader.${other}`],
      [`boot/loader.${other}/entries/ostree-1-testos.conf`, 'title old\n'],
      [`ostree/deploy/testos/deploy/${'e'.repeat(64)}.0/usr/lib/half-written`, ''],
      [`ostree/deploy/testos/deploy/${'e'.repeat(64)}.0.origin`, '[origin]\nrefspec=x\n'],
      [`boot/ostree/testos-${'9'.repeat(64)}/vmlinuz-1`, 'old kernel'],
      [`ostree/boot.${other}.1/testos/x/0`, '@../../../deploy/x'],
      [`ostree/repo/refs/heads/ostree/${other}/0/0`, `${v1}\n`],
    ];
    for (const [rel, content] of junk) {
      const p = join(garbage, rel);
      spawnSync('mkdir', ['-p', dirname(p)]);
      if (content.startsWith('@')) spawnSync('ln', ['-s', content.slice(1), p]);
      else writeFileSync(p, content);
    }
  });

  after(function () {
    if (tmp) removeScratch(tmp);
    if (tried.deploy + tried.cleanup > 0) console.log(`      kill points tried: deploy ${tried.deploy}, cleanup ${tried.cleanup}; thrown faults: ${tried.thrown}`);
  });

  function runChild(op: string, s: string, k: number): { killed: boolean; ops?: number } {
    const r = spawnSync(process.execPath, [child, op, s, String(k)], { encoding: 'utf8' });
    if (r.signal === 'SIGKILL') return { killed: true };
    assert.equal(r.status, 0, `child ${op} k=${k}: ${r.stderr}`);
    return { killed: false, ops: Number(/OPS (\d+)/.exec(r.stdout)?.[1]) };
  }

  it('deploy: SIGKILL after each operation leaves the old or the new default bootable; a rerun completes', async function () {
    const work = join(tmp, 'work');
    copyTree(base, work);
    const total = runChild('deploy', work, 0).ops!;
    assert.equal(assertBoots(work), v2);
    assert.ok(total > 30, `deploy does ${total} operations`);
    for (let k = 1; k <= total; k++) {
      copyTree(base, work);
      const r = runChild('deploy', work, k);
      assert.ok(r.killed, `killed at ${k}`);
      tried.deploy++;
      const def = assertBoots(work);
      assert.ok(def === v1 || def === v2, `k=${k}: boots v1 or v2`);
      await deploy(work, 'testos/main', { stateroot: 'testos', fsync: false, immutable: false });
      assert.equal(assertBoots(work), v2, `k=${k}: the rerun makes v2 the default`);
      assertClean(work);
      assert.equal(readFileSync(join(work, 'ostree/deploy/testos/deploy', `${v2}.${loadSysroot(work).deployments[0].serial}`, 'etc/fileA'), 'utf8'), 'local\n', `k=${k}: /etc merged`);
    }
  });

  it('cleanup: SIGKILL after each operation keeps the sysroot bootable with the same default; a rerun completes', async function () {
    const work = join(tmp, 'work-c');
    copyTree(garbage, work);
    const before = loadSysroot(work).deployments.map((d) => d.csum);
    const prepared = garbage;
    const total = runChild('cleanup', work, 0).ops!;
    assert.ok(total >= 8, `cleanup does ${total} operations`);
    for (let k = 1; k <= total; k++) {
      copyTree(prepared, work);
      assert.ok(runChild('cleanup', work, k).killed, `killed at ${k}`);
      tried.cleanup++;
      assertBoots(work);
      assert.deepEqual(loadSysroot(work).deployments.map((d) => d.csum), before, `k=${k}: same deployments`);
      await cleanup(work, { fsync: false, immutable: false });
      assertBoots(work);
      assertClean(work);
    }
  });

  it('deploy: an error thrown after each operation leaves it bootable, and the next deploy cleans up', async function () {
    const work = join(tmp, 'work-t');
    for (let k = 1; ; k++) {
      copyTree(base, work);
      let n = 0;
      let thrown = false;
      try {
        await deploy(work, 'testos/main', { stateroot: 'testos', fsync: false, immutable: false, hook: () => { if (++n === k) { thrown = true; throw new Error('injected'); } } });
      } catch (e) {
        assert.equal((e as Error).message.includes('injected'), true);
      }
      if (!thrown) break;
      tried.thrown++;
      const def = assertBoots(work);
      assert.ok(def === v1 || def === v2);
      await deploy(work, 'testos/main', { stateroot: 'testos', fsync: false, immutable: false });
      assert.equal(assertBoots(work), v2);
      assertClean(work);
    }
    assert.ok(tried.thrown > 30);
  });
});
