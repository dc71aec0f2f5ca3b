/**
 * A thin layer over `util.parseArgs`: each command declares its options
 * once; the declaration drives parsing (strict: an unknown option, a missing
 * value or a wrong number of operands is an ERR_USAGE error) and the
 * `--help` text. Option names follow `ostree`'s where the operation is the
 * same.
 */
import { parseArgs } from 'node:util';
import { CanopyError } from '../core/errors';

export interface OptionSpec {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  /** May be given more than once; the values are kept in order. */
  readonly multiple?: boolean;
  /** Placeholder for the value in help, e.g. `PATH`. */
  readonly value?: string;
  readonly help: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  /** One line for `canopy --help`. */
  readonly summary: string;
  /** Operands after `canopy NAME [OPTION…]`, e.g. `REV [PATH…]`. */
  readonly usage: string;
  /** Paragraphs shown under the usage line. */
  readonly description?: string;
  readonly options: O;
  /** Smallest and largest number of operands. */
  readonly operands: readonly [number, number];
  /** Whether the command takes --json (default true). */
  readonly json?: boolean;
  /** Whether the command works on a repository (--repo; default true). */
  readonly repo?: boolean;
}

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : S['multiple'] extends true ? string[] : string;

export type OptionValues<O extends OptionSpecs> = { -readonly [K in keyof O]?: ValueOf<O[K]> };

/** Options every command understands (some only when the spec says so). */
export interface GlobalValues {
  repo?: string;
  json?: boolean;
  help?: boolean;
}

export interface ParsedArgs<O extends OptionSpecs> {
  readonly values: OptionValues<O> & GlobalValues;
  readonly operands: string[];
}

export const GLOBAL_OPTIONS = {
  repo: { type: 'string', value: 'PATH', help: 'Repository (default: $OSTREE_REPO, else the current directory)' },
  json: { type: 'boolean', help: 'Print one JSON document on stdout (errors too)' },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies OptionSpecs;

function globalsFor(spec: CommandSpec): OptionSpecs {
  const g: Record<string, OptionSpec> = {};
  if (spec.repo !== false) g.repo = GLOBAL_OPTIONS.repo;
  if (spec.json !== false) g.json = GLOBAL_OPTIONS.json;
  g.help = GLOBAL_OPTIONS.help;
  return g;
}

/** An ERR_USAGE error that points at the command's help. */
export function usageError(command: string, message: string, details: Record<string, string> = {}): CanopyError {
  const help = command ? `canopy ${command} --help` : 'canopy --help';
  return new CanopyError('ERR_USAGE', `${message} (see ${help})`, { command, ...details });
}

/** Parses `argv` (the words after the command name) against `spec`. */
export function parseCommandArgs<O extends OptionSpecs>(spec: CommandSpec<O>, argv: readonly string[]): ParsedArgs<O> {
  const all = { ...globalsFor(spec), ...spec.options };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.entries(all).map(([k, o]) => [k, {
        type: o.type,
        multiple: Boolean(o.multiple),
        ...(o.short ? { short: o.short } : {}),
      }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw usageError(spec.name, describeParseError(e));
  }
  const values = parsed.values as OptionValues<O> & GlobalValues;
  if (!values.help) {
    const [min, max] = spec.operands;
    const n = parsed.positionals.length;
    if (n < min) throw usageError(spec.name, `missing operand: usage is canopy ${spec.name} ${spec.usage}`.trimEnd());
    if (n > max) throw usageError(spec.name, `unexpected operand ${JSON.stringify(parsed.positionals[max])}`);
  }
  return { values, operands: parsed.positionals };
}

function describeParseError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(err.message ?? '')?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return `unknown option ${quoted ?? ''}`.trimEnd();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': return (err.message ?? 'invalid option value').replace(/\.$/, '');
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': return `unexpected operand ${quoted ?? ''}`.trimEnd();
    default: return err.message ?? String(e);
  }
}

function optionLabel(name: string, o: OptionSpec): string {
  const long = `--${name}${o.type === 'string' ? `=${o.value ?? 'VALUE'}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

function optionLines(specs: OptionSpecs): string[] {
  const entries = Object.entries(specs);
  const width = Math.min(36, Math.max(...entries.map(([n, o]) => optionLabel(n, o).length)) + 2);
  return entries.map(([n, o]) => {
    const label = optionLabel(n, o);
    const help = o.help + (o.multiple ? ' (repeatable)' : '');
    return label.length >= width ? `  ${label}\n  ${' '.repeat(width)}${help}` : `  ${label.padEnd(width)}${help}`;
  });
}

/** The `--help` text of a command, generated from its declaration. */
export function commandHelp(spec: CommandSpec): string {
  const parts = [`Usage: canopy ${spec.name} [OPTION…] ${spec.usage}`.trimEnd(), '', spec.summary];
  if (spec.description) parts.push('', spec.description);
  if (Object.keys(spec.options).length) parts.push('', 'Options:', ...optionLines(spec.options));
  parts.push('', 'Global options:', ...optionLines(globalsFor(spec)));
  return parts.join('\n') + '\n';
}

/** Reads an integer option; throws ERR_USAGE for anything else. */
export function intOption(command: string, name: string, v: string | undefined, min = -Infinity, max = Infinity): number | undefined {
  if (v === undefined) return undefined;
  const n = /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(command, `--${name} needs an integer${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` <= ${max}` : ''}, not ${JSON.stringify(v)}`);
  }
  return n;
}

/** Splits `KEY=VALUE` at the first `=`; throws ERR_USAGE without one. */
export function splitKeyValue(command: string, option: string, s: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw usageError(command, `--${option} needs KEY=VALUE, got ${JSON.stringify(s)}`);
  return [s.slice(0, eq), s.slice(eq + 1)];
}
