/**
 * The `canopy` operator CLI: dispatch to one subcommand, print its result
 * or its error, return the exit status. All I/O goes through {@link CliIo}
 * so the whole CLI runs in tests without a process.
 */
import { catCommand } from './cat';
import { checkoutCommand } from './checkout';
import { usageError, type GlobalValues } from './cli-args';
import type { Command } from './command';
import { commitCommand } from './commit';
import { demoCommand } from './demo';
import { exitCodeHelp, ExitCode } from './exit-codes';
import { fleetCommand } from './fleet';
import { fsckCommand } from './fsck';
import { initCommand } from './init';
import { keysCommand } from './keys';
import { logCommand } from './log';
import { lsCommand } from './ls';
import { Output, type CliIo } from './output';
import { pruneCommand } from './prune';
import { publishCommand } from './publish';
import { pullCommand } from './pull';
import { pullLocalCommand } from './pull-local';
import { refsCommand } from './refs';
import { remoteCommand } from './remote';
import { revParseCommand } from './rev-parse';
import { rolloutCommand } from './rollout';
import { serveCommand } from './serve';
import { showCommand } from './show';
import { staticDeltaCommand } from './static-delta';
import { signCommand } from './sign';
import { summaryCommand } from './summary';

declare const __CANOPY_VERSION__: string | undefined;

/** The version the build stamped in, or "dev" when run from source. */
export const VERSION: string = typeof __CANOPY_VERSION__ === 'string' ? __CANOPY_VERSION__ : 'dev';

export const COMMANDS: readonly Command[] = [
  initCommand, commitCommand, logCommand, lsCommand, catCommand, showCommand, refsCommand, revParseCommand,
  checkoutCommand, fsckCommand, pruneCommand, summaryCommand, staticDeltaCommand, remoteCommand, pullCommand, pullLocalCommand,
  keysCommand, signCommand, serveCommand, publishCommand, rolloutCommand, fleetCommand, demoCommand,
];

/** `canopy --help`. */
export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return [
    'Usage: canopy [--repo=PATH] [--json] COMMAND [OPTION…]',
    '',
    'Build, inspect and maintain OSTree repositories (formats byte-compatible with ostree).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    'Global options (before or after COMMAND):',
    '  --repo=PATH   Repository (default: $OSTREE_REPO, else the current directory)',
    '  --json        Print one JSON document on stdout: the result, or {"error": {code, message, details}}',
    '  -h, --help    Show help (canopy COMMAND --help for a command\'s options)',
    '  --version     Print the version',
    '',
    'Exit status:',
    exitCodeHelp(),
    '',
  ].join('\n');
}

/** Runs the CLI for `argv` as process.argv spells it (node, script, words…). Returns the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const words = argv.slice(2);
  const globals: GlobalValues = {};
  const wantsJson = words.slice(0, words.includes('--') ? words.indexOf('--') : undefined).includes('--json');
  let i = 0;
  try {
    for (; i < words.length && words[i].startsWith('-'); i++) {
      const w = words[i];
      if (w === '--json') globals.json = true;
      else if (w === '-h' || w === '--help') globals.help = true;
      else if (w === '--version') {
        new Output(io, '', wantsJson).result({ version: VERSION }, () => `canopy ${VERSION}`);
        return ExitCode.OK;
      } else if (w.startsWith('--repo=')) globals.repo = w.slice('--repo='.length);
      else if (w === '--repo') {
        if (i + 1 >= words.length) throw usageError('', '--repo needs a PATH');
        globals.repo = words[++i];
      }
      else throw usageError('', `unknown option ${w} before the command`);
    }
    const name = words[i];
    if (name === undefined || name === 'help') {
      const topic = name === 'help' ? COMMANDS.find((c) => c.spec.name === words[i + 1]) : undefined;
      if (topic) return await topic.run(io, ['--help'], {});
      if (globals.help || name === 'help') {
        io.stdout.write(topHelp());
        return ExitCode.OK;
      }
      io.stderr.write(topHelp());
      return ExitCode.USAGE;
    }
    const command = COMMANDS.find((c) => c.spec.name === name);
    if (!command) throw usageError('', `unknown command ${JSON.stringify(name)}`);
    try {
      return await command.run(io, words.slice(i + 1), globals);
    } catch (e) {
      return new Output(io, name, wantsJson).error(e);
    }
  } catch (e) {
    return new Output(io, '', wantsJson).error(e);
  }
}
