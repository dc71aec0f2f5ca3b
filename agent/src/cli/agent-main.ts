/**
 * The `canopy-agent` device CLI: `canopy-agent admin <command>` for the
 * deployments on the device (the daemon's own commands join here). Like
 * main.ts all I/O goes through {@link CliIo}, so it runs in tests without a
 * process. This file must not import operator-only code (delta generation,
 * xz compression, signing with private keys): the device bundle is built
 * from it.
 */
import { cleanupCommand } from './admin/cleanup';
import { deployCommand } from './admin/deploy';
import { finalizeStagedCommand } from './admin/finalize-staged';
import { healthCommand } from './admin/health';
import { initFsCommand } from './admin/init-fs';
import { markGoodCommand } from './admin/mark-good';
import { osInitCommand } from './admin/os-init';
import { pinCommand } from './admin/pin';
import { rollbackCommand } from './admin/rollback';
import { statusCommand } from './admin/status';
import { undeployCommand } from './admin/undeploy';
import { unpinCommand } from './admin/unpin';
import { upgradeCommand } from './admin/upgrade';
import { runCommand, simulateBootCommand } from '../agent/index';
import { CanopyError } from '../core/errors';
import type { GlobalValues } from './cli-args';
import type { Command } from './command';
import { ExitCode, exitCodeHelp } from './exit-codes';
import { Output, type CliIo, type Sink } from './output';

export const ADMIN_COMMANDS: readonly Command[] = [
  statusCommand, deployCommand, upgradeCommand, rollbackCommand, undeployCommand, pinCommand, unpinCommand,
  cleanupCommand, finalizeStagedCommand, initFsCommand, osInitCommand, healthCommand, markGoodCommand,
];

declare const __CANOPY_VERSION__: string | undefined;

/** The version the build stamped in, or "dev" when run from source. */
const VERSION: string = typeof __CANOPY_VERSION__ === 'string' ? __CANOPY_VERSION__ : 'dev';

/** The admin command's word: `admin deploy` -> `deploy`. */
const word = (c: Command): string => c.spec.name.slice('admin '.length);

export function adminHelp(): string {
  const width = Math.max(...ADMIN_COMMANDS.map((c) => word(c).length)) + 2;
  return [
    'Usage: canopy-agent admin COMMAND [OPTION…]',
    '',
    'Deployments on this device, in the OSTree sysroot layout (compatible with ostree admin).',
    '',
    'Commands:',
    ...ADMIN_COMMANDS.map((c) => `  ${word(c).padEnd(width)}${c.spec.summary}`),
    '',
    'Every command takes --sysroot=PATH (default /) and --help; status takes --json.',
    '',
    'Exit status:',
    exitCodeHelp(),
    '',
  ].join('\n');
}

export function agentHelp(): string {
  return [
    'Usage: canopy-agent [--version] [--help] COMMAND …',
    '',
    'The Canopy agent on the device.',
    '',
    'Commands:',
    '  admin          Manage deployments (canopy-agent admin --help)',
    '  run            The update daemon (canopy-agent run --help)',
    '  simulate-boot  One simulated boot of a sysroot, for tests and demos',
    '',
  ].join('\n');
}

/** The shared command declarations say "canopy"; on the device the program is canopy-agent. */
function renamed(sink: Sink): Sink {
  const fix = (s: string): string => s.replace(/^(Usage: )?canopy(?= admin|:)/gm, '$1canopy-agent').replace(/\(see canopy (?=admin)/g, '(see canopy-agent ');
  return {
    write: (chunk) => sink.write(typeof chunk === 'string' ? fix(chunk) : chunk),
    get isTTY() { return sink.isTTY; },
    get columns() { return sink.columns; },
  };
}

/** Runs `canopy-agent` for `argv` as process.argv spells it. Returns the exit status. */
export async function agentMain(argv: readonly string[], rawIo: CliIo): Promise<number> {
  const io: CliIo = { ...rawIo, stdout: renamed(rawIo.stdout), stderr: renamed(rawIo.stderr), now: () => rawIo.now() };
  const words = argv.slice(2);
  const wantsJson = words.includes('--json');
  try {
    const [first, second] = words;
    if (first === '--version') {
      new Output(io, '', wantsJson).result({ version: VERSION }, () => `canopy-agent ${VERSION}`);
      return ExitCode.OK;
    }
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      (first === undefined ? io.stderr : io.stdout).write(agentHelp());
      return first === undefined ? ExitCode.USAGE : ExitCode.OK;
    }
    if (first === 'run') return await runCommand(words.slice(1), io, VERSION);
    if (first === 'simulate-boot') return await simulateBootCommand(words.slice(1), io);
    if (first !== 'admin') return new Output(io, '', wantsJson).error(new CanopyError('ERR_USAGE', `unknown command ${JSON.stringify(first)} (see canopy-agent --help)`, { command: first }));
    if (second === undefined || second === '--help' || second === '-h' || second === 'help') {
      (second === undefined ? io.stderr : io.stdout).write(adminHelp());
      return second === undefined ? ExitCode.USAGE : ExitCode.OK;
    }
    const command = ADMIN_COMMANDS.find((c) => word(c) === second);
    if (!command) throw new CanopyError('ERR_USAGE', `unknown admin command ${JSON.stringify(second)} (see canopy-agent admin --help)`, { command: second });
    const globals: GlobalValues = {};
    try {
      return await command.run(io, words.slice(2), globals);
    } catch (e) {
      return new Output(io, command.spec.name, wantsJson).error(e);
    }
  } catch (e) {
    return new Output(io, 'admin', wantsJson).error(e);
  }
}
