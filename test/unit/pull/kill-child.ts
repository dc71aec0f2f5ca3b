/**
 * Child process for resume.test.ts: pulls `main` of remote `origin` into
 * REPO with frequent checkpoints, slowly, until the parent kills it.
 *
 *   node --import tsx kill-child.ts REPO
 */
import { pull } from '../../../agent/src/pull/index';
import { Repo } from '../../../agent/src/repo/index';

const repo = Repo.open(process.argv[2]);
pull(repo, 'origin', ['main'], { concurrency: 2, checkpointIntervalMs: 50 }).then(
  () => process.stdout.write('finished\n'),
  (e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
