/**
 * JSON Schema validation: the only file that imports ajv. Each schema is
 * compiled once, on first use, and kept. Validators never throw on bad
 * input: they return the value with its type, or issues that name the
 * field path (`rollout.waves[2].percent`) and what is wrong with it.
 *
 * The message schemas live in `schemas/*.json` (draft-07) and are imported
 * as modules, so a bundle carries them and needs no files at run time.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import announcementSchema from './schemas/announcement.json';
import commandSchema from './schemas/command.json';
import commonSchema from './schemas/common.json';
import envelopeSchema from './schemas/envelope.json';
import eventSchema from './schemas/event.json';
import stateSchema from './schemas/state.json';
import type { Announcement, Command, DeviceEvent, DeviceState, Envelope } from './messages';

/** One problem found in a value. */
export interface SchemaIssue {
  /** Field path in dotted form, e.g. `target.device`, `rollout.waves[0].percent`; `(root)` for the value itself. */
  path: string;
  message: string;
  /** The JSON Schema keyword that failed (`required`, `type`, `pattern`, …). */
  keyword: string;
}

/** The outcome of a validation. */
export type Validation<T> =
  | { ok: true; value: T }
  | { ok: false; issues: SchemaIssue[]; /** The issues as one line. */ message: string };

/** A compiled validator. */
export type Validator<T> = (value: unknown) => Validation<T>;

/** Options for {@link compileValidator}. */
export interface CompileOptions {
  /** Fill in `default` values from the schema (mutates the value). */
  useDefaults?: boolean;
  /** Report every issue instead of the first. */
  allErrors?: boolean;
}

const STRICT = { strict: true, discriminator: true, multipleOfPrecision: 9 } as const;

let messageAjv: Ajv | undefined;

function messages(): Ajv {
  if (!messageAjv) {
    messageAjv = new Ajv({ ...STRICT, allErrors: false });
    messageAjv.addSchema(commonSchema);
  }
  return messageAjv;
}

function lazy<T>(schema: object): Validator<T> {
  let fn: ValidateFunction | undefined;
  return (value) => {
    fn ??= messages().compile(schema);
    return run<T>(fn, value);
  };
}

function run<T>(fn: ValidateFunction, value: unknown): Validation<T> {
  if (fn(value)) return { ok: true, value: value as T };
  const issues = (fn.errors ?? []).map(toIssue);
  // "must match if/then" and "anyOf" summaries add nothing when a specific issue is present.
  const specific = issues.filter((x) => x.keyword !== 'if' && x.keyword !== 'anyOf');
  const kept = specific.length > 0 ? specific : issues;
  const unique = kept.filter((x, i) => kept.findIndex((y) => y.path === x.path && y.message === x.message) === i);
  return { ok: false, issues: unique, message: unique.map((x) => `${x.path}: ${x.message}`).join('; ') };
}

/** Turns a JSON pointer and an ajv error into a dotted path and a message. */
function toIssue(e: ErrorObject): SchemaIssue {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty
    : e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty
      : e.keyword === 'discriminator' ? (e.params as { tag: string }).tag
        : undefined;
  if (extra !== undefined) parts.push(extra);
  const path = parts.reduce((acc, p) => (/^[0-9]+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)';
  let message = e.message ?? e.keyword;
  if (e.keyword === 'required') message = 'is required';
  else if (e.keyword === 'additionalProperties') message = 'is not a known field';
  else if (e.keyword === 'discriminator') message = 'is not a known kind';
  else if (e.keyword === 'enum') message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  else if (e.keyword === 'const') message = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
  else if (e.keyword === 'oneOf') message = 'must match exactly one of its allowed forms';
  return { path, message, keyword: e.keyword };
}

/** Checks the outer shape of a signed envelope. */
export const validateEnvelope: Validator<Envelope> = lazy<Envelope>(envelopeSchema);
/** Checks an announcement payload. */
export const validateAnnouncement: Validator<Announcement> = lazy<Announcement>(announcementSchema);
/** Checks a command payload (unknown kinds are issues). */
export const validateCommand: Validator<Command> = lazy<Command>(commandSchema);
/** Checks a device state report. */
export const validateDeviceState: Validator<DeviceState> = lazy<DeviceState>(stateSchema);
/** Checks a device event (unknown kinds pass with their common fields checked). */
export const validateDeviceEvent: Validator<DeviceEvent> = lazy<DeviceEvent>(eventSchema);

/**
 * Compiles another schema (e.g. the agent configuration's) in its own ajv
 * instance, strict like the message schemas.
 *
 * @throws ERR_INVALID_ARGUMENT-free: ajv throws a plain Error for an
 *   invalid schema, which is a programming error.
 */
export function compileValidator<T>(schema: object, opts: CompileOptions = {}): Validator<T> {
  let fn: ValidateFunction | undefined;
  return (value) => {
    fn ??= new Ajv({ ...STRICT, allErrors: opts.allErrors ?? false, useDefaults: opts.useDefaults ?? false }).compile(schema);
    return run<T>(fn, value);
  };
}
