import assert from 'node:assert/strict';
import { OutputTail, tailChars } from '../../../agent/src/health/output-tail';

describe('health/output-tail', () => {
  it('keeps the last bytes whatever the chunking, and counts all', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    for (const chunk of [1, 7, 64, 333, 1000]) {
      const t = new OutputTail(100);
      for (let i = 0; i < data.length; i += chunk) t.push(data.subarray(i, i + chunk));
      assert.deepEqual(t.bytes(), data.subarray(900));
      assert.equal(t.totalBytes, 1000);
      assert.equal(t.truncated, true);
    }
    const small = new OutputTail(100);
    small.push(Buffer.from('hi'));
    assert.equal(small.text(), 'hi');
    assert.equal(small.truncated, false);
  });

  it('drops a character split by the cut instead of printing garbage', () => {
    const t = new OutputTail(4);
    t.push(Buffer.from('xxé€'));
    assert.equal(t.text(), '€');
    const whole = new OutputTail(5);
    whole.push(Buffer.from('xxé€'));
    assert.equal(whole.text(), 'é€');
    assert.equal(tailChars('ab😀', 2), '😀');
    assert.equal(tailChars('ab😀', 1), '');
    assert.equal(tailChars('abc', 5), 'abc');
  });

  it('holds at most twice its limit', () => {
    const t = new OutputTail(10);
    for (let i = 0; i < 1000; i++) t.push(Buffer.from('abc'));
    assert.ok((t as unknown as { held: number }).held <= 20);
  });
});
