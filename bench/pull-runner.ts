/**
 * The canopy side of bench/pull-bench.ts when the CLI has no `pull` yet:
 * one process that opens (or creates) a repository with remote `o`, pulls
 * one ref and prints the result as JSON. Bundled with esbuild by the bench
 * so its start-up cost is that of a bundle, like dist/canopy.cjs.
 *
 *   node pull-runner.cjs REPO URL MODE REF [CONCURRENCY]
 */
import { Repo } from '../agent/src/repo/index';
import { addRemote } from '../agent/src/repo/remotes';
import { pull } from '../agent/src/pull/index';

async function main(): Promise<void> {
  const [repoPath, url, mode, ref, concurrency] = process.argv.slice(2);
  let repo: Repo;
  try {
    repo = Repo.open(repoPath);
  } catch {
    repo = Repo.init(repoPath, { mode: mode as 'bare' | 'bare-user-only' | 'archive' });
    addRemote(repo, 'o', url, { noGpgVerify: true });
  }
  if (ref === '--init') return;
  const r = await pull(repo, 'o', [ref], { concurrency: concurrency ? Number(concurrency) : undefined });
  process.stdout.write(JSON.stringify(r) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
});
