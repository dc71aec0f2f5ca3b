/**
 * What both programs (`canopy`, `canopy-agent`) do around their main
 * function: real process adapters in, the exit status out, a reader that
 * closes stdout early (`canopy ls … | head`) is not an error, and a command
 * that never settles fails instead of passing for success.
 */
import { ExitCode } from './exit-codes';
import type { CliIo } from './output';

/**
 * A command left waiting for something that can no longer happen (a worker
 * thread gone without answering, say) ends when the event loop runs empty,
 * and Node.js reports that as success. From now on, a process exit with
 * status 0 before `finished()` is true exits with status 1 and a message
 * (prefixed with `program`) instead.
 */
export function failIfUnfinished(finished: () => boolean, stderr: { write(s: string): unknown }, program = 'canopy'): void {
  process.on('exit', (code) => {
    if (finished() || code !== 0) return;
    stderr.write(`${program}: internal error: the command stopped before it finished (it was waiting for work that will not come)\n`);
    process.exitCode = ExitCode.FAILURE;
  });
}

/** Runs `main` on this process's arguments and streams, and exits with the status it returns. */
export function runProgram(program: string, main: (argv: readonly string[], io: CliIo) => Promise<number>): void {
  let finished = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      finished = true;
      process.exit(0);
    }
    throw e;
  });
  failIfUnfinished(() => finished, process.stderr, program);
  void main(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), now: () => Date.now() })
    .then((status) => {
      finished = true;
      process.exitCode = status;
    });
}
