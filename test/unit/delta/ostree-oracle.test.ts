/**
 * The real `ostree` as the oracle: parse the deltas it generates, check
 * every part's digest, decompress with our xz decoder, decode all opcodes,
 * and re-run them in a small interpreter over the objects of the repo; every
 * object produced must hash to the name ostree gave it.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { sha256Hex } from '../../../agent/src/core/bytes';
import { parse, serialize, type VarDict } from '../../../agent/src/gvariant/index';
import { fileChecksum, isLinkMode, ObjectType, objectRelPath, parseArchiveHeader } from '../../../agent/src/objects/index';
import { bspatch } from '../../../agent/src/delta/bspatch';
import { deltaPartPath, deltaSuperblockPath, inlinePartKey } from '../../../agent/src/delta/delta-path';
import { decodeOps, type DeltaOp } from '../../../agent/src/delta/ops';
import { openPartFile, parsePart, serializePart, unwrapPartFile } from '../../../agent/src/delta/part';
import { inlinePart, parseSuperblock, serializeSuperblock, SUPERBLOCK_TYPE, type DeltaSuperblock } from '../../../agent/src/delta/superblock';
import { deltaFixture, repoFile, type DeltaFixture } from './fixture-repo';

/** Content of a file object from the archive repo: header + inflated data. */
function readContent(f: DeltaFixture, checksum: string): { content: Buffer; isLink: boolean } {
  const raw = repoFile(f, objectRelPath(checksum, ObjectType.FILE, 'archive'));
  const { header, dataOffset } = parseArchiveHeader(raw);
  if (isLinkMode(header.mode)) return { content: Buffer.alloc(0), isLink: true };
  const content = inflateRawSync(raw.subarray(dataOffset));
  assert.equal(content.length, header.size);
  return { content, isLink: false };
}

interface RunResult {
  produced: string[];
  counts: Record<string, number>;
}

/** A test-local interpreter: executes a part against the fixture repo. */
function runPart(f: DeltaFixture, sb: DeltaSuperblock, index: number, file: Uint8Array): RunResult {
  const header = sb.parts[index];
  const part = openPartFile(file, header, index);
  const produced: string[] = [];
  const counts: Record<string, number> = {};
  let open: { checksum: string; modeIndex: number; xattrIndex: number; chunks: Uint8Array[] } | null = null;
  let source: Buffer | null = null;
  const fileSum = (modeIndex: number, xattrIndex: number, target: string, content?: Uint8Array): string => {
    const m = part.modes[modeIndex];
    return fileChecksum({ uid: m.uid, gid: m.gid, mode: m.mode, symlinkTarget: target, xattrs: part.xattrs[xattrIndex] }, content);
  };
  const done = (expected: string, actual: string): void => {
    assert.equal(actual, expected, 'produced object does not hash to its listed name');
    produced.push(actual);
  };
  for (const op of decodeOps(part, header.objects) as Generator<DeltaOp>) {
    counts[op.op] = (counts[op.op] ?? 0) + 1;
    const slice = (o: number, n: number): Uint8Array => part.payload.subarray(o, o + n);
    switch (op.op) {
      case 'splice-meta': {
        const bytes = slice(op.offset, op.size);
        assert.deepEqual(Buffer.from(bytes), repoFile(f, objectRelPath(op.object.checksum, op.object.type, 'archive')));
        done(op.object.checksum, sha256Hex(bytes));
        break;
      }
      case 'splice-content': {
        const bytes = slice(op.offset, op.size);
        const isLink = isLinkMode(part.modes[op.modeIndex].mode);
        done(op.object.checksum, isLink ? fileSum(op.modeIndex, op.xattrIndex, Buffer.from(bytes).toString('utf8')) : fileSum(op.modeIndex, op.xattrIndex, '', bytes));
        break;
      }
      case 'open':
        open = { checksum: op.object.checksum, modeIndex: op.modeIndex, xattrIndex: op.xattrIndex, chunks: [] };
        break;
      case 'write-payload':
        open!.chunks.push(slice(op.offset, op.size));
        break;
      case 'write-source':
        assert.ok(source && op.offset + op.size <= source.length, 'write reads past the read source');
        open!.chunks.push(source.subarray(op.offset, op.offset + op.size));
        break;
      case 'set-read-source': {
        const src = readContent(f, op.source);
        assert.equal(src.isLink, false);
        source = src.content;
        break;
      }
      case 'unset-read-source':
        source = null;
        break;
      case 'bspatch':
        open!.chunks.push(bspatch(source!, op.newSize, slice(op.offset, op.length)));
        break;
      case 'close':
        done(open!.checksum, fileSum(open!.modeIndex, open!.xattrIndex, '', Buffer.concat(open!.chunks)));
        open = null;
        break;
    }
  }
  return { produced, counts };
}

/** `ostree static-delta show` op counts for part 0, in our op names. */
function ostreeOpCounts(f: DeltaFixture, name: string): Record<string, number> {
  const out = spawnSync('ostree', [`--repo=${f.repo}`, 'static-delta', 'show', name], { encoding: 'utf8' }).stdout;
  const line = /PartPayloadOps0: (.*)/.exec(out)![1];
  const map: Record<string, string> = { open: 'open', write: 'write', setread: 'set-read-source', unsetread: 'unset-read-source', close: 'close', bspatch: 'bspatch' };
  const counts: Record<string, number> = {};
  for (const kv of line.trim().split(/\s+/)) {
    const [k, v] = kv.split('=');
    if (k === 'openspliceclose') counts.splice = Number(v);
    else counts[map[k]] = Number(v);
  }
  return nonZero(counts);
}

function ours(counts: Record<string, number>): Record<string, number> {
  const c = { ...counts };
  c.splice = (c['splice-meta'] ?? 0) + (c['splice-content'] ?? 0);
  c.write = (c['write-payload'] ?? 0) + (c['write-source'] ?? 0);
  for (const k of ['splice-meta', 'splice-content', 'write-payload', 'write-source']) delete c[k];
  return nonZero(c);
}

function nonZero(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== 0));
}

describe('delta: against real ostree static deltas', function () {
  let f: DeltaFixture;
  before(function () {
    const fx = deltaFixture();
    if (!fx) {
      console.log('    (ostree not installed: skipping; install the Debian package ostree)');
      this.skip();
    }
    f = fx!;
  });

  function check(sbBytes: Uint8Array, from: string | null, to: string, partFile: (i: number, sb: DeltaSuperblock) => Uint8Array): { sb: DeltaSuperblock; runs: RunResult[] } {
    const sb = parseSuperblock(sbBytes);
    assert.equal(sb.from, from);
    assert.equal(sb.to, to);
    assert.deepEqual(Buffer.from(sb.commit), repoFile(f, objectRelPath(to, ObjectType.COMMIT, 'archive')));
    assert.ok(sb.timestamp > 1_600_000_000);
    // The serializer reproduces ostree's superblock byte for byte.
    assert.deepEqual(serializeSuperblock(sb), Buffer.from(sbBytes));
    const runs = sb.parts.map((_, i) => {
      const file = partFile(i, sb);
      const unwrapped = unwrapPartFile(file);
      assert.deepEqual(serializePart(parsePart(unwrapped)), Buffer.from(unwrapped), 'part re-serializes byte for byte');
      return runPart(f, sb, i, file);
    });
    // Every listed object was produced, and every one exists in the repo.
    const listed = sb.parts.flatMap((p) => p.objects.map((o) => o.checksum));
    assert.deepEqual(runs.flatMap((r) => r.produced), listed);
    for (const p of sb.parts) for (const o of p.objects) repoFile(f, objectRelPath(o.checksum, o.type, 'archive'));
    return { sb, runs };
  }

  it('A -> B: parses, verifies, decodes and re-applies every part (bsdiff, rollsum, symlinks, xattrs)', function () {
    const { sb, runs } = check(repoFile(f, deltaSuperblockPath(f.a, f.b)), f.a, f.b, (i) => repoFile(f, deltaPartPath(f.a, f.b, i)));
    assert.equal(sb.endianness, 'l');
    assert.equal(sb.endiannessGuessed, false);
    assert.equal(sb.parts.length, 1);
    const c = runs[0].counts;
    assert.ok((c.bspatch ?? 0) >= 1, 'the fixture exercises bsdiff');
    assert.ok((c['write-source'] ?? 0) >= 10, 'the fixture exercises rollsum');
    assert.deepEqual(ours(c), ostreeOpCounts(f, `${f.a}-${f.b}`));
    const part = openPartFile(repoFile(f, deltaPartPath(f.a, f.b, 0)), sb.parts[0], 0);
    assert.ok(part.modes.some((m) => m.mode === 0o100755), 'mode table carries the 0755 binary (big-endian decoded)');
    if (f.xattrs) assert.ok(part.xattrs.some((x) => x.some((a) => a.name === 'user.canopy' && Buffer.from(a.value).toString() === 'v2')), 'xattr table carries user.canopy');
  });

  it('scratch delta to A: every object of the commit comes out of the part', function () {
    const { sb, runs } = check(repoFile(f, deltaSuperblockPath(null, f.a)), null, f.a, (i) => repoFile(f, deltaPartPath(null, f.a, i)));
    assert.equal(sb.fallbacks.length, 0);
    assert.deepEqual(ours(runs[0].counts), ostreeOpCounts(f, f.a));
    const part = openPartFile(repoFile(f, deltaPartPath(null, f.a, 0)), sb.parts[0], 0);
    assert.ok(part.modes.some((m) => m.mode === 0o100600 && m.uid === process.getuid!()), 'mode table carries the 0600 file');
    assert.ok(part.modes.some((m) => m.mode === 0o120777), 'mode table carries the symlink mode');
    const types = new Set(sb.parts[0].objects.map((o) => o.type));
    assert.deepEqual([...types].sort(), [ObjectType.FILE, ObjectType.DIR_TREE, ObjectType.DIR_META]);
  });

  it('scratch delta to B with --inline: parts come from the superblock metadata', function () {
    const bytes = readFileSync(f.superblocks.inlineB);
    check(bytes, null, f.b, (i, sb) => {
      const p = inlinePart(sb, inlinePartKey(null, f.b, i));
      assert.ok(p, `inline part ${i} is present under ${inlinePartKey(null, f.b, i)}`);
      return p!;
    });
  });

  it('--swap-endianness: header sizes are read big-endian and match the native delta', function () {
    const dir = dirname(f.superblocks.swapped);
    const { sb } = check(readFileSync(f.superblocks.swapped), f.a, f.b, (i) => readFileSync(join(dir, String(i))));
    assert.equal(sb.endianness, 'B');
    const native = parseSuperblock(repoFile(f, deltaSuperblockPath(f.a, f.b)));
    assert.deepEqual(sb.parts.map((p) => [p.size, p.usize, p.objects.length]), native.parts.map((p) => [p.size, p.usize, p.objects.length]));
  });

  it('guesses the byte order of deltas without ostree.endianness as ostree does', function () {
    for (const [file, expected] of [[f.superblocks.swapped, 'B'], [join(f.repo, deltaSuperblockPath(f.a, f.b)), 'l']] as const) {
      const raw = parse(SUPERBLOCK_TYPE, readFileSync(file)) as unknown[];
      const stripped = [(raw[0] as VarDict).filter(([k]) => k !== 'ostree.endianness'), ...raw.slice(1)];
      const sb = parseSuperblock(serialize(SUPERBLOCK_TYPE, stripped as never));
      assert.equal(sb.endianness, expected);
      assert.equal(sb.endiannessGuessed, true);
    }
  });

  it('fallback objects: listed with the archive object size and the content size', function () {
    const dir = dirname(f.superblocks.withFallback);
    const { sb } = check(readFileSync(f.superblocks.withFallback), f.a, f.b, (i) => readFileSync(join(dir, String(i))));
    assert.ok(sb.fallbacks.length >= 1);
    for (const fb of sb.fallbacks) {
      assert.equal(fb.type, ObjectType.FILE);
      const raw = repoFile(f, objectRelPath(fb.checksum, fb.type, 'archive'));
      assert.equal(fb.size, raw.length);
      assert.equal(fb.usize, readContent(f, fb.checksum).content.length);
      for (const p of sb.parts) assert.ok(!p.objects.some((o) => o.checksum === fb.checksum), 'a fallback is not also in a part');
    }
  });

  it('a part whose bytes were altered fails its digest check', function () {
    const sb = parseSuperblock(repoFile(f, deltaSuperblockPath(f.a, f.b)));
    const file = Buffer.from(repoFile(f, deltaPartPath(f.a, f.b, 0)));
    file[file.length >> 1] ^= 1;
    assert.throws(() => openPartFile(file, sb.parts[0], 0), /does not match its header/);
  });
});
