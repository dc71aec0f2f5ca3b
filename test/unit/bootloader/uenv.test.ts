import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import type { BootEntry } from '../../../agent/src/bootloader/boot-entry';
import { parseUenv, serializeUenv } from '../../../agent/src/bootloader/uenv';
import { requireTools, tempDir } from './tools';

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCanopyError(e, code), `expected ${code}, got ${String(e)}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const A: BootEntry = { linux: '/ostree/os-aa/vmlinuz-6.1.0', initrd: '/ostree/os-aa/initramfs-6.1.0.img', options: 'root=LABEL=r ostree=/ostree/boot.1/os/aa/0' };
const B: BootEntry = { linux: '/ostree/os-bb/vmlinuz-6.1.0', devicetree: '/ostree/os-bb/devicetree-6.1.0', options: 'quiet ostree=/ostree/boot.1/os/bb/0' };

describe('bootloader/uenv: serializeUenv and parseUenv', () => {
  it('writes ostree\'s keys with the /boot prefix and suffixes "", 2, 3', () => {
    const text = serializeUenv([A, B, { linux: '/ostree/os-cc/vmlinuz', fdtdir: '/ostree/os-cc/dtb' }]);
    assert.equal(text, [
      'kernel_image=/boot/ostree/os-aa/vmlinuz-6.1.0',
      'ramdisk_image=/boot/ostree/os-aa/initramfs-6.1.0.img',
      'bootargs=root=LABEL=r ostree=/ostree/boot.1/os/aa/0',
      'kernel_image2=/boot/ostree/os-bb/vmlinuz-6.1.0',
      'fdt_file2=/boot/ostree/os-bb/devicetree-6.1.0',
      'bootargs2=quiet ostree=/ostree/boot.1/os/bb/0',
      'kernel_image3=/boot/ostree/os-cc/vmlinuz',
      'fdtdir3=/boot/ostree/os-cc/dtb',
      '',
    ].join('\n'));
  });

  it('appends the system uEnv.txt after the first bootargs, with ostree\'s blank-line rules', () => {
    assert.equal(serializeUenv([A, B], { systemUenv: 'bootcmd=run mmcboot\n' }).split('\n').slice(2, 6).join('|'),
      'bootargs=root=LABEL=r ostree=/ostree/boot.1/os/aa/0|bootcmd=run mmcboot||kernel_image2=/boot/ostree/os-bb/vmlinuz-6.1.0');
    // an empty file is one blank line; without options nothing is appended
    assert.match(serializeUenv([A], { systemUenv: '' }), /\/0\n\n$/);
    assert.equal(serializeUenv([{ linux: '/k' }], { systemUenv: 'x=1\n' }), 'kernel_image=/boot/k\n');
  });

  it('parses what it writes, ignoring comments and CRLF, keeping other lines as extra', () => {
    const text = `# comment\r\n${serializeUenv([A, B], { systemUenv: 'bootcmd=run a=b\nfdtfile=x.dtb' })}\n`;
    const parsed = parseUenv(text);
    assert.deepEqual(parsed.entries, [
      { kernelImage: '/boot/ostree/os-aa/vmlinuz-6.1.0', ramdiskImage: '/boot/ostree/os-aa/initramfs-6.1.0.img', bootargs: A.options },
      { kernelImage: '/boot/ostree/os-bb/vmlinuz-6.1.0', fdtFile: '/boot/ostree/os-bb/devicetree-6.1.0', bootargs: B.options },
    ]);
    assert.deepEqual(parsed.extra, [['bootcmd', 'run a=b'], ['fdtfile', 'x.dtb']]);
  });

  it('round-trips any safe entries', () => {
    const path = fc.stringMatching(/^\/[a-z0-9._/-]{1,30}$/);
    const entry = fc.record({ linux: path, initrd: fc.option(path, { nil: undefined }), options: fc.option(fc.stringMatching(/^[ -~]{0,40}$/), { nil: undefined }) });
    fc.assert(fc.property(fc.array(entry, { minLength: 1, maxLength: 5 }), (entries) => {
      const parsed = parseUenv(serializeUenv(entries.map((e) => JSON.parse(JSON.stringify(e)) as BootEntry)));
      assert.equal(parsed.entries.length, entries.length);
      parsed.entries.forEach((p, i) => {
        assert.equal(p.kernelImage, `/boot${entries[i].linux}`);
        assert.equal(p.bootargs, entries[i].options);
      });
    }));
  });

  it('refuses entries that would inject lines or are not absolute paths', () => {
    throwsCode(() => serializeUenv([]), 'ERR_BOOT_ENTRY_INVALID', /at least one/);
    throwsCode(() => serializeUenv([{ ...A, options: 'quiet\nbootcmd=reset' }]), 'ERR_BOOT_ENTRY_INVALID', /boot entry 0: options contains a control/);
    throwsCode(() => serializeUenv([A, { linux: 'ostree/x' }]), 'ERR_BOOT_ENTRY_INVALID', /boot entry 1: linux/);
    throwsCode(() => serializeUenv([{ linux: '/a b' }]), 'ERR_BOOT_ENTRY_INVALID', /without spaces/);
    throwsCode(() => serializeUenv([{} as BootEntry]), 'ERR_BOOT_ENTRY_INVALID', /linux is missing/);
    throwsCode(() => serializeUenv([A], { systemUenv: 'a\0' }), 'ERR_INVALID_ARGUMENT');
  });

  it('refuses malformed uEnv.txt', () => {
    throwsCode(() => parseUenv('kernel_image=/k\nnovalue\n'), 'ERR_ENV_INVALID', /line 2/);
    throwsCode(() => parseUenv('=x\n'), 'ERR_ENV_INVALID', /line 1/);
    throwsCode(() => parseUenv('kernel_image=/k\nkernel_image3=/k3\n'), 'ERR_ENV_INVALID', /no entry 1 \(suffix "2"\)/);
    throwsCode(() => parseUenv('bootargs2=x\nkernel_image=/k\n'), 'ERR_ENV_INVALID', /entry 1 has no kernel_image2/);
    throwsCode(() => parseUenv('a=\0'), 'ERR_ENV_INVALID', /NUL/);
    throwsCode(() => parseUenv('x'.repeat(70_000)), 'ERR_ENV_INVALID', /longer than/);
    assert.deepEqual(parseUenv('kernel_image1=/k\n').extra, [['kernel_image1', '/k']]);
  });
});

/** The BLS entries of the current bootversion, default first (highest version). */
async function blsEntries(sysroot: string): Promise<BootEntry[]> {
  const dir = join(sysroot, 'boot', 'loader', 'entries');
  const files = (await readdir(dir)).filter((f) => f.startsWith('ostree-') && f.endsWith('.conf'));
  const parsed = await Promise.all(files.map(async (f) => {
    const fields = new Map<string, string>();
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      const sp = line.indexOf(' ');
      if (sp > 0) fields.set(line.slice(0, sp), line.slice(sp + 1));
    }
    return fields;
  }));
  parsed.sort((a, b) => Number(b.get('version')) - Number(a.get('version')));
  return parsed.map((f) => {
    const e: BootEntry = { linux: f.get('linux') ?? '' };
    for (const k of ['initrd', 'devicetree', 'fdtdir', 'options'] as const) if (f.has(k)) e[k] = f.get(k);
    return e;
  });
}

describe('bootloader/uenv: byte-compatible with ostree admin deploy (U-Boot backend)', function () {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  const os = 'testos';
  before(async function () {
    requireTools(this, 'ostree', 'ostree');
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup());

  const sysroot = (): string => join(dir, 'sysroot');
  // mutable-deployments: ostree would otherwise make each deployment immutable (chattr +i)
  // and the temp dir could not be removed.
  const ostree = (...args: string[]): string => {
    const r = spawnSync('ostree', args, { encoding: 'utf8', timeout: 20_000, env: { ...process.env, OSTREE_SYSROOT_DEBUG: 'mutable-deployments' } });
    if (r.status !== 0) throw new Error(`ostree ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };

  /** Commits a bootable tree for `kver` whose kernel says `tag`, with optional extras. */
  async function commit(tag: string, extras: { devicetree?: boolean; dtbDir?: boolean; systemUenv?: string } = {}): Promise<void> {
    const tree = join(dir, `tree-${tag}`);
    const mod = join(tree, 'usr', 'lib', 'modules', '6.1.0');
    await mkdir(mod, { recursive: true });
    await mkdir(join(tree, 'usr', 'etc'), { recursive: true });
    await writeFile(join(mod, 'vmlinuz'), `kernel ${tag}\n`);
    await writeFile(join(mod, 'initramfs.img'), `initramfs ${tag}\n`);
    if (extras.devicetree) await writeFile(join(mod, 'devicetree'), `dtb ${tag}\n`);
    if (extras.dtbDir) {
      await mkdir(join(mod, 'dtb', 'vendor'), { recursive: true });
      await writeFile(join(mod, 'dtb', 'vendor', 'board.dtb'), `dtb ${tag}\n`);
    }
    if (extras.systemUenv !== undefined) {
      await mkdir(join(tree, 'usr', 'lib', 'ostree-boot'), { recursive: true });
      await writeFile(join(tree, 'usr', 'lib', 'ostree-boot', 'uEnv.txt'), extras.systemUenv);
    }
    await writeFile(join(tree, 'usr', 'lib', 'os-release'), `ID=${os}\nPRETTY_NAME="Test OS ${tag}"\n`);
    ostree(`--repo=${join(sysroot(), 'ostree', 'repo')}`, 'commit', '--bootable', '-b', `${os}/main`, '-s', tag,
      '--add-metadata-string', `version=${tag}`, `--tree=dir=${tree}`);
  }

  async function systemUenvOf(entry: BootEntry): Promise<string | undefined> {
    const karg = (entry.options ?? '').split(' ').find((a) => a.startsWith('ostree='));
    assert.ok(karg, 'entry has an ostree= karg');
    try {
      return await readFile(join(sysroot(), karg.slice('ostree='.length), 'usr', 'lib', 'ostree-boot', 'uEnv.txt'), 'utf8');
    } catch {
      return undefined;
    }
  }

  async function expectSameAsOstree(count: number): Promise<void> {
    const written = await readFile(join(sysroot(), 'boot', 'loader', 'uEnv.txt'), 'utf8');
    const entries = await blsEntries(sysroot());
    assert.equal(entries.length, count);
    assert.equal(serializeUenv(entries, { systemUenv: await systemUenvOf(entries[0]) }), written);
    assert.equal(parseUenv(written).entries.length, count);
  }

  it('matches uEnv.txt after each of four deploys (2, 3 entries, devicetree, dtb dir, system uEnv.txt)', async () => {
    await mkdir(sysroot());
    ostree('admin', 'init-fs', sysroot());
    ostree('admin', 'os-init', `--sysroot=${sysroot()}`, os);
    // the U-Boot stub an installer sets up (ostree-formats Appendix A.1)
    await mkdir(join(sysroot(), 'boot', 'loader.0'), { recursive: true });
    await symlink('loader.0', join(sysroot(), 'boot', 'loader'));
    await writeFile(join(sysroot(), 'boot', 'loader', 'uEnv.txt'), '');
    await symlink('loader/uEnv.txt', join(sysroot(), 'boot', 'uEnv.txt'));

    await commit('1.0');
    ostree('admin', 'deploy', `--sysroot=${sysroot()}`, `--os=${os}`, '--karg=root=LABEL=rootfs', '--karg=quiet', `${os}/main`);
    await expectSameAsOstree(1);

    await commit('2.0', { devicetree: true, systemUenv: 'bootcmd=run canopy_boot\nfdtfile=vendor/board.dtb\n' });
    ostree('admin', 'deploy', `--sysroot=${sysroot()}`, `--os=${os}`, `${os}/main`);
    await expectSameAsOstree(2);
    const text = await readFile(join(sysroot(), 'boot', 'loader', 'uEnv.txt'), 'utf8');
    assert.match(text, /\nfdt_file=\/boot\/ostree\/testos-[0-9a-f]{64}\/devicetree-6\.1\.0\nbootargs=.*\nbootcmd=run canopy_boot\nfdtfile=vendor\/board\.dtb\n\nkernel_image2=/);

    ostree('admin', 'pin', `--sysroot=${sysroot()}`, '1');
    await commit('3.0', { dtbDir: true, systemUenv: '' });
    ostree('admin', 'deploy', `--sysroot=${sysroot()}`, `--os=${os}`, `${os}/main`);
    await expectSameAsOstree(3);
    assert.match(await readFile(join(sysroot(), 'boot', 'loader', 'uEnv.txt'), 'utf8'), /\nfdtdir=\/boot\/ostree\/testos-[0-9a-f]{64}\/dtb\n[^]*kernel_image3=/);
  });
});
