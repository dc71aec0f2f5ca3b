import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { dictLookup, parse, serialize, variant, type GValue, type VarDict } from '../../../agent/src/gvariant/index';
import { parseStagedRecord, serializeStagedRecord } from '../../../agent/src/sysroot/staged-record';

const C = 'c'.repeat(64);
const B = 'b'.repeat(64);

describe('sysroot/staged-record', function () {
  it('round-trips, in ostree\'s a{sv} shape', function () {
    const rec = { target: { stateroot: 'os', csum: C, serial: 1, bootcsum: B }, merge: { stateroot: 'os', csum: B, serial: 0, bootcsum: B }, kargs: ['root=x', 'quiet'] };
    const bytes = serializeStagedRecord(rec);
    assert.deepEqual(parseStagedRecord(bytes), rec);
    const dict = parse('a{sv}', bytes) as unknown as VarDict;
    const target = dictLookup(dict, 'target')!;
    assert.equal(target.type, 'a{sv}');
    assert.equal(dictLookup(target.value as unknown as VarDict, 'name')!.value, `${C}.1`);
    assert.equal(dictLookup(dict, 'kargs')!.type, 'as');
  });

  it('refuses records with a bad name, stateroot or boot checksum, or without a target', function () {
    const mk = (name: string, osname: string, bootcsum: string): Buffer => serialize('a{sv}', [['target', variant('a{sv}', [
      ['name', variant('s', name)], ['osname', variant('s', osname)], ['bootcsum', variant('s', bootcsum)],
    ] as unknown as GValue)]] as unknown as GValue);
    for (const [n, o, b] of [['x.0', 'os', B], [`${C}.0`, '../etc', B], [`${C}.0`, 'os', 'short']]) {
      assert.throws(() => parseStagedRecord(mk(n, o, b)), (e: unknown) => isCanopyError(e, 'ERR_SYSROOT_INVALID'));
    }
    assert.throws(() => parseStagedRecord(serialize('a{sv}', [] as unknown as GValue)), (e: unknown) => isCanopyError(e, 'ERR_SYSROOT_INVALID'));
  });
});
