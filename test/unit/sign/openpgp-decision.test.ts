import { strict as assert } from 'node:assert';
import { decideOpenPgp, type OpenPgpSignatureCheck, type OpenPgpSignatureStatus } from '../../../agent/src/sign/openpgp-decision';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';

const check = (index: number, status: OpenPgpSignatureStatus): OpenPgpSignatureCheck => ({
  index,
  element: index,
  status,
  keyId: `00000000000000${index.toString(16).padStart(2, '0').toUpperCase()}`,
  fingerprint: status === 'untrusted' ? undefined : `F${index}`,
  primaryFingerprint: status === 'untrusted' ? undefined : `P${index}`,
  message: `${status} #${index}`,
});

function throwsCode(statuses: OpenPgpSignatureStatus[], code: ErrorCode, blamed: number): void {
  assert.throws(() => decideOpenPgp(statuses.map((s, i) => check(i, s))), (e: unknown) => {
    if (!isCanopyError(e, code)) assert.fail(`${statuses.join(',')}: expected ${code}, got ${String(e)}`);
    assert.equal(e.details.keyId, check(blamed, 'good').keyId, `${statuses.join(',')}: blames #${blamed}`);
    assert.equal((e.details.failures as string[]).length, statuses.filter((s) => s !== 'good').length);
    return true;
  });
}

describe('sign/openpgp-decision', () => {
  it('takes the first good signature and keeps every check', () => {
    const r = decideOpenPgp([check(0, 'untrusted'), check(1, 'good'), check(2, 'good')]);
    assert.equal(r.keyId, check(1, 'good').keyId);
    assert.equal(r.fingerprint, 'F1');
    assert.equal(r.primaryFingerprint, 'P1');
    assert.equal(r.checks.length, 3);
  });

  it('lets a bad signature refuse the set, before or after a good one', () => {
    throwsCode(['bad', 'good'], 'ERR_SIGNATURE_INVALID', 0);
    throwsCode(['good', 'bad'], 'ERR_SIGNATURE_INVALID', 1);
  });

  it('reports the most telling failure: revoked, key expired, signature problems, untrusted', () => {
    throwsCode(['untrusted', 'invalid', 'key-expired', 'revoked'], 'ERR_KEY_REVOKED', 3);
    throwsCode(['untrusted', 'signature-expired', 'key-expired'], 'ERR_KEY_EXPIRED', 2);
    throwsCode(['untrusted', 'invalid', 'signature-expired'], 'ERR_SIGNATURE_INVALID', 2);
    throwsCode(['untrusted', 'invalid'], 'ERR_SIGNATURE_INVALID', 1);
    throwsCode(['untrusted', 'untrusted'], 'ERR_KEY_UNTRUSTED', 0);
  });

  it('refuses an empty set', () => {
    assert.throws(() => decideOpenPgp([]), (e: unknown) => isCanopyError(e, 'ERR_SIGNATURE_INVALID'));
  });
});
