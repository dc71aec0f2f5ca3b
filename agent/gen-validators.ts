/**
 * Writes agent/src/channel/validators.generated.ts: the JSON Schema checks
 * of the message schemas (agent/src/channel/schemas/*.json) and of the
 * agent configuration (agent/src/config/schema.json), as ajv standalone
 * code. The agent and the CLI run that code and never load ajv's compiler;
 * only the small helpers under `ajv/dist/runtime/` that the code needs.
 *
 *   npm run gen:validators          (node --import tsx agent/gen-validators.ts)
 *
 * The output depends only on the schemas and the ajv version, so it is
 * committed; a unit test regenerates it in memory and fails when the
 * committed file differs.
 */
import Ajv, { type Options } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// A direct file import: the config module's index reaches the generated file itself.
import { relax } from './src/config/fragment-schema';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the output goes, relative to the repository root. */
export const GENERATED_FILE = 'agent/src/channel/validators.generated.ts';

/** The ajv options every schema is compiled with (the first issue only unless a group says otherwise). */
const STRICT: Options = { strict: true, discriminator: true, multipleOfPrecision: 9, allErrors: false };

/** The schemas the validators are generated from, as parsed JSON. */
export interface ValidatorSchemas {
  /** Definitions the message schemas refer to by `$ref` (`urn:canopy:schema:v1:common`). */
  common: object;
  envelope: object;
  announcement: object;
  command: object;
  state: object;
  event: object;
  /** The agent configuration schema. */
  config: object;
}

/** Reads the schemas from the source tree. */
export function readSchemas(root: string = ROOT): ValidatorSchemas {
  const json = (path: string): object => JSON.parse(readFileSync(join(root, path), 'utf8')) as object;
  const message = (name: string): object => json(`agent/src/channel/schemas/${name}.json`);
  return {
    common: message('common'),
    envelope: message('envelope'),
    announcement: message('announcement'),
    command: message('command'),
    state: message('state'),
    event: message('event'),
    config: json('agent/src/config/schema.json'),
  };
}

/** One ajv instance's worth of validators, and the exported name of each. */
interface Group {
  /** Local name of the group in the output. */
  name: string;
  /** What the group is, for the comment above it. */
  doc: string;
  options: Options;
  /** Schemas that are only referred to. */
  refs: object[];
  /** Exported name -> schema. */
  checks: Record<string, object>;
  /** Exported name -> TSDoc line. */
  docs: Record<string, string>;
}

/**
 * The text of the generated file.
 *
 * @throws Error from ajv when a schema is invalid or breaks strict mode
 *   (an unknown keyword, a type conflict, …): a programming error.
 */
export function generateValidators(schemas: ValidatorSchemas = readSchemas()): string {
  const fragment = relax(schemas.config) as object;
  const groups: Group[] = [
    {
      name: 'messages',
      doc: 'Protocol messages: the first issue only.',
      options: { ...STRICT },
      refs: [schemas.common],
      checks: {
        checkEnvelope: schemas.envelope, checkAnnouncement: schemas.announcement, checkCommand: schemas.command,
        checkDeviceState: schemas.state, checkDeviceEvent: schemas.event,
      },
      docs: {
        checkEnvelope: 'A signed envelope (channel/schemas/envelope.json).',
        checkAnnouncement: 'An announcement payload (channel/schemas/announcement.json).',
        checkCommand: 'A command payload (channel/schemas/command.json).',
        checkDeviceState: 'A device state report (channel/schemas/state.json).',
        checkDeviceEvent: 'A device event (channel/schemas/event.json).',
      },
    },
    {
      name: 'config',
      doc: 'The merged agent configuration: every issue; fills in defaults (mutates the value).',
      options: { ...STRICT, allErrors: true, useDefaults: true },
      refs: [],
      checks: { checkAgentConfig: schemas.config },
      docs: { checkAgentConfig: 'The whole agent configuration (config/schema.json), defaults filled in.' },
    },
    {
      name: 'fragment',
      doc: 'One configuration fragment, against the relaxed schema (config/fragment-schema.ts): every issue.',
      options: { ...STRICT, allErrors: true },
      refs: [],
      checks: { checkAgentConfigFragment: fragment },
      docs: { checkAgentConfigFragment: 'One config.d fragment: types and known fields only.' },
    },
  ];
  const runtime = new Set<string>();
  const bodies = groups.map((g) => renderGroup(g, runtime));
  const version = (JSON.parse(readFileSync(join(ROOT, 'node_modules/ajv/package.json'), 'utf8')) as { version: string }).version;
  const out: string[] = [
    '// Generated by `npm run gen:validators` (agent/gen-validators.ts) from',
    '// agent/src/channel/schemas/*.json and agent/src/config/schema.json with',
    `// ajv ${version} standalone code. Do not edit: change a schema, then run`,
    '// `npm run gen:validators` and commit the result.',
    '// @ts-nocheck',
    'import type { ErrorObject } from "ajv";',
    ...[...runtime].sort().map((m) => `import ${runtimeName(m)} from "ajv/dist/runtime/${m}";`),
    '',
    '/** The module object of a helper: loaders differ in whether a default import of CommonJS yields `module.exports` or its `default`. */',
    'function exportsOf(m) {',
    '  return m && m.__esModule ? m : { default: m };',
    '}',
    '',
    '/** A precompiled check: true when the value is valid; otherwise `errors` holds what is wrong. */',
    'export type PrecompiledCheck = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };',
    '',
    ...bodies,
  ];
  for (const g of groups) {
    for (const name of Object.keys(g.checks)) {
      out.push(`/** ${g.docs[name]} */`, `export const ${name}: PrecompiledCheck = ${g.name}.${name};`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** One group as a block-scoped constant, so that ajv's names (validate10, pattern0, …) of different instances do not meet. */
function renderGroup(g: Group, runtime: Set<string>): string {
  const ajv = new Ajv({ ...g.options, code: { source: true, lines: true } });
  for (const r of g.refs) ajv.addSchema(r);
  const ids: Record<string, string> = {};
  for (const [name, schema] of Object.entries(g.checks)) {
    const id = (schema as { $id?: unknown }).$id;
    if (typeof id !== 'string') throw new Error(`gen-validators: the schema for ${name} has no $id`);
    ajv.addSchema(schema);
    ids[name] = id;
  }
  let code = standaloneCode(ajv, ids).replace(/^"use strict";\n/, '');
  code = code.replace(/require\("ajv\/dist\/runtime\/([a-z0-9_]+)"\)/gi, (_, m: string) => {
    runtime.add(m);
    return `exportsOf(${runtimeName(m)})`;
  });
  if (/\brequire\(/.test(code)) throw new Error('gen-validators: the generated code requires a module other than ajv/dist/runtime/*');
  code = code.replace(/^exports\.([A-Za-z0-9_]+) = /gm, 'out.$1 = ');
  if (/^exports\b/m.test(code)) throw new Error('gen-validators: an export the generator does not understand');
  const lines = code.split('\n').filter((l) => l !== '').map((l) => `  ${l}`);
  return [`/** ${g.doc} */`, `const ${g.name} = (() => {`, '  const out = {};', ...lines, '  return out;', '})();', ''].join('\n');
}

/** The local name of an ajv runtime helper module (`ucs2length` -> `ajvRuntimeUcs2length`). */
function runtimeName(module: string): string {
  return `ajvRuntime${module[0].toUpperCase()}${module.slice(1).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())}`;
}

/** Writes the output file; returns true when its content changed. */
export function writeValidators(root: string = ROOT): boolean {
  const path = join(root, GENERATED_FILE);
  const text = generateValidators(readSchemas(root));
  let old: string | undefined;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === text) return false;
  writeFileSync(path, text);
  return true;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const changed = writeValidators();
  console.log(`${GENERATED_FILE}: ${changed ? 'written' : 'up to date'}`);
}
