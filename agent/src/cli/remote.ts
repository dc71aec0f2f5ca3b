/**
 * `canopy remote add|list|delete|show-url|gpg-import`: remotes in the
 * repository config, written exactly as `ostree remote` writes them (so
 * either tool reads the other's), with per-remote OpenPGP keyrings.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ioError } from '../core/errors';
import type { Repo } from '../repo/index';
import { addRemote, deleteRemote, getRemote, listRemotes } from '../repo/remotes';
import type { KeyFile } from '../sign/index';
import { splitKeyValue, usageError, type GlobalValues } from './cli-args';
import { defineCommand, type Command, type RunContext } from './command';
import type { CliIo } from './output';

function readKeyFiles(ctx: RunContext, files: readonly string[]): KeyFile[] {
  return files.map((f) => {
    const p = resolve(ctx.io.cwd, f);
    try {
      return { source: p, data: readFileSync(p) };
    } catch (e) {
      throw ioError(e, 'read key file', p);
    }
  });
}

async function importKeys(ctx: RunContext, repo: Repo, name: string, files: readonly string[]): Promise<string[]> {
  if (files.length === 0) return [];
  // Loaded on demand: OpenPGP is a large module the other commands do not need.
  const { importRemoteGpgKeys } = await import('../pull/index');
  return (await importRemoteGpgKeys(repo, name, readKeyFiles(ctx, files))).imported;
}

const addCommand = defineCommand({
  name: 'remote add',
  summary: 'Add a remote repository',
  usage: 'NAME URL [BRANCH…]',
  description: 'Writes [remote "NAME"] into the repository config as ostree does: url, branches, every --set\n'
    + 'in order, then gpg-verify=false with --no-gpg-verify. Verification is on by default: import the\n'
    + 'signing keys with --gpg-import (kept in <repo>/NAME.trustedkeys.gpg) or configure sign-verify.\n'
    + 'Useful --set keys: contenturl, gpg-verify-summary, sign-verify, verification-ed25519-key,\n'
    + 'tls-ca-path, tls-client-cert-path, tls-client-key-path, tls-pinned-spki, proxy.',
  options: {
    'no-gpg-verify': { type: 'boolean', help: 'Do not require OpenPGP signatures from this remote' },
    set: { type: 'string', multiple: true, value: 'KEY=VALUE', help: 'Set a config option of the remote' },
    'gpg-import': { type: 'string', multiple: true, value: 'FILE', help: 'Trust the OpenPGP public keys in FILE (binary or armoured)' },
    'if-not-exists': { type: 'boolean', help: 'Do nothing when the remote exists' },
  },
  operands: [2, Infinity],
  json: true,
}, async (ctx, { values, operands }) => {
  const [name, url, ...branches] = operands;
  const set = (values.set ?? []).map((kv) => splitKeyValue('remote add', 'set', kv));
  const repo = ctx.openRepo();
  const added = addRemote(repo, name, url, { branches, set, noGpgVerify: values['no-gpg-verify'], ifNotExists: values['if-not-exists'] });
  let imported: string[] = [];
  if (added) {
    try {
      imported = await importKeys(ctx, repo, name, values['gpg-import'] ?? []);
    } catch (e) {
      deleteRemote(repo, name, { ifExists: true });
      throw e;
    }
  }
  ctx.out.result({ name, url, added, imported }, () => (imported.length ? `Imported ${imported.length} GPG key${imported.length === 1 ? '' : 's'} to remote "${name}"` : ''));
});

const listCommand = defineCommand({
  name: 'remote list',
  summary: 'List remotes',
  usage: '',
  options: { 'show-urls': { type: 'boolean', short: 'u', help: 'Show the URL of each remote' } },
  operands: [0, 0],
}, (ctx, { values }) => {
  const repo = ctx.openRepo();
  const remotes = listRemotes(repo).map((name) => ({ name, url: getRemote(repo, name).url }));
  const width = Math.max(0, ...remotes.map((r) => r.name.length));
  ctx.out.result({ remotes }, () => remotes.map((r) => (values['show-urls'] ? `${r.name.padEnd(width)}  ${r.url}` : r.name)).join('\n'));
});

const deleteCommand = defineCommand({
  name: 'remote delete',
  summary: 'Delete a remote and its keyring (pulled refs stay)',
  usage: 'NAME',
  options: { 'if-exists': { type: 'boolean', help: 'Do nothing when the remote does not exist' } },
  operands: [1, 1],
}, (ctx, { values, operands }) => {
  const deleted = deleteRemote(ctx.openRepo(), operands[0], { ifExists: values['if-exists'] });
  ctx.out.result({ name: operands[0], deleted }, () => '');
});

const showUrlCommand = defineCommand({
  name: 'remote show-url',
  summary: 'Print the URL of a remote',
  usage: 'NAME',
  options: {},
  operands: [1, 1],
}, (ctx, { operands }) => {
  const r = getRemote(ctx.openRepo(), operands[0]);
  ctx.out.result({ name: r.name, url: r.url, contentUrl: r.contentUrl }, () => r.url);
});

const gpgImportCommand = defineCommand({
  name: 'remote gpg-import',
  summary: 'Trust more OpenPGP public keys for a remote',
  usage: 'NAME FILE…',
  options: {},
  operands: [2, Infinity],
}, async (ctx, { operands }) => {
  const [name, ...files] = operands;
  const imported = await importKeys(ctx, ctx.openRepo(), name, files);
  ctx.out.result({ name, imported }, () => `Imported ${imported.length} GPG key${imported.length === 1 ? '' : 's'} to remote "${name}"`);
});

const SUBCOMMANDS: readonly Command[] = [addCommand, listCommand, deleteCommand, showUrlCommand, gpgImportCommand];
const subName = (c: Command): string => c.spec.name.slice('remote '.length);

function help(): string {
  const width = Math.max(...SUBCOMMANDS.map((c) => subName(c).length)) + 2;
  return ['Usage: canopy remote SUBCOMMAND [OPTION…]', '', 'Manage remote repositories (ostree-compatible config).', '', 'Subcommands:',
    ...SUBCOMMANDS.map((c) => `  ${subName(c).padEnd(width)}${c.spec.summary}`), '', 'canopy remote SUBCOMMAND --help shows its options.', ''].join('\n');
}

/** `canopy remote SUBCOMMAND …`. */
export const remoteCommand: Command = {
  spec: { name: 'remote', summary: 'Manage remotes: add, list, delete, show-url, gpg-import', usage: 'SUBCOMMAND [OPTION…]', options: {}, operands: [1, Infinity] },
  async run(io: CliIo, argv: readonly string[], globals: GlobalValues): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === '--help' || sub === '-h' || (sub === undefined && globals.help)) {
      io.stdout.write(help());
      return 0;
    }
    if (sub === undefined) {
      io.stderr.write(help());
      return 2;
    }
    const cmd = SUBCOMMANDS.find((c) => subName(c) === sub);
    if (!cmd) throw usageError('remote', `unknown subcommand ${JSON.stringify(sub)} (add, list, delete, show-url, gpg-import)`);
    return cmd.run(io, rest, globals);
  },
};
