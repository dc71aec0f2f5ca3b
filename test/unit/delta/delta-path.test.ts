import { strict as assert } from 'node:assert';
import { checksumFromMbase64 } from '../../../agent/src/core/bytes';
import { isCanopyError } from '../../../agent/src/core/errors';
import { commitMetaKey, deltaDir, deltaIndexPath, deltaName, deltaPartPath, deltaSuperblockPath, inlinePartKey, parseDeltaName } from '../../../agent/src/delta/delta-path';

// The example from the format notes (verified there against ostree 2022.7).
const F = checksumFromMbase64('VEQmmePVKrGRnhjBRCnzP7cUpvgQW8P2doFs1egnb3g');
const T = checksumFromMbase64('arvMAQb7ITsPHo5PT5us4pLq1GDgS1gPdWnko4jroBw');

describe('delta/delta-path', function () {
  it('builds the documented delta directory, superblock and part paths', function () {
    assert.equal(deltaDir(F, T), 'deltas/VE/QmmePVKrGRnhjBRCnzP7cUpvgQW8P2doFs1egnb3g-arvMAQb7ITsPHo5PT5us4pLq1GDgS1gPdWnko4jroBw');
    assert.equal(deltaDir(null, F), 'deltas/VE/QmmePVKrGRnhjBRCnzP7cUpvgQW8P2doFs1egnb3g');
    assert.equal(deltaSuperblockPath(null, F), 'deltas/VE/QmmePVKrGRnhjBRCnzP7cUpvgQW8P2doFs1egnb3g/superblock');
    assert.equal(deltaPartPath(F, T, 12), `${deltaDir(F, T)}/12`);
    assert.equal(inlinePartKey(null, F, 0), 'deltas/VE/QmmePVKrGRnhjBRCnzP7cUpvgQW8P2doFs1egnb3g/0');
    assert.equal(commitMetaKey(F, T), `${deltaDir(F, T)}/commitmeta`);
    assert.equal(deltaIndexPath(T), 'delta-indexes/ar/vMAQb7ITsPHo5PT5us4pLq1GDgS1gPdWnko4jroBw.index');
  });

  it('keeps + and maps / to _ in modified base64', function () {
    const c = 'fb'.repeat(32); // base64 of 0xfb bytes is full of '+' and '/'
    assert.match(deltaDir(null, c), /^deltas\/[+_]{2}\/[+_A-Za-z0-9]{41}$/);
    assert.ok(deltaDir(null, c).includes('+') && deltaDir(null, c).includes('_'));
  });

  it('names deltas in hex and parses the names back', function () {
    assert.equal(deltaName(F, T), `${F}-${T}`);
    assert.equal(deltaName(null, T), T);
    assert.deepEqual(parseDeltaName(`${F}-${T}`), { from: F, to: T });
    assert.deepEqual(parseDeltaName(T), { from: null, to: T });
    for (const bad of ['', 'xyz', `${F}-`, `${F}-${T}-${T}`, F.toUpperCase()]) {
      assert.throws(() => parseDeltaName(bad), (e: unknown) => isCanopyError(e, 'ERR_CHECKSUM_INVALID'), bad);
    }
  });
});
