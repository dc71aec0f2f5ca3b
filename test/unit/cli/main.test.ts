import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMAND_TABLE, loadCommands } from '../../../agent/src/cli/main';
import type { Command } from '../../../agent/src/cli/command';
import { canopy, cleanup, ensureBuilt, ROOT, tempDir } from './cli-harness';

describe('canopy (the built bundle): dispatch, help, errors', function () {
  let COMMANDS: Command[];
  before(async () => {
    ensureBuilt();
    COMMANDS = await loadCommands();
  });
  after(cleanup);

  it('names and summarises each command in its table as the command itself does', () => {
    assert.deepEqual(COMMAND_TABLE.map((c) => [c.name, c.summary]), COMMANDS.map((c) => [c.spec.name, c.spec.summary]));
  });

  it('lists every subcommand in --help and documents the exit codes', () => {
    const r = canopy(['--help']);
    assert.equal(r.status, 0);
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${esc(c.spec.name)} +${esc(c.spec.summary)}$`, 'm'));
    for (const code of ['0  success', '2  the command line', '3  a ref', '4  content is corrupt', '5  a signature', '6  the operation needs', '7  the file system is full']) {
      assert.ok(r.stdout.includes(code), `exit status table lacks ${code}`);
    }
    for (const name of ['init', 'commit', 'log', 'ls', 'cat', 'show', 'refs', 'rev-parse', 'checkout', 'fsck', 'prune', 'summary', 'demo']) {
      assert.ok(COMMANDS.some((c) => c.spec.name === name), `no ${name} command`);
    }
  });

  it('prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const r = canopy(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `canopy ${version}\n`);
  });

  for (const name of ['init', 'commit', 'log', 'ls', 'cat', 'show', 'refs', 'rev-parse', 'checkout', 'fsck', 'prune', 'summary', 'demo']) {
    it(`answers ${name} --help with its options, on stdout, exit 0`, () => {
      const r = canopy([name, '--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: canopy ${name} \\[OPTION…\\]`));
      assert.match(r.stdout, /--repo=PATH/);
      const spec = COMMANDS.find((c) => c.spec.name === name)!.spec;
      for (const opt of Object.keys(spec.options)) assert.ok(r.stdout.includes(`--${opt}`), `${name} --help lacks --${opt}`);
      assert.equal(r.stdout.includes('--json'), spec.json !== false);
    });
  }

  it('says the same for -h, --help before the command, and `canopy help NAME`', () => {
    const help = canopy(['commit', '--help']).stdout;
    assert.equal(canopy(['commit', '-h']).stdout, help);
    assert.equal(canopy(['--help', 'commit']).stdout, help);
    assert.equal(canopy(['help', 'commit']).stdout, help);
  });

  it('exits 2 with a usage error for an unknown option, in text and in JSON', () => {
    const r = canopy(['log', '--frobnicate', 'x']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'canopy log: unknown option --frobnicate (see canopy log --help)\n');
    const j = canopy(['log', '--json', '--frobnicate', 'x']);
    assert.equal(j.status, 2);
    assert.deepEqual(j.json().error.code, 'ERR_USAGE');
    assert.match(j.json().error.message, /unknown option --frobnicate/);
  });

  it('exits 2 for a missing or extra operand, an unknown command, a missing option value', () => {
    assert.equal(canopy(['log']).status, 2);
    assert.match(canopy(['log']).stderr, /missing operand: usage is canopy log REV/);
    assert.equal(canopy(['rev-parse', 'a', 'b']).status, 2);
    const u = canopy(['frob']);
    assert.equal(u.status, 2);
    assert.match(u.stderr, /^canopy: unknown command "frob"/);
    assert.equal(canopy(['commit', '--branch']).status, 2);
    assert.equal(canopy(['cat', '--json', 'a', 'b']).status, 2, 'cat has no --json');
  });

  it('prints the help on stderr and exits 2 without a command', () => {
    const r = canopy([]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Usage: canopy/);
  });

  it('reports a directory that is not a repository with exit 1, naming the path', () => {
    const d = tempDir();
    const r = canopy(['--repo', d, 'refs']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^canopy refs: ${d} is not a repository`));
    const j = canopy(['refs', `--repo=${d}`, '--json']);
    assert.equal(j.status, 1);
    assert.equal(j.json().error.code, 'ERR_REPO_INVALID');
    assert.equal(j.json().error.details.path, d);
  });

  it('takes the repository from OSTREE_REPO when --repo is absent, and --repo wins', () => {
    const d = tempDir();
    assert.equal(canopy(['init', '--mode=archive'], { env: { OSTREE_REPO: join(d, 'r') } }).status, 0);
    assert.equal(canopy(['refs', '--json'], { env: { OSTREE_REPO: join(d, 'r') } }).status, 0);
    assert.equal(canopy(['refs', `--repo=${join(d, 'nope')}`], { env: { OSTREE_REPO: join(d, 'r') } }).status, 1);
    // relative --repo is relative to the working directory
    assert.equal(canopy(['refs', '--repo=r'], { cwd: d }).status, 0);
  });
});
