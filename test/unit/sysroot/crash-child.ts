/**
 * Child process of crash.test.ts: runs one sysroot operation with a fault
 * hook that kills the process (SIGKILL, no clean-up of any kind) right
 * after file-system operation number K. Prints `OPS <n>` when the operation
 * finished without being killed.
 *
 *   node crash-child.cjs deploy|cleanup SYSROOT K
 */
import { cleanup, deploy } from '../../../agent/src/sysroot/index';

async function main(): Promise<void> {
  const [op, sysroot, kText] = process.argv.slice(2);
  const k = Number(kText);
  let n = 0;
  const hook = (): void => {
    n++;
    if (n === k) process.kill(process.pid, 'SIGKILL');
  };
  if (op === 'deploy') await deploy(sysroot, 'testos/main', { stateroot: 'testos', fsync: false, immutable: false, hook });
  else if (op === 'cleanup') await cleanup(sysroot, { fsync: false, immutable: false, hook });
  else throw new Error(`unknown operation ${op}`);
  process.stdout.write(`OPS ${n}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
