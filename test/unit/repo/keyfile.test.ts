import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { KeyFile } from '../../../agent/src/repo/keyfile';

describe('repo/keyfile', () => {
  it('keeps comments, order and unknown keys through a rewrite', () => {
    const text = '# repo config\n[core]\nrepo_version=1\nmode=archive-z2\n\n[remote "origin"]\nurl=http://example.invalid/repo\ngpg-verify=false\n';
    const kf = KeyFile.parse(text);
    assert.equal(kf.get('core', 'mode'), 'archive-z2');
    assert.equal(kf.getBoolean('remote "origin"', 'gpg-verify', true), false);
    assert.equal(kf.toString(), text);
    kf.set('core', 'indexed-deltas', 'true');
    assert.match(kf.toString(), /mode=archive-z2\nindexed-deltas=true\n\n\[remote/);
  });

  it('escapes and unescapes values like GLib', () => {
    const kf = new KeyFile();
    kf.set('g', 'k', ' lead\nline\\x');
    const back = KeyFile.parse(kf.toString());
    assert.equal(back.get('g', 'k'), ' lead\nline\\x');
  });

  it('refuses malformed lines with the line number', () => {
    assert.throws(() => KeyFile.parse('[core]\nnot a pair\n', 'cfg'), (e: unknown) => isCanopyError(e, 'ERR_CONFIG_INVALID') && /cfg:2/.test(e.message));
    assert.throws(() => KeyFile.parse('key=value\n'), (e: unknown) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
    assert.throws(() => KeyFile.parse('[core]\nfsync=maybe\n').getBoolean('core', 'fsync', true), (e: unknown) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
  });
});
