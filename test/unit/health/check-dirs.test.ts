import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { listHealthDir } from '../../../agent/src/health/check-dirs';
import { ETC, USR, maskLink, plain, script, tempRoot } from './fixtures';

describe('health/check-dirs', () => {
  let root = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ root, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('merges the layers by name in byte order; /etc replaces /usr/lib', async () => {
    await script(root, USR, 'required.d', '20-b', 'exit 0');
    await script(root, USR, 'required.d', '10-a', 'exit 0');
    await script(root, ETC, 'required.d', '20-b', 'exit 1');
    await script(root, ETC, 'required.d', '15-Z', 'exit 0');
    await script(root, ETC, 'required.d', '15-a', 'exit 0');
    const l = await listHealthDir('required', { root });
    assert.deepEqual(l.checks.map((c) => [c.name, c.layer]), [
      ['10-a', USR], ['15-Z', ETC], ['15-a', ETC], ['20-b', ETC],
    ]);
    assert.equal(l.checks[3].path, join(root, ETC, 'required.d', '20-b'));
    assert.deepEqual(l.notes, []);
  });

  it('masks a name with a symlink to /dev/null or an empty file in a higher layer', async () => {
    await script(root, USR, 'wanted.d', '10-a', 'exit 0');
    await script(root, USR, 'wanted.d', '20-b', 'exit 0');
    await script(root, USR, 'wanted.d', '30-c', 'exit 0');
    await maskLink(root, ETC, 'wanted.d', '10-a');
    await plain(root, ETC, 'wanted.d', '20-b', '');
    const l = await listHealthDir('wanted', { root });
    assert.deepEqual(l.checks.map((c) => c.name), ['30-c']);
    assert.deepEqual(l.notes.map((n) => [n.level, n.name]), [['info', '10-a'], ['info', '20-b']]);
    assert.match(l.notes[0].message, /masked/);
  });

  it('skips files that are not executable, directories and dangling links, with warnings; ignores dotfiles', async () => {
    await script(root, USR, 'required.d', '10-noexec.sh', 'exit 0', 0o644);
    await mkdir(join(root, USR, 'required.d', '20-dir'));
    await symlink('/nonexistent/x', join(root, USR, 'required.d', '30-dangling'));
    await script(root, USR, 'required.d', '.40-hidden', 'exit 0');
    await script(root, USR, 'required.d', '50-ok', 'exit 0');
    const l = await listHealthDir('required', { root });
    assert.deepEqual(l.checks.map((c) => c.name), ['50-ok']);
    assert.deepEqual(l.notes.map((n) => [n.level, n.name]), [['warning', '10-noexec.sh'], ['warning', '20-dir'], ['warning', '30-dangling']]);
    assert.match(l.notes[0].message, /not executable/);
  });

  it('follows a symlink to an executable elsewhere', async () => {
    const target = await script(root, '/opt', 'bin', 'real-check', 'exit 0');
    await mkdir(join(root, ETC, 'required.d'), { recursive: true });
    await symlink(target, join(root, ETC, 'required.d', '10-linked'));
    const l = await listHealthDir('required', { root });
    assert.deepEqual(l.checks.map((c) => c.name), ['10-linked']);
  });

  it('treats NAME.json as the settings of NAME, layered like the checks', async () => {
    await script(root, USR, 'required.d', '10-a', 'exit 0');
    await plain(root, USR, 'required.d', '10-a.json', '{"timeoutSec": 5}');
    await plain(root, ETC, 'required.d', '10-a.json', '{"timeoutSec": 9}');
    const l = await listHealthDir('required', { root });
    assert.deepEqual(l.checks.map((c) => c.name), ['10-a']);
    assert.equal(l.settings.get('10-a')?.path, join(root, ETC, 'required.d', '10-a.json'));
  });

  it('returns nothing for missing directories and custom layers', async () => {
    assert.deepEqual((await listHealthDir('green', { root })).checks, []);
    await script(root, '/a', 'red.d', 'x', 'exit 0');
    await script(root, '/b', 'red.d', 'x', 'exit 1');
    const l = await listHealthDir('red', { root, layers: ['/b', '/a'] });
    assert.equal(l.checks[0].layer, '/a');
  });

  it('fails (does not pass silently) when a layer directory exists but cannot be read', async () => {
    await mkdir(join(root, ETC), { recursive: true });
    await symlink('required.d', join(root, ETC, 'required.d'));
    await assert.rejects(listHealthDir('required', { root }), (e: unknown) => isCanopyError(e, 'ERR_IO') && /ELOOP|symbolic links/.test((e as Error).message));
  });
});
