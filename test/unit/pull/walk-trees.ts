/** Every dirtree and dirmeta of a commit's tree (test helper for fake deltas). */
import { ObjectType } from '../../../agent/src/objects/index';
import type { Repo } from '../../../agent/src/repo/index';

export function walkTreesOf(repo: Repo, commit: string): Array<[ObjectType, string]> {
  const c = repo.loadCommit(commit);
  const out: Array<[ObjectType, string]> = [[ObjectType.DIR_META, c.rootMeta]];
  const seen = new Set<string>();
  const stack = [c.rootTree];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    out.push([ObjectType.DIR_TREE, t]);
    for (const d of repo.loadDirTree(t).dirs) {
      out.push([ObjectType.DIR_META, d.meta]);
      stack.push(d.tree);
    }
  }
  return out;
}
