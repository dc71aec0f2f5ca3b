/**
 * A command with subcommands (`canopy keys generate`, `canopy rollout
 * status`, `canopy fleet command`): the group dispatches on its first word
 * to commands declared with {@link defineCommand} under the name
 * `GROUP WORD`, and answers `--help` with the list.
 */
import { usageError, type CommandSpec } from './cli-args';
import type { Command } from './command';

/** The subcommand's word: `rollout status` -> `status`. */
const word = (group: string, c: Command): string => c.spec.name.slice(group.length + 1);

export function groupHelp(name: string, summary: string, subs: readonly Command[]): string {
  const width = Math.max(...subs.map((c) => word(name, c).length)) + 2;
  return [
    `Usage: canopy ${name} COMMAND [OPTION…]`,
    '',
    summary,
    '',
    'Commands:',
    ...subs.map((c) => `  ${word(name, c).padEnd(width)}${c.spec.summary}`),
    '',
    `canopy ${name} COMMAND --help shows a command's options.`,
    '',
  ].join('\n');
}

/** A group command named `name` over `subs` (each named `name WORD`). */
export function defineGroup(name: string, summary: string, subs: readonly Command[]): Command {
  for (const c of subs) if (!c.spec.name.startsWith(`${name} `)) throw new Error(`subcommand ${c.spec.name} is not under ${name}`);
  const spec: CommandSpec = { name, summary, usage: 'COMMAND [OPTION…]', options: {}, operands: [0, Infinity], json: false, repo: false };
  return {
    spec,
    async run(io, argv, globals) {
      const first = argv[0];
      if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
        const text = groupHelp(name, summary, subs);
        if (first === undefined && !globals.help) {
          io.stderr.write(text);
          return 2;
        }
        io.stdout.write(text);
        return 0;
      }
      const sub = subs.find((c) => word(name, c) === first);
      if (!sub) throw usageError(name, `unknown ${name} command ${JSON.stringify(first)}`);
      return sub.run(io, argv.slice(1), globals);
    },
  };
}
