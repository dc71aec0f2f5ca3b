import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { isCanopyError } from '../../../agent/src/core/errors';
import { parse, serialize } from '../../../agent/src/gvariant/index';
import {
  archiveHeaderBytes, commitContentChecksum, dirMetaChecksum, fileChecksum, parseArchiveHeader, parseCommit, parseDirMeta,
  parseDirTree, parseFileHeader, parseSummary, serializeCommit, serializeDirTree, serializeSummary, summaryRefMetadata,
  summaryRefTimestamp, EMPTY_DIRTREE_CHECKSUM, fileHeaderBytes, fileHeaderBytesOfArchive, plainArchiveHeader, plainDirTree,
  type DirTree,
} from '../../../agent/src/objects/index';

const C1 = 'a'.repeat(64);
const C2 = 'b'.repeat(64);
const code = (c: string) => (e: unknown): boolean => isCanopyError(e, c as never);

describe('objects', () => {
  it('dirmeta of a root-owned 0755 directory has the checksum every OSTree repo shares', () => {
    assert.equal(dirMetaChecksum({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] }), '446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488');
  });

  it('file checksums follow the documented stream for a file and a symlink', () => {
    // Recomputed by hand from the format: BE length, 4 zero bytes, header, content.
    const h = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
    const hdr = fileHeaderBytes(h);
    assert.equal(hdr.readUInt32BE(0), hdr.length - 8);
    const manual = createHash('sha256').update(hdr).update('hello\n').digest('hex');
    assert.equal(fileChecksum(h, Buffer.from('hello\n')), manual);
    assert.ok(fileChecksum(h, Buffer.from('hello\n')).startsWith('44f778e5'));
    assert.ok(fileChecksum({ uid: 0, gid: 0, mode: 0o120777, symlinkTarget: 'hello.txt', xattrs: [] }).startsWith('f66efa49'));
  });

  it('archive headers match the documented bytes and round-trip', () => {
    const h = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
    const obj = Buffer.concat([archiveHeaderBytes(h, 6), deflateRawSync('hello\n', { level: 6 })]);
    assert.equal(obj.toString('hex'), '0000001a000000000000000000000006000000000000000000' + '0081a4000000000019cb48cdc9c9e70200'.slice(0));
    const { header, dataOffset } = parseArchiveHeader(obj);
    assert.equal(header.size, 6);
    assert.equal(dataOffset, 34);
  });

  it('the checksummed header made from a .filez\'s bytes equals the serialised one, across every offset size', () => {
    const xattr = fc.record({ name: fc.stringMatching(/^user\.[a-z]{1,12}$/), value: fc.uint8Array({ maxLength: 70000 }).map((a) => Buffer.from(a)) });
    const header = fc.record({
      uid: fc.nat(0xffffffff), gid: fc.nat(0xffffffff), perm: fc.nat(0o7777), link: fc.boolean(),
      target: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }),
      xattrs: fc.uniqueArray(xattr, { selector: (x) => x.name, maxLength: 3 }), size: fc.nat(),
    });
    fc.assert(fc.property(header, (g) => {
      const h = { uid: g.uid, gid: g.gid, mode: (g.link ? 0o120000 : 0o100000) | (g.link ? 0o777 : g.perm), symlinkTarget: g.link ? g.target : '', xattrs: g.xattrs };
      const archive = archiveHeaderBytes(h, g.link ? 0 : g.size);
      const { dataOffset } = parseArchiveHeader(archive);
      assert.deepEqual(fileHeaderBytesOfArchive(Buffer.concat([archive, Buffer.from([1, 2, 3])]), dataOffset), fileHeaderBytes(h));
    }), { numRuns: 300 });
    // The boundaries where the framing offset grows (255 and 65535 bytes), hit on purpose.
    for (const len of [200, 220, 226, 227, 228, 229, 230, 240, 65480, 65490, 65495, 65500, 65510]) {
      const h = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [{ name: 'user.x', value: Buffer.alloc(len, 7) }] };
      const archive = archiveHeaderBytes(h, 1);
      assert.deepEqual(fileHeaderBytesOfArchive(archive, parseArchiveHeader(archive).dataOffset), fileHeaderBytes(h), `xattr of ${len} bytes`);
    }
  });

  it('the fast reading of plain archive headers accepts only what the GVariant parser accepts, with the same values', () => {
    const header = fc.record({
      uid: fc.nat(0xffffffff), gid: fc.nat(0xffffffff), perm: fc.nat(0o7777), link: fc.boolean(), size: fc.nat(),
      target: fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', '\u00e9', 'z'), minLength: 1, maxLength: 300 }),
      xattr: fc.boolean(),
    });
    const mutation = fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), { maxLength: 2 });
    let fast = 0;
    fc.assert(fc.property(header, mutation, (g, muts) => {
      const h = { uid: g.uid, gid: g.gid, mode: g.link ? 0o120777 : 0o100000 | g.perm, symlinkTarget: g.link ? g.target : '', xattrs: g.xattr ? [{ name: 'user.a', value: Buffer.from('1') }] : [] };
      const v = Buffer.from(archiveHeaderBytes(h, g.link ? 0 : g.size).subarray(8));
      for (const m of muts) v[m.at % v.length] = m.byte;
      const got = plainArchiveHeader(v);
      if (got === undefined) return;
      fast++;
      assert.deepEqual(parse('(tuuuusa(ayay))', v), got);
      // parseArchiveHeader reads such a header without the parser: its values are OSTree's big-endian ones.
      const framed = Buffer.concat([Buffer.from([v.length >>> 24, (v.length >>> 16) & 0xff, (v.length >>> 8) & 0xff, v.length & 0xff, 0, 0, 0, 0]), v]);
      let parsed: ReturnType<typeof parseArchiveHeader>;
      try {
        parsed = parseArchiveHeader(framed);
      } catch (e) {
        assert.ok(isCanopyError(e), String(e));
        return;
      }
      assert.deepEqual(parsed, {
        header: { uid: v.readUInt32BE(8), gid: v.readUInt32BE(12), mode: v.readUInt32BE(16), symlinkTarget: got[5], xattrs: [], size: Number(v.readBigUInt64BE(0)) },
        dataOffset: framed.length,
      });
    }), { numRuns: 2000 });
    assert.ok(fast > 300, `the fast path ran ${fast} times`);
  });

  it('archive headers round-trip on both reading paths, with sizes up to 2^53 - 1 and ids above 2^31', () => {
    const header = fc.record({
      uid: fc.nat(0xffffffff), gid: fc.nat(0xffffffff), perm: fc.nat(0o7777), link: fc.boolean(), size: fc.maxSafeNat(),
      target: fc.string({ unit: fc.constantFrom('a', '/', '\u00e9'), minLength: 1, maxLength: 40 }), xattr: fc.boolean(),
    });
    fc.assert(fc.property(header, (g) => {
      const h = { uid: g.uid, gid: g.gid, mode: g.link ? 0o120777 : 0o100000 | g.perm, symlinkTarget: g.link ? g.target : '', xattrs: g.xattr ? [{ name: 'user.a', value: Buffer.from('1') }] : [] };
      const size = g.link ? 0 : g.size;
      const bytes = archiveHeaderBytes(h, size);
      assert.deepEqual(parseArchiveHeader(bytes).header, { ...h, size });
    }), { numRuns: 500 });
    for (const xattrs of [[], [{ name: 'user.a', value: Buffer.from('1') }]]) {
      const h = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs };
      assert.equal(parseArchiveHeader(archiveHeaderBytes(h, 2 ** 53 - 1)).header.size, 2 ** 53 - 1);
      assert.throws(() => parseArchiveHeader(archiveHeaderBytes(h, 2 ** 53)), /size out of range/);
    }
  });

  it('the fast reading of dirtrees accepts only what the GVariant parser accepts, with the same values', () => {
    const general = (v: Uint8Array): DirTree => {
      const [f, d] = parse('(a(say)a(sayay))', v) as [[string, Uint8Array][], [string, Uint8Array, Uint8Array][]];
      const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
      return { files: f.map(([name, c]) => ({ name, checksum: hex(c) })), dirs: d.map(([name, t, m]) => ({ name, tree: hex(t), meta: hex(m) })) };
    };
    // Long names make 2-byte element offsets; many entries make 2- and 4-byte array offsets.
    const name = fc.oneof(
      { arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', '.', '-', 'z'), minLength: 1, maxLength: 12 }), weight: 20 },
      { arbitrary: fc.string({ unit: fc.constantFrom('x', 'y'), minLength: 200, maxLength: 255 }), weight: 2 },
      { arbitrary: fc.string({ unit: fc.constantFrom('a', '\u00e9'), minLength: 1, maxLength: 4 }), weight: 1 },
    );
    const checksum = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const tree = fc.record({
      files: fc.uniqueArray(fc.record({ name, checksum }), { selector: (e) => e.name, maxLength: 40 }),
      dirs: fc.uniqueArray(fc.record({ name, tree: checksum, meta: checksum }), { selector: (e) => e.name, maxLength: 20 }),
      many: fc.constantFrom(0, 0, 0, 300, 1800),
    });
    const mutation = fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), { maxLength: 2 });
    let fast = 0;
    let mutatedFast = 0;
    fc.assert(fc.property(tree, mutation, (t, muts) => {
      const files = [...t.files, ...Array.from({ length: t.many }, (_, i) => ({ name: `f${i}`, checksum: C1 }))];
      const dirNames = new Set(files.map((f) => f.name));
      const v = serialize('(a(say)a(sayay))', [
        files.map((f) => [f.name, Buffer.from(f.checksum, 'hex')]),
        t.dirs.filter((d) => !dirNames.has(d.name)).map((d) => [d.name, Buffer.from(d.tree, 'hex'), Buffer.from(d.meta, 'hex')]),
      ]);
      for (const m of muts) v[m.at % v.length] = m.byte;
      const got = plainDirTree(v);
      if (muts.length === 0 && /^[\x01-\x7f]*$/.test(files.map((f) => f.name).concat(t.dirs.map((d) => d.name)).join(''))) {
        assert.ok(got, 'an ASCII dirtree in normal form takes the fast path');
      }
      if (got === undefined) return;
      fast++;
      if (muts.length > 0) mutatedFast++;
      assert.deepEqual(got, general(v));
    }), { numRuns: 1500 });
    assert.ok(fast > 500 && mutatedFast > 100, `the fast path ran ${fast} times, ${mutatedFast} on mutated bytes`);
    // The smallest dirtree, and truncated ones, which only the general parser explains.
    assert.deepEqual(plainDirTree(serializeDirTree({ files: [], dirs: [] })), { files: [], dirs: [] });
    const one = serializeDirTree({ files: [{ name: 'a', checksum: C1 }], dirs: [] });
    for (let cut = 0; cut < one.length; cut++) assert.equal(plainDirTree(one.subarray(0, cut)), undefined, `cut at ${cut}`);
  });

  it('xattrs are stored sorted with NUL-terminated names', () => {
    const h = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [{ name: 'user.foo', value: Buffer.from('bar') }, { name: 'user.abc', value: Buffer.from('1\0') }] };
    const bytes = fileHeaderBytes(h);
    assert.ok(bytes.toString('latin1').indexOf('user.abc\0') < bytes.toString('latin1').indexOf('user.foo\0'));
    const { header } = parseFileHeader(bytes);
    assert.deepEqual(header.xattrs.map((x) => x.name), ['user.abc', 'user.foo']);
  });

  it('dirtrees sort entries by name bytes and round-trip', () => {
    const t = { files: [{ name: 'b', checksum: C1 }, { name: 'B', checksum: C2 }, { name: 'ä', checksum: C1 }], dirs: [{ name: 'z', tree: C1, meta: C2 }] };
    const back = parseDirTree(serializeDirTree(t));
    assert.deepEqual(back.files.map((f) => f.name), ['B', 'b', 'ä']);
    assert.equal(EMPTY_DIRTREE_CHECKSUM, createHash('sha256').update(serializeDirTree({ files: [], dirs: [] })).digest('hex'));
  });

  describe('hostile dirtrees are refused before a name can reach a path', () => {
    const raw = (names: string[]): Buffer => serialize('(a(say)a(sayay))', [names.map((n) => [n, Buffer.alloc(32)]), []]);
    for (const [label, name] of [['slash', 'a/b'], ['dot-dot', '..'], ['dot', '.'], ['empty', ''], ['long', 'x'.repeat(256)]] as const) {
      it(`refuses a ${label} name`, () => assert.throws(() => parseDirTree(raw([name])), code('ERR_UNSAFE_NAME')));
    }
    it('refuses a NUL inside a name (not normal form)', () => {
      const b = raw(['ab']);
      b[1] = 0; // 'a\0' + '\0'
      assert.throws(() => parseDirTree(b), (e: unknown) => isCanopyError(e));
    });
    it('refuses duplicate names', () => assert.throws(() => parseDirTree(raw(['a', 'a'])), code('ERR_OBJECT_INVALID')));
    it('refuses a checksum that is not 32 bytes', () => {
      const b = serialize('(a(say)a(sayay))', [[['a', Buffer.alloc(31)]], []]);
      assert.throws(() => parseDirTree(b), code('ERR_OBJECT_INVALID'));
    });
  });

  it('refuses an object of the wrong type', () => {
    const dirtree = serializeDirTree({ files: [{ name: 'a', checksum: C1 }], dirs: [] });
    assert.throws(() => parseCommit(dirtree), (e: unknown) => isCanopyError(e));
    assert.throws(() => parseDirMeta(dirtree), (e: unknown) => isCanopyError(e));
  });

  it('refuses truncated and oversized file headers', () => {
    const h = fileHeaderBytes({ uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] });
    assert.throws(() => parseFileHeader(h.subarray(0, 10)), code('ERR_OBJECT_INVALID'));
    const huge = Buffer.from(h);
    huge.writeUInt32BE(0x7fffffff, 0);
    assert.throws(() => parseFileHeader(huge), code('ERR_OBJECT_INVALID'));
  });

  it('refuses device files and non-zero rdev', () => {
    assert.throws(() => fileHeaderBytes({ uid: 0, gid: 0, mode: 0o020644, symlinkTarget: '', xattrs: [] }), code('ERR_FILE_TYPE'));
    const b = serialize('(uuuusa(ayay))', [0, 0, 0xa4810000, 0x01000000, '', []]);
    const framed = Buffer.concat([Buffer.from([0, 0, 0, b.length, 0, 0, 0, 0]), b]);
    assert.throws(() => parseFileHeader(framed), code('ERR_OBJECT_INVALID'));
  });

  it('commits round-trip and compute the content checksum', () => {
    const c = { metadata: [], parent: C2, related: [], subject: 's', body: 'b', timestamp: 1672531200, rootTree: C1, rootMeta: C2 };
    const back = parseCommit(serializeCommit(c));
    assert.equal(back.parent, C2);
    assert.equal(back.timestamp, 1672531200);
    assert.equal(commitContentChecksum(back), createHash('sha256').update(Buffer.from(C1 + C2, 'hex')).digest('hex'));
  });

  it('summaries sort refs, keep LE commit sizes and BE timestamps', () => {
    const s = serializeSummary({ refs: [{ name: 'z', commit: C1, commitSize: 158, metadata: summaryRefMetadata(1672531200, '1.0') }, { name: 'a', commit: C2, commitSize: 1, metadata: [] }], metadata: [] });
    const back = parseSummary(s);
    assert.deepEqual(back.refs.map((r) => r.name), ['a', 'z']);
    assert.equal(back.refs[1].commitSize, 158);
    assert.equal(summaryRefTimestamp(back.refs[1]), 1672531200);
    // An unsorted summary is refused: clients binary-search it.
    const unsorted = serialize('(a(s(taya{sv}))a{sv})', [[['z', [1n, Buffer.alloc(32), []]], ['a', [1n, Buffer.alloc(32), []]]], []]);
    assert.throws(() => parseSummary(unsorted), code('ERR_OBJECT_INVALID'));
  });
});
