/** Entry point of `canopy-agent`, the device program: real process adapters in, exit status out. */
import { agentMain } from '../cli/agent-main';

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

agentMain(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), now: () => Date.now() })
  .then((status) => {
    process.exitCode = status;
  });
