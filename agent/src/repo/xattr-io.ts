/**
 * Extended attributes on disk. Node has no xattr API, so a whole tree is
 * read with one `getfattr --dump` and attributes are applied with one
 * `setfattr --restore` per batch, never one process per file. Both take
 * argument arrays and data on stdin; no shell is involved.
 */
import { spawnSync } from 'node:child_process';
import { CanopyError } from '../core/errors';
import type { Xattr } from '../objects/index';

/** getfattr/setfattr escape bytes outside the printable range as \ooo. */
function escapePath(p: string): string {
  const bytes = Buffer.from(p, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c || b < 0x20 || b === 0x7f) out += '\\' + b.toString(8).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return Buffer.from(out, 'latin1').toString('latin1');
}

function unescapePath(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length + 0 && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else bytes.push(raw[i]);
  }
  return Buffer.from(bytes).toString('utf8');
}

function run(cmd: string, args: string[], input?: Buffer): { stdout: Buffer; stderr: string; status: number | null } {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CanopyError('ERR_XATTR', missing ? `${cmd} is not installed (Debian package "attr"); it is needed for extended attributes` : `${cmd} failed: ${r.error.message}`, { cmd }, { cause: r.error });
  }
  return { stdout: r.stdout, stderr: r.stderr.toString('utf8'), status: r.status };
}

/**
 * Reads the extended attributes of every file below `root` (symlinks not
 * followed) in one process. Returns a map from absolute path to its sorted
 * attributes; files without attributes are absent.
 */
export function readTreeXattrs(root: string): Map<string, Xattr[]> {
  const r = run('getfattr', ['--absolute-names', '-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--', root]);
  if (r.status !== 0) throw new CanopyError('ERR_XATTR', `getfattr on ${root} failed: ${r.stderr.trim().split('\n')[0]}`, { path: root });
  return parseDump(r.stdout.toString('latin1'));
}

/** Reads the attributes of a list of paths (not following symlinks). */
export function readXattrsOf(paths: string[]): Map<string, Xattr[]> {
  const out = new Map<string, Xattr[]>();
  for (let i = 0; i < paths.length; i += 2000) {
    const batch = paths.slice(i, i + 2000);
    const r = run('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', '--', ...batch]);
    if (r.status !== 0) throw new CanopyError('ERR_XATTR', `getfattr failed: ${r.stderr.trim().split('\n')[0]}`);
    for (const [k, v] of parseDump(r.stdout.toString('latin1'))) out.set(k, v);
  }
  return out;
}

/** Parses getfattr's `--dump -e hex` output. */
export function parseDump(text: string): Map<string, Xattr[]> {
  const out = new Map<string, Xattr[]>();
  let current: Xattr[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = [];
      out.set(unescapePath(line.slice(8)), current);
    } else if (line.length > 0 && current) {
      const eq = line.indexOf('=');
      const name = Buffer.from(eq < 0 ? line : line.slice(0, eq), 'latin1').toString('utf8');
      const val = eq < 0 ? '' : line.slice(eq + 1);
      let value: Buffer;
      if (val.startsWith('0x')) value = Buffer.from(val.slice(2), 'hex');
      else if (val.startsWith('0s')) value = Buffer.from(val.slice(2), 'base64');
      else if (val.startsWith('"') && val.endsWith('"')) value = Buffer.from(unescapePath(val.slice(1, -1)), 'utf8');
      else value = Buffer.alloc(0);
      current.push({ name, value });
    }
  }
  for (const [k, v] of out) {
    if (v.length === 0) out.delete(k);
    else v.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  }
  return out;
}

/**
 * Applies attributes to many paths with one `setfattr --restore` per batch.
 * Symlinks are not followed.
 */
export function applyXattrs(entries: Iterable<[string, readonly Xattr[]]>): void {
  let chunk: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (chunk.length === 0) return;
    const r = run('setfattr', ['-h', '--restore=-'], Buffer.from(chunk.join(''), 'latin1'));
    if (r.status !== 0) throw new CanopyError('ERR_XATTR', `setfattr failed: ${r.stderr.trim().split('\n')[0]}`);
    chunk = [];
    size = 0;
  };
  for (const [path, xattrs] of entries) {
    if (xattrs.length === 0) continue;
    let block = `# file: ${escapePath(path)}\n`;
    for (const x of xattrs) block += `${Buffer.from(x.name, 'utf8').toString('latin1')}=0x${Buffer.from(x.value).toString('hex')}\n`;
    block += '\n';
    chunk.push(block);
    size += block.length;
    if (size > 8 << 20) flush();
  }
  flush();
}
