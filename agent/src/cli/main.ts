/**
 * The `canopy` operator CLI: dispatch to one subcommand, print its result
 * or its error, return the exit status. All I/O goes through {@link CliIo}
 * so the whole CLI runs in tests without a process.
 */
import { usageError, type GlobalValues } from './cli-args';
import type { Command } from './command';
import { exitCodeHelp, ExitCode } from './exit-codes';
import { Output, type CliIo } from './output';

declare const __CANOPY_VERSION__: string | undefined;

/** The version the build stamped in, or "dev" when run from source. */
export const VERSION: string = typeof __CANOPY_VERSION__ === 'string' ? __CANOPY_VERSION__ : 'dev';

/**
 * The commands, each loaded when it runs: a command's module and what it
 * alone needs (OpenPGP, MQTT, the fleet's schemas, …) are not evaluated
 * for another one. `canopy --version` went from 50 to 30-40 ms, and a
 * pull's first request left 11 ms sooner. The summaries are the commands'
 * own (a test holds them equal).
 */
export const COMMAND_TABLE: ReadonlyArray<{ readonly name: string; readonly summary: string; readonly load: () => Promise<Command> }> = [
  { name: 'init', summary: 'Create an empty repository', load: async () => (await import('./init')).initCommand },
  { name: 'commit', summary: 'Commit a directory tree as a new revision', load: async () => (await import('./commit')).commitCommand },
  { name: 'log', summary: 'Show a commit and its history', load: async () => (await import('./log')).logCommand },
  { name: 'ls', summary: 'List paths in a commit', load: async () => (await import('./ls')).lsCommand },
  { name: 'cat', summary: 'Write the content of files in a commit to stdout', load: async () => (await import('./cat')).catCommand },
  { name: 'show', summary: 'Show one commit', load: async () => (await import('./show')).showCommand },
  { name: 'refs', summary: 'List, create, alias or delete refs', load: async () => (await import('./refs')).refsCommand },
  { name: 'rev-parse', summary: 'Print the commit checksum a revision names', load: async () => (await import('./rev-parse')).revParseCommand },
  { name: 'checkout', summary: 'Check out a commit into a directory', load: async () => (await import('./checkout')).checkoutCommand },
  { name: 'fsck', summary: 'Check the repository for missing and corrupt objects', load: async () => (await import('./fsck')).fsckCommand },
  { name: 'prune', summary: 'Delete unreachable objects', load: async () => (await import('./prune')).pruneCommand },
  { name: 'summary', summary: 'Regenerate (-u) or view (-v) the summary file', load: async () => (await import('./summary')).summaryCommand },
  { name: 'static-delta', summary: 'Generate, list, show, delete and apply static deltas', load: async () => (await import('./static-delta')).staticDeltaCommand },
  { name: 'remote', summary: 'Manage remotes: add, list, delete, show-url, gpg-import', load: async () => (await import('./remote')).remoteCommand },
  { name: 'pull', summary: 'Download and verify commits from a remote', load: async () => (await import('./pull')).pullCommand },
  { name: 'pull-local', summary: 'Copy commits from another local repository', load: async () => (await import('./pull-local')).pullLocalCommand },
  { name: 'keys', summary: "Operator signing keys (ed25519, in OSTree's key file formats)", load: async () => (await import('./keys')).keysCommand },
  { name: 'sign', summary: 'Sign a commit (ed25519 and/or OpenPGP), appending to its .commitmeta', load: async () => (await import('./sign')).signCommand },
  { name: 'serve', summary: 'Serve the repository over HTTP (Range, ETag, no listings) until interrupted', load: async () => (await import('./serve')).serveCommand },
  { name: 'publish', summary: 'Commit, sign, make deltas, sign the summary and announce a release in waves', load: async () => (await import('./publish')).publishCommand },
  { name: 'rollout', summary: "Staged rollouts of a channel's release, gated by the fleet's health", load: async () => (await import('./rollout')).rolloutCommand },
  { name: 'fleet', summary: "The fleet's state and signed remote commands", load: async () => (await import('./fleet')).fleetCommand },
  { name: 'demo', summary: 'The fleet demo: publish, roll out in waves, a bad release pauses itself, a remote rollback', load: async () => (await import('./demo')).demoCommand },
];

/** Every command, loaded (for tests and documentation). */
export async function loadCommands(): Promise<Command[]> {
  return Promise.all(COMMAND_TABLE.map((c) => c.load()));
}

/** `canopy --help`. */
export function topHelp(): string {
  const width = Math.max(...COMMAND_TABLE.map((c) => c.name.length)) + 2;
  return [
    'Usage: canopy [--repo=PATH] [--json] COMMAND [OPTION…]',
    '',
    'Build, inspect and maintain OSTree repositories (formats byte-compatible with ostree).',
    '',
    'Commands:',
    ...COMMAND_TABLE.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
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
      const topic = name === 'help' ? COMMAND_TABLE.find((c) => c.name === words[i + 1]) : undefined;
      if (topic) return await (await topic.load()).run(io, ['--help'], {});
      if (globals.help || name === 'help') {
        io.stdout.write(topHelp());
        return ExitCode.OK;
      }
      io.stderr.write(topHelp());
      return ExitCode.USAGE;
    }
    const entry = COMMAND_TABLE.find((c) => c.name === name);
    if (!entry) throw usageError('', `unknown command ${JSON.stringify(name)}`);
    try {
      return await (await entry.load()).run(io, words.slice(i + 1), globals);
    } catch (e) {
      return new Output(io, name, wantsJson).error(e);
    }
  } catch (e) {
    return new Output(io, '', wantsJson).error(e);
  }
}
