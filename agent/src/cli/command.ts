/**
 * The shape every subcommand file exports: a declaration and a handler.
 * {@link defineCommand} parses the arguments, answers `--help`, builds the
 * {@link RunContext} (output mode, repository path, progress) and runs the
 * handler. Errors propagate to main, which prints them once.
 */
import { isAbsolute, resolve } from 'node:path';
import { Repo } from '../repo/index';
import { commandHelp, parseCommandArgs, type CommandSpec, type GlobalValues, type OptionSpecs, type ParsedArgs } from './cli-args';
import { Output, type CliIo } from './output';
import { ProgressLine } from './progress';

export interface RunContext {
  readonly io: CliIo;
  readonly out: Output;
  readonly json: boolean;
  /** --repo, else $OSTREE_REPO, else the current directory; absolute. */
  readonly repoPath: string;
  /** Opens the repository at {@link repoPath}. Throws ERR_REPO_INVALID or ERR_REPO_MODE. */
  openRepo(): Repo;
  /** A progress line on stderr; silent unless stderr is a TTY (and never with --json). */
  progress(label: string): ProgressLine;
}

export interface Command {
  readonly spec: CommandSpec;
  /** Runs with the words after the command name; `globals` are options given before it. Returns the exit status. */
  run(io: CliIo, argv: readonly string[], globals: GlobalValues): Promise<number>;
}

export type Handler<O extends OptionSpecs> = (ctx: RunContext, args: ParsedArgs<O>) => Promise<number | void> | number | void;

export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>, handler: Handler<O>): Command {
  return {
    spec: spec as CommandSpec,
    async run(io, argv, globals) {
      const args = parseCommandArgs(spec, argv);
      if (args.values.help || globals.help) {
        io.stdout.write(commandHelp(spec as CommandSpec));
        return 0;
      }
      const json = Boolean(args.values.json ?? globals.json);
      const given = args.values.repo ?? globals.repo ?? io.env.OSTREE_REPO ?? '.';
      const repoPath = isAbsolute(given) ? given : resolve(io.cwd, given);
      const ctx: RunContext = {
        io,
        out: new Output(io, spec.name, json),
        json,
        repoPath,
        openRepo: () => Repo.open(repoPath),
        progress: (label) => new ProgressLine(io.stderr, { label, now: () => io.now(), enabled: !json }),
      };
      return (await handler(ctx, args)) ?? 0;
    },
  };
}
