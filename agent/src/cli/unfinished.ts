/**
 * A command left waiting for something that can no longer happen (a worker
 * thread gone without answering, say) ends when the event loop runs empty,
 * and Node.js reports that as success. This turns such an end into a
 * failure that says so.
 */
import { ExitCode } from './exit-codes';

/**
 * From now on, a process exit with status 0 before `finished()` is true
 * exits with status 1 and a message (prefixed with `program`) instead.
 */
export function failIfUnfinished(finished: () => boolean, stderr: { write(s: string): unknown }, program = 'canopy'): void {
  process.on('exit', (code) => {
    if (finished() || code !== 0) return;
    stderr.write(`${program}: internal error: the command stopped before it finished (it was waiting for work that will not come)\n`);
    process.exitCode = ExitCode.FAILURE;
  });
}
