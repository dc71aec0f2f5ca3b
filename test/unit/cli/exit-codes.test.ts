import { strict as assert } from 'node:assert';
import { exitCodeFor, exitCodeHelp, ExitCode } from '../../../agent/src/cli/exit-codes';
import { ErrorCodes } from '../../../agent/src/core/errors';

describe('exit codes', () => {
  it('keeps the documented table stable', () => {
    assert.deepEqual(ExitCode, { OK: 0, FAILURE: 1, USAGE: 2, NOT_FOUND: 3, CORRUPT: 4, UNTRUSTED: 5, PERMISSION: 6, NO_SPACE: 7, NETWORK: 8 });
    assert.equal(exitCodeFor('ERR_USAGE'), 2);
    assert.equal(exitCodeFor('ERR_REF_NOT_FOUND'), 3);
    assert.equal(exitCodeFor('ERR_OBJECT_NOT_FOUND'), 3);
    assert.equal(exitCodeFor('ERR_PATH_NOT_FOUND'), 3);
    assert.equal(exitCodeFor('ERR_CHECKSUM_MISMATCH'), 4);
    assert.equal(exitCodeFor('ERR_FSCK_FAILED'), 4);
    assert.equal(exitCodeFor('ERR_SIGNATURE_INVALID'), 5);
    assert.equal(exitCodeFor('ERR_KEY_UNTRUSTED'), 5);
    assert.equal(exitCodeFor('ERR_PERMISSION'), 6);
    assert.equal(exitCodeFor('ERR_NO_SPACE'), 7);
    assert.equal(exitCodeFor('ERR_IO'), 1);
    assert.equal(exitCodeFor(undefined), 1);
    assert.equal(exitCodeFor('ERR_SOMETHING_NEW'), 1);
  });

  it('maps only codes that exist, and documents each in the help', () => {
    const help = exitCodeHelp();
    for (const line of help.split('\n').filter((l) => /^ {5}ERR_/.test(l))) {
      for (const code of line.trim().split(' ')) assert.ok(code in ErrorCodes, `${code} is not an ErrorCode`);
    }
    for (const code of Object.keys(ErrorCodes)) {
      if (exitCodeFor(code) !== 1) assert.ok(help.includes(code), `${code} is mapped but not documented`);
    }
  });
});
