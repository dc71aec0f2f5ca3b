/**
 * Deployments against the real `ostree admin` (2022.7 in CI), both ways:
 *
 * - twin sysroots (ostree's U-Boot stub, the same commits): `ostree admin
 *   deploy` in one, Canopy's deploy in the other, for a first deploy with
 *   kernel arguments, a second one after local /etc changes, a pin and a
 *   third one with --karg-append. The BLS entries and uEnv.txt are compared
 *   byte for byte, and the whole sysroots (except the repository) entry by
 *   entry: types, modes, owners, contents, symlink targets, xattrs.
 * - `ostree admin status` reads what Canopy wrote (also after a rollback),
 *   and prints what Canopy's status prints.
 * - Canopy reads, upgrades and rolls back a sysroot ostree made, and ostree
 *   keeps working on it afterwards.
 * - /etc merge corner cases compared with what `ostree admin deploy` does.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../agent/src/core/errors';
import { Repo } from '../../agent/src/repo/repo';
import { deploy, formatStatus, loadSysroot, rollback, setPinned, sysrootStatus, upgrade } from '../../agent/src/sysroot/index';
import {
  commitOs, isRoot, loaderFiles, makeOstreeSysroot, ostree, present, removeScratch, writeOsTree, type OsTreeSpec,
} from '../helpers/sysroot-fixture';
import { compareTrees } from '../helpers/tree-compare';
import { scratch } from '../unit/sysroot/fixture';

const TS = (n: number): string => `2023-0${n}-01 00:00:00 +0000`;

function ostreeStatus(sysroot: string): string {
  return ostree('admin', 'status', `--sysroot=${sysroot}`);
}

function canopyStatus(sysroot: string): string {
  return formatStatus(sysrootStatus(loadSysroot(sysroot), Repo.open(join(sysroot, 'ostree/repo'))));
}

function deployDir(sysroot: string, index = 0): string {
  const d = loadSysroot(sysroot).deployments[index];
  return join(sysroot, 'ostree/deploy', d.stateroot, 'deploy', `${d.csum}.${d.serial}`);
}

/** The loader files and the whole sysroot (except the repository) must match. */
function assertTwins(a: string, b: string, what: string): void {
  const fa = loaderFiles(a);
  const fb = loaderFiles(b);
  assert.deepEqual([...fb.keys()], [...fa.keys()], `${what}: same loader files`);
  for (const [k, v] of fa) assert.equal(fb.get(k), v, `${what}: ${k} byte for byte`);
  const diffs = compareTrees(a, b, { ignore: (p) => p === 'ostree/repo', ignoreRoot: true });
  assert.deepEqual(diffs, [], `${what}: sysroots differ`);
  assert.equal(canopyStatus(b), ostreeStatus(b), `${what}: Canopy's status text is ostree's`);
  assert.equal(ostreeStatus(b), ostreeStatus(a), `${what}: ostree reads both the same`);
}

/** Local /etc edits covering the merge's cases. */
function editEtc(etc: string): void {
  writeFileSync(join(etc, 'fileA'), 'local edit\n');
  unlinkSync(join(etc, 'fileB'));
  writeFileSync(join(etc, 'fileD'), 'local only\n');
  chmodSync(join(etc, 'sub/fileC'), 0o600);
  unlinkSync(join(etc, 'link'));
  symlinkSync('fileD', join(etc, 'link'));
  symlinkSync('../fileA', join(etc, 'sub/newlink'));
  mkdirSync(join(etc, 'added/deeper'), { recursive: true });
  writeFileSync(join(etc, 'added/deeper/conf'), 'x=1\n');
  chmodSync(join(etc, 'added'), 0o750);
  rmSync(join(etc, 'gone'), { recursive: true });
  unlinkSync(join(etc, 'toLink'));
  symlinkSync('fileA', join(etc, 'toLink'));
  writeFileSync(join(etc, 'dropped-upstream'), 'edited locally\n');
  unlinkSync(join(etc, 'changed-upstream'));
}

const ETC1: OsTreeSpec['etc'] = {
  fileA: 'a\n', fileB: 'b\n', 'sub/fileC': 'c\n', link: { link: 'fileA' }, 'gone/x': 'x\n', toLink: 't\n',
  'dropped-upstream': 'd\n', 'changed-upstream': 'c1\n', 'priv/secret': { file: 's\n', mode: 0o600 },
};
const ETC2: OsTreeSpec['etc'] = {
  fileA: 'a2\n', fileB: 'b\n', 'sub/fileC': 'c2\n', link: { link: 'fileA' }, 'gone/x': 'x\n', toLink: 't\n',
  'changed-upstream': 'c2\n', fileE: 'new upstream\n', 'added/deeper/conf': 'upstream=1\n', 'priv/secret': { file: 's2\n', mode: 0o600 },
};

describe('interop: sysroot deployments against ostree admin', function () {
  this.timeout(120_000);
  let tmp: string;

  before(function () {
    if (!present('ostree')) {
      console.log('      skipped: ostree not installed (Debian package ostree)');
      this.skip();
    }
    if (!isRoot) {
      console.log('      skipped: ostree admin deploy needs root');
      this.skip();
    }
    tmp = scratch('canopy-admin-interop-');
  });
  after(() => tmp && removeScratch(tmp));

  it('twin sysroots: Canopy writes what ostree admin deploy writes, through an /etc merge, a pin and kernel-argument edits', async function () {
    const tree = writeOsTree(join(tmp, 'tree'), { etc: ETC1 });
    const a = makeOstreeSysroot(join(tmp, 'a'));
    const b = makeOstreeSysroot(join(tmp, 'b'));
    const c1 = commitOs(a, tree, { version: '1.0', timestamp: TS(1) });
    assert.equal(commitOs(b, tree, { version: '1.0', timestamp: TS(1) }), c1);

    ostree('admin', 'deploy', `--sysroot=${a}`, '--os=testos', '--karg=root=LABEL=rootfs', '--karg=quiet', 'testos/main');
    await deploy(b, 'testos/main', { stateroot: 'testos', kargEdits: { replace: ['root=LABEL=rootfs', 'quiet'] } });
    assertTwins(a, b, 'first deploy');

    for (const s of [a, b]) editEtc(join(deployDir(s), 'etc'));
    rmSync(join(tree, 'usr/etc'), { recursive: true });
    writeOsTree(tree, { etc: ETC2, kernel: 'kernel 2\n' });
    const c2 = commitOs(a, tree, { version: '2.0', timestamp: TS(2) });
    assert.equal(commitOs(b, tree, { version: '2.0', timestamp: TS(2) }), c2);
    const out = ostree('admin', 'deploy', `--sysroot=${a}`, '--os=testos', 'testos/main');
    const lines: string[] = [];
    const r = await deploy(b, 'testos/main', { stateroot: 'testos', log: (l) => lines.push(l) });
    const copying = /Copying \/etc changes: .*/.exec(out)?.[0];
    assert.ok(copying && lines.includes(copying), `same /etc summary: ${copying} vs ${lines.join(' | ')}`);
    assert.ok(r.etc && r.etc.modified > 0 && r.etc.removed > 0 && r.etc.added > 0);
    assertTwins(a, b, 'second deploy with local /etc changes');

    ostree('admin', 'pin', `--sysroot=${a}`, '1');
    await setPinned(b, 1, true);
    writeFileSync(join(tree, 'usr/etc/fileF'), 'f\n');
    commitOs(a, tree, { version: '3.0', timestamp: TS(3) });
    commitOs(b, tree, { version: '3.0', timestamp: TS(3) });
    ostree('admin', 'deploy', `--sysroot=${a}`, '--os=testos', '--karg-append=console=ttyS0', '--karg-delete=quiet', 'testos/main');
    await deploy(b, 'testos/main', { stateroot: 'testos', kargEdits: { append: ['console=ttyS0'], delete: ['quiet'] } });
    assertTwins(a, b, 'third deploy after a pin');
    assert.equal(loadSysroot(b).deployments.length, 3);
  });

  it('ostree admin status reads a Canopy rollback; ostree keeps deploying on that sysroot', async function () {
    const tree = writeOsTree(join(tmp, 'tree-r'));
    const s = makeOstreeSysroot(join(tmp, 'r'));
    commitOs(s, tree, { version: '1.0', timestamp: TS(1) });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    writeOsTree(tree, { kernel: 'kernel 2\n' });
    commitOs(s, tree, { version: '2.0', timestamp: TS(2) });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    const versionsIn = (text: string): string[] => [...text.matchAll(/Version: (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(versionsIn(ostreeStatus(s)), ['2.0', '1.0']);
    await rollback(s);
    assert.deepEqual(versionsIn(ostreeStatus(s)), ['1.0', '2.0'], 'ostree sees the rolled-back order');
    assert.equal(canopyStatus(s), ostreeStatus(s));
    writeOsTree(tree, { kernel: 'kernel 3\n' });
    commitOs(s, tree, { version: '3.0', timestamp: TS(3) });
    ostree('admin', 'deploy', `--sysroot=${s}`, '--os=testos', 'testos/main');
    assert.deepEqual(versionsIn(ostreeStatus(s)), ['3.0', '1.0'], 'ostree deploys over Canopy\'s layout (keeping its merge deployment)');
    ostree('admin', 'cleanup', `--sysroot=${s}`);
    assert.equal(canopyStatus(s), ostreeStatus(s));
  });

  it('Canopy reads, upgrades and rolls back a sysroot ostree made', async function () {
    const tree = writeOsTree(join(tmp, 'tree-u'));
    const s = makeOstreeSysroot(join(tmp, 'u'));
    commitOs(s, tree, { version: '1.0', timestamp: TS(1) });
    ostree('admin', 'deploy', `--sysroot=${s}`, '--os=testos', '--karg=root=LABEL=rootfs', 'testos/main');
    assert.equal(canopyStatus(s), ostreeStatus(s));
    writeFileSync(join(deployDir(s), 'etc/fileA'), 'local\n');
    writeOsTree(tree, { kernel: 'kernel 2\n', etc: { fileA: 'a2\n', fileB: 'b\n', 'sub/fileC': 'c\n' } });
    const c2 = commitOs(s, tree, { version: '2.0', timestamp: TS(2) });
    const up = await upgrade(s, { stateroot: 'testos' });
    assert.equal(up.to, c2);
    const st = loadSysroot(s);
    assert.match(st.deployments[0].bootconfig.get('options')!, /^root=LABEL=rootfs ostree=/, 'kernel arguments carried from ostree\'s entry');
    assert.equal(readFileSync(join(deployDir(s), 'etc/fileA'), 'utf8'), 'local\n');
    assert.match(ostreeStatus(s), /Version: 2\.0[\s\S]*Version: 1\.0/);
    await rollback(s);
    assert.match(ostreeStatus(s), /Version: 1\.0[\s\S]*Version: 2\.0/);
    // ostree's immutable deployment roots are removed too when Canopy cleans up.
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    assert.equal(readdirSync(join(s, 'ostree/deploy/testos/deploy')).filter((x) => !x.endsWith('.origin')).length, 2);
  });

  it('/etc merge conflicts: both tools refuse a local file where the new default is a directory', async function () {
    const tree = writeOsTree(join(tmp, 'tree-c'), { etc: { fileA: 'a\n', 'x': 'file\n' } });
    const a = makeOstreeSysroot(join(tmp, 'ca'));
    const b = makeOstreeSysroot(join(tmp, 'cb'));
    for (const s of [a, b]) commitOs(s, tree, { version: '1.0', timestamp: TS(1) });
    ostree('admin', 'deploy', `--sysroot=${a}`, '--os=testos', 'testos/main');
    await deploy(b, 'testos/main', { stateroot: 'testos' });
    for (const s of [a, b]) writeFileSync(join(deployDir(s), 'etc/x'), 'edited\n');
    rmSync(join(tree, 'usr/etc'), { recursive: true });
    writeOsTree(tree, { etc: { fileA: 'a\n', 'x/inside': 'now a directory\n' } });
    for (const s of [a, b]) commitOs(s, tree, { version: '2.0', timestamp: TS(2) });
    const r = spawnSync('ostree', ['admin', 'deploy', `--sysroot=${a}`, '--os=testos', 'testos/main'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /newly defaults to directory/);
    await assert.rejects(deploy(b, 'testos/main', { stateroot: 'testos' }), (e: unknown) => isCanopyError(e, 'ERR_ETC_MERGE_CONFLICT'));
    assert.equal(canopyStatus(b), ostreeStatus(b), 'the old deployment still boots');
  });
});
