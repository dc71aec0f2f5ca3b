/**
 * Side-by-side benchmark of the delta codecs against the C tools:
 *
 * - xz decoding: our decoder vs `xz -dc`, on data compressed the way
 *   `ostree static-delta generate` compresses parts (preset 8, CRC64);
 * - bsdiff: our generator vs the Debian `bsdiff` tool (which adds bzip2 on
 *   top of the same algorithm) on a few-MB binary with scattered edits;
 * - bspatch: ours, in memory.
 *
 * Each of our operations runs in a fresh child process that reports its
 * own compute time and peak RSS, so memory figures are per operation.
 * Run: `node --import tsx bench/delta-codecs.ts [MB]` (default 8 MB).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bspatch } from '../agent/src/delta/bspatch';
import { bsdiff } from '../agent/src/delta/bsdiff';
import { xzDecompress } from '../agent/src/delta/xz';
import { fmt, median, timeCommand } from './lib';

const RUNS = 3;

/** Child mode: run one operation, print {seconds, maxRssKb}. */
function child(op: string, files: string[]): void {
  const inputs = files.slice(0, op === 'xz' ? 1 : 2).map((f) => readFileSync(f));
  const t0 = process.hrtime.bigint();
  let outLen = 0;
  if (op === 'xz') outLen = xzDecompress(inputs[0], { maxSize: 1 << 30 }).length;
  else if (op === 'bsdiff') writeFileSync(files[2], bsdiff(inputs[0], inputs[1]));
  else if (op === 'bspatch') outLen = bspatch(inputs[0], Number(files[2]), inputs[1]).length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ seconds, outLen, maxRssKb: process.resourceUsage().maxRSS }));
}

/**
 * Runs one operation in a fresh process. The child is started through
 * /usr/bin/time when present: Linux's peak-RSS counter of a process forked
 * from this (large) parent would otherwise include the parent's pages from
 * before exec.
 */
function runChild(op: string, args: string[]): { seconds: number; maxRssKb: number } {
  const self = fileURLToPath(import.meta.url);
  const argv = [process.execPath, '--import', 'tsx', self, '--child', op, ...args];
  const viaTime = existsSync('/usr/bin/time');
  const full = viaTime ? ['/usr/bin/time', '-f', '%M', ...argv] : argv;
  const r = spawnSync(full[0], full.slice(1), { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`child ${op} failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout) as { seconds: number; maxRssKb: number };
  if (viaTime) res.maxRssKb = Number(r.stderr.trim().split('\n').pop());
  return res;
}

/** Binary-ish sample data: concatenated shared libraries, up to `size` bytes. */
function sample(size: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/bin']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      if (total >= size) break;
      const p = join(dir, n);
      try {
        const st = statSync(p);
        if (!st.isFile() || st.size < 50_000) continue;
        const b = readFileSync(p);
        parts.push(b);
        total += b.length;
      } catch {
        /* unreadable: skip */
      }
    }
  }
  return Buffer.concat(parts).subarray(0, size);
}

function report(name: string, mb: number, ours: Array<{ seconds: number; maxRssKb: number }>, ref?: Array<{ seconds: number; maxRssKb?: number }>, refName?: string): void {
  const o = median(ours.map((r) => r.seconds));
  const line = [`${name}: ours ${fmt(o)} s (${fmt(mb / o)} MB/s, peak RSS ${Math.round(median(ours.map((r) => r.maxRssKb)) / 1024)} MiB)`];
  if (ref && refName) {
    const r = median(ref.map((x) => x.seconds));
    const rss = ref[0].maxRssKb ? `, peak RSS ${Math.round(median(ref.map((x) => x.maxRssKb ?? 0)) / 1024)} MiB` : '';
    line.push(`${refName} ${fmt(r)} s (${fmt(mb / r)} MB/s${rss}); ratio ours/theirs ${fmt(o / r)}`);
  }
  console.log(line.join(' | '));
}

function main(): void {
  const mb = Number(process.argv[2] ?? 8);
  const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-delta-'));
  try {
    const data = sample(mb * 1e6);
    const raw = join(dir, 'data');
    writeFileSync(raw, data);
    const sizeMb = data.length / 1e6;
    console.log(`sample: ${fmt(sizeMb)} MB of binaries; ${RUNS} interleaved runs, medians`);

    // xz decode, data compressed as ostree compresses parts.
    const xzFile = join(dir, 'data.xz');
    writeFileSync(xzFile, spawnSync('xz', ['-c', '-8', '--check=crc64', '--threads=1', raw], { maxBuffer: 1 << 30 }).stdout);
    const ours: Array<{ seconds: number; maxRssKb: number }> = [];
    const ref: Array<{ seconds: number; maxRssKb?: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(runChild('xz', [xzFile]));
      ref.push(timeCommand(['xz', '-dc', '-k', xzFile]));
    }
    report('xz decode', sizeMb, ours, ref, 'xz -dc');

    // bsdiff on an old/new pair: scattered byte edits, an insertion and a moved block.
    const oldBuf = data.subarray(0, Math.min(data.length, 4e6));
    const nw = Buffer.from(oldBuf);
    for (let i = 0; i < nw.length; i += 997) nw[i] ^= 0x5a;
    const edited = Buffer.concat([nw.subarray(0, nw.length >> 2), Buffer.alloc(4096, 7), nw.subarray(nw.length >> 1), nw.subarray(nw.length >> 2, nw.length >> 1)]);
    const oldF = join(dir, 'old');
    const newF = join(dir, 'new');
    const patchF = join(dir, 'patch');
    writeFileSync(oldF, oldBuf);
    writeFileSync(newF, edited);
    const haveBsdiff = spawnSync('sh', ['-c', 'command -v bsdiff']).status === 0;
    const bo: Array<{ seconds: number; maxRssKb: number }> = [];
    const br: Array<{ seconds: number; maxRssKb?: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      bo.push(runChild('bsdiff', [oldF, newF, patchF]));
      if (haveBsdiff) br.push(timeCommand(['bsdiff', oldF, newF, join(dir, 'ref.patch')]));
    }
    const patch = readFileSync(patchF);
    const xzPatch = spawnSync('xz', ['-c', '-8'], { input: patch, maxBuffer: 1 << 30 }).stdout.length;
    report(`bsdiff ${fmt(edited.length / 1e6)} MB`, edited.length / 1e6, bo, haveBsdiff ? br : undefined, haveBsdiff ? 'Debian bsdiff (incl. bzip2)' : undefined);
    console.log(`  patch: ${patch.length} bytes raw, ${xzPatch} bytes after xz -8${haveBsdiff ? `; Debian bsdiff+bzip2 patch ${statSync(join(dir, 'ref.patch')).size} bytes` : ''}`);

    const bp: Array<{ seconds: number; maxRssKb: number }> = [];
    for (let i = 0; i < RUNS; i++) bp.push(runChild('bspatch', [oldF, patchF, String(edited.length)]));
    report('bspatch', edited.length / 1e6, bp);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') child(process.argv[3], process.argv.slice(4));
else main();
