/**
 * JSON Schema validation of the protocol messages and of the agent
 * configuration. The schemas (`schemas/*.json`, `../config/schema.json`)
 * are compiled ahead of time into ajv standalone code,
 * `validators.generated.ts` (`npm run gen:validators`), so nothing is
 * compiled at run time and ajv's compiler is never loaded; the bundle
 * carries the generated checks and ajv's small run-time helpers only.
 *
 * Validators never throw on bad input: they return the value with its
 * type, or issues that name the field path (`rollout.waves[2].percent`)
 * and what is wrong with it.
 */
import type { ErrorObject } from 'ajv';
import {
  checkAgentConfig, checkAgentConfigFragment, checkAnnouncement, checkCommand, checkDeviceEvent, checkDeviceState, checkEnvelope,
  type PrecompiledCheck,
} from './validators.generated';
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

function precompiled<T>(fn: PrecompiledCheck): Validator<T> {
  return (value) => run<T>(fn, value);
}

function run<T>(fn: PrecompiledCheck, value: unknown): Validation<T> {
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
export const validateEnvelope: Validator<Envelope> = precompiled<Envelope>(checkEnvelope);
/** Checks an announcement payload. */
export const validateAnnouncement: Validator<Announcement> = precompiled<Announcement>(checkAnnouncement);
/** Checks a command payload (unknown kinds are issues). */
export const validateCommand: Validator<Command> = precompiled<Command>(checkCommand);
/** Checks a device state report. */
export const validateDeviceState: Validator<DeviceState> = precompiled<DeviceState>(checkDeviceState);
/** Checks a device event (unknown kinds pass with their common fields checked). */
export const validateDeviceEvent: Validator<DeviceEvent> = precompiled<DeviceEvent>(checkDeviceEvent);

/**
 * Checks the whole, merged agent configuration (`config/schema.json`):
 * every issue, and fills in `default` values (mutates the value). The
 * caller names the type (the config module's `AgentConfig`).
 */
export function validateAgentConfig<T>(value: unknown): Validation<T> {
  return run<T>(checkAgentConfig, value);
}

/**
 * Checks one configuration fragment: the configuration schema relaxed by
 * `config/fragment-schema.ts` (types and known fields; nothing required,
 * no defaults), every issue. Does not change the value.
 */
export function validateAgentConfigFragment<T>(value: unknown): Validation<T> {
  return run<T>(checkAgentConfigFragment, value);
}
