/**
 * The device bundle as an artefact, from esbuild's metafile
 * (dist/meta-canopy-agent.json): no native addon, none of the static-delta
 * generator, no operator CLI command, no ajv compiler (schemas are
 * precompiled), and a size budget. Prints the size.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BUNDLE, ROOT, ensureAgentBuilt } from '../helpers/sim-device';

/** The device bundle must stay below this (bytes). */
const BUDGET = 2 * 1024 * 1024;
/** CLI files the device may carry besides admin/: the dispatcher and the helpers every command shares. */
const CLI_ALLOWED = new Set(['agent-main.ts', 'cli-args.ts', 'command.ts', 'exit-codes.ts', 'output.ts', 'progress.ts', 'entry.ts']);

describe('dist/canopy-agent.cjs (the device bundle)', () => {
  let inputs: string[] = [];
  before(() => {
    ensureAgentBuilt();
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist/meta-canopy-agent.json'), 'utf8')) as { inputs: Record<string, unknown> };
    inputs = Object.keys(meta.inputs);
  });

  it('carries the agent and what it drives (sanity)', () => {
    for (const f of ['agent/src/agent/daemon.ts', 'agent/src/agent/transitions.ts', 'agent/src/channel/mqtt-channel.ts', 'agent/src/pull/pull.ts', 'agent/src/delta/apply.ts', 'agent/src/health/confirm.ts', 'agent/src/sysroot/deploy.ts']) {
      assert.ok(inputs.includes(f), `${f} is in the bundle`);
    }
  });

  it('has no native addon', () => {
    assert.deepEqual(inputs.filter((p) => p.endsWith('.node')), []);
  });

  it('has none of the static-delta generator', () => {
    const banned = /^agent\/src\/delta\/(generate|compile[^/]*|bsdiff|bsdiff-pool|suffix-array|rollsum|xz-compress|part-builder)\.ts$/;
    assert.deepEqual(inputs.filter((p) => banned.test(p)), []);
  });

  it('has no ajv compiler: the precompiled checks and ajv\'s run-time helpers only', () => {
    assert.ok(inputs.includes('agent/src/channel/validators.generated.ts'), 'sanity: the precompiled checks are in');
    const ajv = inputs.filter((p) => /(^|\/)node_modules\/ajv\//.test(p));
    assert.deepEqual(ajv.filter((p) => !/node_modules\/ajv\/dist\/runtime\/[^/]+\.js$/.test(p)), []);
    assert.deepEqual(inputs.filter((p) => /(^|\/)node_modules\/(json-schema-traverse|fast-uri)\//.test(p)), [], 'the compiler\'s own dependencies');
    assert.deepEqual(inputs.filter((p) => /^agent\/src\/(channel\/schemas\/[^/]+|config\/schema)\.json$/.test(p)), [], 'schemas are compiled in, not carried');
  });

  it('loads no node:http2: undici\'s HTTP/2 client gets the stand-in undici falls back to', () => {
    assert.ok(inputs.includes('no-http2:http2'), 'the stand-in is in');
    for (const b of ['dist/canopy-agent.cjs', 'dist/canopy-cli.cjs']) {
      assert.doesNotMatch(readFileSync(join(ROOT, b), 'latin1'), /require\(["']node:http2["']\)/, b);
    }
  });

  it('has no operator CLI command', () => {
    const cli = inputs.filter((p) => p.startsWith('agent/src/cli/') && !p.startsWith('agent/src/cli/admin/'));
    assert.deepEqual(cli.filter((p) => !CLI_ALLOWED.has(p.slice('agent/src/cli/'.length))), []);
  });

  it('answers run and simulate-boot command lines: help, usage errors (2), a configuration error (1, one JSON line)', () => {
    const agent = (...args: string[]) => spawnSync(process.execPath, [AGENT_BUNDLE, ...args], { encoding: 'utf8', env: { ...process.env, NOTIFY_SOCKET: '' } });
    const help = agent('run', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: canopy-agent run \[OPTION…\]/);
    assert.match(agent('--help').stdout, /^ {2}run {12}The update daemon/m);
    const hold = agent('run', '--hold-in=nowhere');
    assert.equal(hold.status, 2);
    assert.match(hold.stderr, /^canopy-agent run: --hold-in: unknown phase "nowhere"/);
    assert.equal(agent('run', '--frobnicate').status, 2);
    const sim = agent('simulate-boot', '--sysroot=/nonexistent');
    assert.equal(sim.status, 2);
    assert.match(sim.stderr, /--cmdline-file is required/);
    const empty = mkdtempSync(join(tmpdir(), 'canopy-noconfig-'));
    try {
      const r = agent('run', `--config-root=${empty}`);
      assert.equal(r.status, 1);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1);
      const line = JSON.parse(lines[0]);
      assert.equal(line.level, 'error');
      assert.equal(line.code, 'ERR_CONFIG_INVALID');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it(`stays within ${BUDGET} bytes`, () => {
    const size = statSync(AGENT_BUNDLE).size;
    console.log(`      dist/canopy-agent.cjs: ${size} bytes (${(size / 1024 / 1024).toFixed(2)} MiB of a ${BUDGET / 1024 / 1024} MiB budget)`);
    assert.ok(size < BUDGET, `${size} bytes`);
  });
});
