/** `canopy ls`: list paths in a commit (the format of `ostree ls`). */
import { printVariantText } from '../gvariant/index';
import { ObjectType, isLinkMode, xattrsToGValue, type Xattr } from '../objects/index';
import { readXattrsOf, type Repo } from '../repo/index';
import { defineCommand } from './command';
import { fileInfo, listTreeDir, resolveCommit, resolveTreePath, type TreeNode } from './tree-path';

export interface LsEntry {
  path: string;
  type: 'dir' | 'file' | 'symlink';
  /** Permission bits (st_mode & 07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** File object checksum, or the dirtree checksum of a directory. */
  checksum: string;
  /** The dirmeta checksum of a directory. */
  metaChecksum?: string;
  target?: string;
  /** With -X: names and hex values. */
  xattrs?: Array<{ name: string; value: string }>;
}

export const lsCommand = defineCommand({
  name: 'ls',
  summary: 'List paths in a commit',
  usage: 'REV [PATH…]',
  description: 'Lists PATH (default /) and, for a directory, its entries: files first, then subdirectories.\n'
    + 'Each line: type and mode, uid, gid, size, [checksums], [xattrs], path, and "-> target" for symlinks.',
  options: {
    recursive: { type: 'boolean', short: 'R', help: 'List directories recursively' },
    dironly: { type: 'boolean', short: 'd', help: 'List a directory itself, not its entries' },
    checksum: { type: 'boolean', short: 'C', help: 'Print checksums (dirtree and dirmeta for directories)' },
    xattrs: { type: 'boolean', short: 'X', help: 'Print extended attributes' },
    'nul-filenames-only': { type: 'boolean', help: 'Print only the paths, each followed by a NUL byte' },
  },
  operands: [1, Infinity],
}, (ctx, { values, operands }) => {
  const repo = ctx.openRepo();
  const commit = repo.loadCommit(resolveCommit(repo, operands[0]));
  const nodes: TreeNode[] = [];
  const walk = (dir: TreeNode & { kind: 'dir' }, recurse: boolean): void => {
    for (const child of listTreeDir(repo, dir)) {
      nodes.push(child);
      if (recurse && child.kind === 'dir') walk(child, true);
    }
  };
  for (const p of operands.length > 1 ? operands.slice(1) : ['/']) {
    const node = resolveTreePath(repo, commit, p);
    nodes.push(node);
    if (node.kind === 'dir' && !values.dironly) walk(node, Boolean(values.recursive));
  }
  const entries = describe(repo, nodes, Boolean(values.xattrs));
  if (values['nul-filenames-only'] && !ctx.json) {
    ctx.out.bytes(Buffer.from(entries.map((e) => e.path + '\0').join(''), 'utf8'));
    return;
  }
  ctx.out.result({ entries }, () => entries.map((e) => formatLine(e, Boolean(values.checksum), Boolean(values.xattrs))).join('\n'));
});

function describe(repo: Repo, nodes: TreeNode[], withXattrs: boolean): LsEntry[] {
  const metas = new Map<string, ReturnType<Repo['loadDirMeta']>>();
  const entries: LsEntry[] = [];
  const xattrsByEntry: Array<readonly Xattr[] | undefined> = [];
  const bareLookups: Array<[number, string]> = [];
  for (const n of nodes) {
    if (n.kind === 'dir') {
      let m = metas.get(n.meta);
      if (!m) metas.set(n.meta, (m = repo.loadDirMeta(n.meta)));
      entries.push({ path: n.path, type: 'dir', mode: m.mode & 0o7777, uid: m.uid, gid: m.gid, size: 0, checksum: n.tree, metaChecksum: n.meta });
      xattrsByEntry.push(m.xattrs);
    } else {
      const f = fileInfo(repo, n.checksum);
      const link = isLinkMode(f.mode);
      entries.push({
        path: n.path, type: link ? 'symlink' : 'file', mode: f.mode & 0o7777, uid: f.uid, gid: f.gid, size: f.size, checksum: n.checksum,
        ...(link ? { target: f.symlinkTarget } : {}),
      });
      xattrsByEntry.push(f.xattrs);
      if (withXattrs && f.xattrs === undefined) bareLookups.push([entries.length - 1, repo.objectPath(n.checksum, ObjectType.FILE)]);
    }
  }
  if (!withXattrs) return entries;
  // Bare repos keep xattrs on the object files: one getfattr for all of them.
  if (bareLookups.length) {
    const found = readXattrsOf(bareLookups.map(([, p]) => p));
    for (const [i, p] of bareLookups) xattrsByEntry[i] = found.get(p) ?? [];
  }
  entries.forEach((e, i) => {
    e.xattrs = (xattrsByEntry[i] ?? []).map((x) => ({ name: x.name, value: Buffer.from(x.value).toString('hex') }));
  });
  return entries;
}

function formatLine(e: LsEntry, checksums: boolean, xattrs: boolean): string {
  const typeChar = e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-';
  let s = `${typeChar}0${e.mode.toString(8).padStart(4, '0')} ${e.uid} ${e.gid} ${String(e.size).padStart(6)} `;
  if (checksums) s += e.type === 'dir' ? `${e.checksum} ${e.metaChecksum} ` : `${e.checksum} `;
  if (xattrs) {
    const list = (e.xattrs ?? []).map((x) => ({ name: x.name, value: Buffer.from(x.value, 'hex') }));
    s += `{ ${printVariantText('a(ayay)', xattrsToGValue(list))} } `;
  }
  s += e.path;
  if (e.type === 'symlink') s += ` -> ${e.target}`;
  return s;
}
