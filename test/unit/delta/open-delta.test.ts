/**
 * openDelta: the checks a superblock passes before any part is used, and
 * the decompression limit derived from a part header.
 */
import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { sha256Hex } from '../../../agent/src/core/bytes';
import { Variant, serialize } from '../../../agent/src/gvariant/index';
import { ObjectType, serializeCommit } from '../../../agent/src/objects/index';
import {
  DEFAULT_DELTA_LIMITS, commitMetaKey, isSignedSuperblock, openDelta, partDecompressLimit, resolveDeltaLimits, serializeSuperblock,
  type DeltaFallback, type DeltaPartHeader,
} from '../../../agent/src/delta/index';

const commit = serializeCommit({ metadata: [], related: [], subject: 's', body: '', timestamp: 1_700_000_000, rootTree: '11'.repeat(32), rootMeta: '22'.repeat(32) });
const TO = sha256Hex(commit);
const FROM = 'ab'.repeat(32);

function sb(opts: { parts?: DeltaPartHeader[]; fallbacks?: DeltaFallback[]; from?: string | null; meta?: boolean } = {}): Buffer {
  const from = opts.from === undefined ? FROM : opts.from;
  const metadata: Array<[string, Variant]> = opts.meta ? [[commitMetaKey(from, TO), new Variant('a{sv}', [['k', new Variant('s', 'v')]])]] : [];
  return serializeSuperblock({ metadata, timestamp: 1, from, to: TO, commit, parts: opts.parts ?? [], fallbacks: opts.fallbacks ?? [], endianness: 'l' });
}

const part = (size: number, usize: number, objects = 1): DeltaPartHeader => ({
  version: 0, checksum: '33'.repeat(32), size, usize, objects: Array.from({ length: objects }, () => ({ type: ObjectType.FILE, checksum: '44'.repeat(32) })),
});

const fails = (f: () => unknown, code: string, re: RegExp): void => {
  assert.throws(f, (e: unknown) => isCanopyError(e) && e.code === code && re.test(e.message));
};

describe('delta/open-delta', function () {
  it('accepts a superblock for the trusted commit and hands out its detached metadata bytes', function () {
    const d = openDelta(sb({ meta: true, parts: [part(10, 100)], fallbacks: [{ type: ObjectType.FILE, checksum: '55'.repeat(32), size: 7, usize: 9 }] }), { to: TO, from: FROM });
    assert.equal(d.name, `${FROM}-${TO}`);
    assert.deepEqual(Buffer.from(d.commit), commit);
    assert.deepEqual(Buffer.from(d.commitMeta!), serialize('a{sv}', [['k', new Variant('s', 'v')]]));
    assert.equal(d.partsSize, 10);
    assert.equal(d.partsUsize, 100);
    assert.equal(openDelta(sb(), { to: null }).commitMeta, undefined, 'null: consistency only');
  });

  it('refuses another target or source than expected', function () {
    fails(() => openDelta(sb(), { to: 'cd'.repeat(32) }), 'ERR_DELTA_INVALID', /not the verified commit/);
    fails(() => openDelta(sb(), { to: TO, from: null }), 'ERR_DELTA_INVALID', /starts from .* expected nothing/);
    fails(() => openDelta(sb({ from: null }), { to: TO, from: FROM }), 'ERR_DELTA_INVALID', /starts from nothing/);
  });

  it('refuses what passes the limits: superblock, parts, part sizes, totals; and non-file fallbacks', function () {
    fails(() => openDelta(sb(), { to: TO, limits: { maxSuperblockSize: 100 } }), 'ERR_DELTA_INVALID', /more than the 100 allowed/);
    fails(() => openDelta(sb({ parts: [part(1, 1), part(1, 1)] }), { to: TO, limits: { maxParts: 1 } }), 'ERR_DELTA_INVALID', /2 parts/);
    fails(() => openDelta(sb({ parts: [part(1, 1), part(1, 1)] }), { to: TO, limits: { maxTotalSize: 1 } }), 'ERR_DELTA_INVALID', /declares 2 bytes of objects/);
    fails(() => openDelta(sb({ fallbacks: [{ type: ObjectType.DIR_TREE, checksum: '55'.repeat(32), size: 1, usize: 1 }] }), { to: TO }), 'ERR_DELTA_INVALID', /only file objects/);
    assert.throws(() => resolveDeltaLimits({ maxParts: -1 }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('refuses signed (offline-only) superblocks with a clear message', function () {
    const signed = Buffer.concat([Buffer.from('OSTSGNDT'), sb()]);
    assert.equal(isSignedSuperblock(signed), true);
    fails(() => openDelta(signed, { to: TO }), 'ERR_DELTA_UNSUPPORTED', /signed superblocks/);
  });

  it('derives a part\'s decompression limit from its header, capped', function () {
    assert.equal(partDecompressLimit(part(10, 1000, 2), DEFAULT_DELTA_LIMITS), 2000 + (1 << 20) + 2 * 4160);
    assert.equal(partDecompressLimit(part(10, 2 ** 40), DEFAULT_DELTA_LIMITS), DEFAULT_DELTA_LIMITS.maxPartDecompressedSize);
  });
});
