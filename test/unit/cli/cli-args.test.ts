import { strict as assert } from 'node:assert';
import { commandHelp, intOption, parseCommandArgs, splitKeyValue, type CommandSpec } from '../../../agent/src/cli/cli-args';
import { isCanopyError } from '../../../agent/src/core/errors';

const spec = {
  name: 'demo',
  summary: 'A demo command',
  usage: 'REV [PATH…]',
  options: {
    recursive: { type: 'boolean', short: 'R', help: 'Recurse' },
    branch: { type: 'string', short: 'b', value: 'BRANCH', help: 'Branch' },
    'add-metadata': { type: 'string', multiple: true, value: 'KEY=VALUE', help: 'Metadata' },
  },
  operands: [1, 2],
} as const satisfies CommandSpec;

const usage = (f: () => unknown, re: RegExp): void => {
  assert.throws(f, (e: unknown) => isCanopyError(e, 'ERR_USAGE') && re.test((e as Error).message));
};

describe('cli-args', () => {
  it('parses declared options, short groups, repeats and the global ones', () => {
    const r = parseCommandArgs(spec, ['-Rb', 'main', 'rev', '--add-metadata=a=1', '--add-metadata', 'b=2', '--json', '--repo=/r', 'p']);
    assert.deepEqual(r.operands, ['rev', 'p']);
    assert.equal(r.values.recursive, true);
    assert.equal(r.values.branch, 'main');
    assert.deepEqual(r.values['add-metadata'], ['a=1', 'b=2']);
    assert.equal(r.values.json, true);
    assert.equal(r.values.repo, '/r');
  });

  it('refuses unknown options, missing values and wrong operand counts with ERR_USAGE', () => {
    usage(() => parseCommandArgs(spec, ['--nope', 'x']), /^unknown option --nope \(see canopy demo --help\)$/);
    usage(() => parseCommandArgs(spec, ['-Z', 'x']), /unknown option -Z/);
    usage(() => parseCommandArgs(spec, ['x', '--branch']), /argument missing/);
    usage(() => parseCommandArgs(spec, []), /missing operand: usage is canopy demo REV \[PATH…\]/);
    usage(() => parseCommandArgs(spec, ['a', 'b', 'c']), /unexpected operand "c"/);
    usage(() => parseCommandArgs({ ...spec, json: false }, ['a', '--json']), /unknown option --json/);
    // --help is answered even with the wrong number of operands
    assert.equal(parseCommandArgs(spec, ['--help']).values.help, true);
    // operands after -- may start with a dash
    assert.deepEqual(parseCommandArgs(spec, ['--', '-weird']).operands, ['-weird']);
  });

  it('generates the help text from the declaration', () => {
    const h = commandHelp(spec);
    assert.match(h, /^Usage: canopy demo \[OPTION…\] REV \[PATH…\]\n\nA demo command\n\nOptions:\n/);
    assert.match(h, /^ {2}-R, --recursive {2,}Recurse$/m);
    assert.match(h, /^ {2}-b, --branch=BRANCH {2,}Branch$/m);
    assert.match(h, /^ {6}--add-metadata=KEY=VALUE {2,}Metadata \(repeatable\)$/m);
    assert.match(h, /Global options:\n.*--repo=PATH.*\n.*--json.*\n.*-h, --help/);
    assert.ok(!commandHelp({ ...spec, json: false }).includes('--json'));
  });

  it('reads integers and KEY=VALUE pairs strictly', () => {
    assert.equal(intOption('c', 'depth', '-1', -1), -1);
    assert.equal(intOption('c', 'depth', undefined), undefined);
    usage(() => intOption('c', 'depth', '1.5'), /--depth needs an integer, not "1.5"/);
    usage(() => intOption('c', 'depth', '-2', -1), /--depth needs an integer >= -1/);
    usage(() => intOption('c', 'depth', '1e3'), /needs an integer/);
    assert.deepEqual(splitKeyValue('c', 'm', 'a=b=c'), ['a', 'b=c']);
    assert.deepEqual(splitKeyValue('c', 'm', 'a='), ['a', '']);
    usage(() => splitKeyValue('c', 'm', '=v'), /--m needs KEY=VALUE/);
    usage(() => splitKeyValue('c', 'm', 'novalue'), /--m needs KEY=VALUE/);
  });
});
