/** Entry point of the `canopy` operator CLI: real process adapters in, exit status out. */
import { main } from '../cli/main';
import { failIfUnfinished } from '../cli/unfinished';

let finished = false;

// `canopy ls … | head` closes the pipe early; that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') {
    finished = true;
    process.exit(0);
  }
  throw e;
});

failIfUnfinished(() => finished, process.stderr);

main(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), now: () => Date.now() })
  .then((status) => {
    finished = true;
    process.exitCode = status;
  });
