/** Entry point of `canopy-agent`, the device program: real process adapters in, exit status out. */
import { agentMain } from '../cli/agent-main';
import { failIfUnfinished } from '../cli/unfinished';

let finished = false;

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') {
    finished = true;
    process.exit(0);
  }
  throw e;
});

// The unit restarts the daemon on failure only: a daemon whose work stalled must not end with status 0.
failIfUnfinished(() => finished, process.stderr, 'canopy-agent');

agentMain(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), now: () => Date.now() })
  .then((status) => {
    finished = true;
    process.exitCode = status;
  });
