import { strict as assert } from 'node:assert';
import { osReleaseTitle, parseOsRelease, shellUnquote } from '../../../agent/src/sysroot/os-release';

describe('sysroot/os-release', function () {
  it('unquotes like g_shell_unquote', function () {
    assert.equal(shellUnquote('"TestOS 42"'), 'TestOS 42');
    assert.equal(shellUnquote("'a \\b'"), 'a \\b');
    assert.equal(shellUnquote('"a \\"b\\" \\n"'), 'a "b" \\n');
    assert.equal(shellUnquote('plain\\ word'), 'plain word');
    assert.equal(shellUnquote('"open'), undefined);
  });

  it('takes PRETTY_NAME, else ID; comments and broken lines are skipped', function () {
    assert.equal(osReleaseTitle('NAME=x\nID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'), 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(osReleaseTitle('# PRETTY_NAME=no\nID=poky\nPRETTY_NAME="broken\n'), 'poky');
    assert.equal(osReleaseTitle('NAME=x\n'), undefined);
    assert.equal(parseOsRelease('A=1\nA=2\n').get('A'), '2');
  });
});
