/**
 * Entry point of `canopy-agent`, the device program. Its unit restarts the
 * daemon on failure only, so a daemon whose work stalled must not end with
 * status 0 (see runProgram).
 */
import { agentMain } from '../cli/agent-main';
import { runProgram } from '../cli/entry';

runProgram('canopy-agent', agentMain);
