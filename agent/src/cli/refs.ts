/** `canopy refs`: list, create, alias and delete refs (as `ostree refs`). */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { compareUtf8 } from '../core/bytes';
import { CanopyError, ioError } from '../core/errors';
import { assertRef, parseRefspec } from '../core/names';
import { ObjectType } from '../objects/index';
import { fsyncDir, listRefs, readRef, writeRef, type Repo } from '../repo/index';
import { usageError } from './cli-args';
import { defineCommand } from './command';
import { resolveCommit } from './tree-path';

export interface RefInfo {
  /** `name` for a local ref, `remote:name` for a remote one. */
  ref: string;
  checksum: string;
  /** For an alias: the ref it points to. */
  aliasOf?: string;
}

export const refsCommand = defineCommand({
  name: 'refs',
  summary: 'List, create, alias or delete refs',
  usage: '[PREFIX…]',
  description: 'Without options, lists every ref (remote refs as remote:ref), sorted. With PREFIX, lists the refs\n'
    + 'under PREFIX/ with the prefix removed (keep it with --list), or PREFIX itself when it is a ref.\n'
    + '  --create=NEW REV       point a new ref at the commit REV names\n'
    + '  --create=NEW -A REF    make NEW an alias of the local ref REF\n'
    + '  --delete PREFIX…       delete the matching refs (an error when nothing matches)',
  options: {
    list: { type: 'boolean', help: 'Do not remove the prefix from listed refs' },
    alias: { type: 'boolean', short: 'A', help: 'With --create, create an alias; otherwise list aliases' },
    create: { type: 'string', value: 'NEWREF', help: 'Create a ref for an existing commit' },
    delete: { type: 'boolean', help: 'Delete the refs that match PREFIX' },
    force: { type: 'boolean', help: 'Let --create replace an existing ref' },
  },
  operands: [0, Infinity],
}, (ctx, { values, operands }) => {
  const repo = ctx.openRepo();
  if (values.create !== undefined) {
    if (values.delete) throw usageError('refs', '--create and --delete cannot be combined');
    if (operands.length !== 1) throw usageError('refs', '--create needs exactly one REV (the commit or, with --alias, the ref to alias)');
    const created = values.alias ? createAlias(repo, values.create, operands[0], Boolean(values.force)) : createRef(repo, values.create, operands[0], Boolean(values.force));
    ctx.out.result(created, () => '');
    return;
  }
  const aliases = listAliases(repo);
  const all: RefInfo[] = listRefs(repo, { all: true }).map((r) => {
    const ref = r.remote === undefined ? r.name : `${r.remote}:${r.name}`;
    const aliasOf = r.remote === undefined ? aliases.get(r.name) : undefined;
    return aliasOf === undefined ? { ref, checksum: r.checksum } : { ref, checksum: r.checksum, aliasOf };
  }).sort((a, b) => compareUtf8(a.ref, b.ref));
  if (values.delete) {
    if (!operands.length) throw usageError('refs', 'at least one PREFIX is needed with --delete');
    const deleted = deleteRefs(repo, all, operands, aliases);
    ctx.out.result({ deleted }, () => '');
    return;
  }
  const shown: Array<RefInfo & { shown: string }> = [];
  for (const prefix of operands.length ? operands : [undefined]) {
    for (const r of all) {
      if (values.alias && r.aliasOf === undefined) continue;
      const name = matchPrefix(r.ref, prefix, Boolean(values.list));
      if (name !== undefined) shown.push({ ...r, shown: name });
    }
  }
  ctx.out.result(
    { refs: shown.map(({ shown: _s, ...r }) => r) },
    () => shown.map((r) => (values.alias ? `${r.shown} -> ${r.aliasOf}` : r.shown)).join('\n'),
  );
});

/** The listed name of `ref` under `prefix`, or undefined when it does not match. */
export function matchPrefix(ref: string, prefix: string | undefined, keepPrefix: boolean): string | undefined {
  if (prefix === undefined || ref === prefix) return ref;
  const p = prefix.replace(/\/+$/, '');
  if (ref.startsWith(p + '/')) return keepPrefix ? ref : ref.slice(p.length + 1);
  if (p.endsWith(':') && ref.startsWith(p)) return keepPrefix ? ref : ref.slice(p.length);
  return undefined;
}

/** Local aliases: alias name -> the ref name it points to. */
export function listAliases(repo: Repo): Map<string, string> {
  const heads = join(repo.path, 'refs/heads');
  const out = new Map<string, string>();
  const walk = (dir: string, prefix: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const name = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(dir, e.name), name);
      else if (e.isSymbolicLink()) {
        const target = relative(heads, resolve(dir, readlinkSync(join(dir, e.name))));
        if (!target.startsWith('..')) out.set(name, target);
      }
    }
  };
  walk(heads, '');
  return out;
}

function createRef(repo: Repo, spec: string, rev: string, force: boolean): RefInfo {
  const { remote, ref } = parseRefspec(spec);
  if (!force && readRef(repo, ref, remote) !== undefined) {
    throw new CanopyError('ERR_REF_EXISTS', `ref ${spec} already exists (use --force to replace it)`, { ref: spec });
  }
  const checksum = resolveCommit(repo, rev);
  if (!repo.hasObject(checksum, ObjectType.COMMIT)) throw new CanopyError('ERR_OBJECT_NOT_FOUND', `commit ${checksum} is not in ${repo.path}`, { checksum });
  writeRef(repo, ref, checksum, remote);
  return { ref: spec, checksum };
}

function createAlias(repo: Repo, alias: string, target: string, force: boolean): RefInfo {
  if (alias.includes(':') || target.includes(':')) throw usageError('refs', 'aliases are local refs; remote:ref cannot be used with --alias');
  assertRef(alias);
  assertRef(target);
  const checksum = readRef(repo, target);
  if (checksum === undefined) throw new CanopyError('ERR_REF_NOT_FOUND', `cannot alias ${target}: no such local ref`, { ref: target });
  const heads = join(repo.path, 'refs/heads');
  const path = join(heads, alias);
  const isAlias = ((): boolean => {
    try {
      return lstatSync(path).isSymbolicLink();
    } catch {
      return false;
    }
  })();
  if (!force && !isAlias && readRef(repo, alias) !== undefined) {
    throw new CanopyError('ERR_REF_EXISTS', `ref ${alias} already exists (use --force to replace it)`, { ref: alias });
  }
  if (alias === target) throw usageError('refs', 'a ref cannot be an alias of itself');
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    rmSync(tmp, { force: true });
    symlinkSync(relative(dirname(path), join(heads, target)), tmp);
    renameSync(tmp, path);
    if (repo.fsyncEnabled) fsyncDir(dirname(path));
  } catch (e) {
    throw ioError(e, 'create alias', path);
  }
  return { ref: alias, checksum, aliasOf: target };
}

function deleteRefs(repo: Repo, all: RefInfo[], prefixes: string[], aliases: Map<string, string>): string[] {
  const doomed = new Set<string>();
  for (const p of prefixes) {
    const matched = all.filter((r) => matchPrefix(r.ref, p, true) !== undefined);
    if (!matched.length) throw new CanopyError('ERR_REF_NOT_FOUND', `no ref matches ${JSON.stringify(p)}`, { prefix: p });
    for (const r of matched) doomed.add(r.ref);
  }
  for (const ref of doomed) {
    for (const [alias, target] of aliases) {
      if (target === ref && !doomed.has(alias)) {
        throw new CanopyError('ERR_INVALID_ARGUMENT', `ref ${ref} has an alias ${alias}; delete the alias first`, { ref, alias });
      }
    }
  }
  for (const spec of doomed) {
    const { remote, ref } = parseRefspec(spec);
    writeRef(repo, ref, undefined, remote);
  }
  return [...doomed];
}
