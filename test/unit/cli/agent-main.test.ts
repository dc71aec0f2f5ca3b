/**
 * `canopy-agent admin …`: dispatch, help, errors and a whole deployment life
 * cycle through the CLI (in process, with a fake terminal), then the built
 * device bundle itself, which must not carry operator-only code.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_COMMANDS, agentMain } from '../../../agent/src/cli/agent-main';
import type { CliIo } from '../../../agent/src/cli/output';
import { addUbootStub, isRoot, removeScratch } from '../../helpers/sysroot-fixture';
import { commitOs, scratch } from '../sysroot/fixture';
import { ROOT, ensureBuilt } from './cli-harness';

async function agent(args: string[]): Promise<{ status: number; stdout: string; stderr: string; json<T = any>(): T }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c) => { stdout += String(c); return true; } },
    stderr: { write: (c) => { stderr += String(c); return true; } },
    env: {}, cwd: '/', now: () => 0,
  };
  const status = await agentMain(['node', 'canopy-agent', ...args], io);
  return { status, stdout, stderr, json: () => JSON.parse(stdout) };
}

describe('canopy-agent admin (CLI)', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = scratch('canopy-agent-cli-', { memory: true }); });
  after(() => tmp && removeScratch(tmp));

  it('lists the deployment commands, and each answers --help as canopy-agent with --sysroot', async function () {
    const r = await agent(['admin', '--help']);
    assert.equal(r.status, 0);
    const names = ['status', 'deploy', 'upgrade', 'rollback', 'undeploy', 'pin', 'unpin', 'cleanup', 'finalize-staged', 'init-fs', 'os-init'];
    const have = ADMIN_COMMANDS.map((c) => c.spec.name.replace('admin ', ''));
    for (const n of names) assert.ok(have.includes(n), `admin ${n} is registered`);
    for (const n of names) {
      assert.match(r.stdout, new RegExp(`^  ${n} +\\S`, 'm'));
      const h = await agent(['admin', n, '--help']);
      assert.equal(h.status, 0);
      assert.match(h.stdout, new RegExp(`^Usage: canopy-agent admin ${n} \\[OPTION…\\]`));
      assert.match(h.stdout, /--sysroot=PATH/);
    }
    assert.match((await agent(['admin', 'deploy', '--help'])).stdout, /--os=NAME[\s\S]*--karg-append=NAME=VALUE[\s\S]*--stage/);
  });

  it('usage errors exit 2 and name canopy-agent', async function () {
    const bad = await agent(['admin', 'frob']);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'canopy-agent admin: unknown admin command "frob" (see canopy-agent admin --help)\n');
    const opt = await agent(['admin', 'deploy', '--nope', 'x']);
    assert.equal(opt.status, 2);
    assert.equal(opt.stderr, 'canopy-agent admin deploy: unknown option --nope (see canopy-agent admin deploy --help)\n');
    assert.equal((await agent(['admin', 'undeploy', 'x', '--sysroot=/nonexistent'])).status, 2);
    assert.equal((await agent(['frob'])).status, 2);
    assert.equal((await agent([])).status, 2);
  });

  it('a deployment life cycle: init-fs, os-init, deploy, status, pin, rollback, undeploy, cleanup', async function () {
    if (!isRoot) {
      console.log('      skipped: a bare sysroot repository needs root');
      this.skip();
    }
    const s = join(tmp, 'sysroot');
    mkdirSync(s);
    assert.equal((await agent(['admin', 'init-fs', s])).status, 0);
    const init = await agent(['admin', 'os-init', `--sysroot=${s}`, 'testos']);
    assert.equal(init.stdout, 'ostree/deploy/testos initialized as OSTree root\n');
    addUbootStub(s);
    await commitOs(s, tmp, { version: '1.0' });
    const d1 = await agent(['admin', 'deploy', `--sysroot=${s}`, '--os=testos', '--karg=root=LABEL=rootfs', '--karg=quiet', 'testos/main']);
    assert.equal(d1.status, 0, d1.stderr);
    assert.match(d1.stdout, /^Transaction complete; bootconfig swap: yes; bootversion: boot\.1\.1, deployment count change: 1$/m);
    await commitOs(s, tmp, { version: '2.0', kernel: 'kernel 2\n' });
    const d2 = await agent(['admin', 'deploy', `--sysroot=${s}`, '--os=testos', '--json', 'testos/main']);
    assert.equal(d2.status, 0, d2.stdout);
    assert.equal(d2.json().bootswap, 'bootswap');
    const st = (await agent(['admin', 'status', `--sysroot=${s}`, '--json'])).json();
    assert.deepEqual(st.deployments.map((d: { version: string }) => d.version), ['2.0', '1.0']);
    assert.match(st.deployments[0].options, /^root=LABEL=rootfs quiet ostree=/);
    assert.match((await agent(['admin', 'status', `--sysroot=${s}`])).stdout, /^ {2}testos [0-9a-f]{64}\.0\n {4}Version: 2\.0\n/);
    assert.equal((await agent(['admin', 'pin', `--sysroot=${s}`, '1'])).stdout, 'Deployment 1 is now pinned\n');
    assert.equal((await agent(['admin', 'pin', `--sysroot=${s}`, '1'])).stdout, 'Deployment 1 is already pinned\n');
    assert.equal((await agent(['admin', 'unpin', `--sysroot=${s}`, '1'])).stdout, 'Deployment 1 is now unpinned\n');
    assert.equal((await agent(['admin', 'rollback', `--sysroot=${s}`, '--json'])).json().bootswap, 'bootswap');
    assert.deepEqual((await agent(['admin', 'status', `--sysroot=${s}`, '--json'])).json().deployments.map((d: { version: string }) => d.version), ['1.0', '2.0']);
    const missing = await agent(['admin', 'undeploy', `--sysroot=${s}`, '--json', '7']);
    assert.equal(missing.status, 3, 'a missing deployment exits with the not-found status');
    assert.equal(missing.json().error.code, 'ERR_DEPLOYMENT_NOT_FOUND');
    assert.equal((await agent(['admin', 'undeploy', `--sysroot=${s}`, '1'])).status, 0);
    assert.equal((await agent(['admin', 'cleanup', `--sysroot=${s}`, '--json'])).status, 0);
    assert.equal((await agent(['admin', 'finalize-staged', `--sysroot=${s}`, '--json'])).json().finalized, false);
    assert.equal((await agent(['admin', 'upgrade', `--sysroot=${s}`, '--os=testos', '--json'])).json().changed, true, 'the ref points at 2.0 while 1.0 is deployed');
  });

  it('the built device bundle runs, and carries no operator-only code', function () {
    ensureBuilt();
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/canopy-agent.cjs'), 'admin', 'status', '--sysroot=/nonexistent', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(r.stdout).error.code, 'ERR_SYSROOT_INVALID');
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist/meta-canopy-agent.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    assert.ok(inputs.some((p) => p.endsWith('sysroot/deploy.ts')), 'sanity: the sysroot code is in');
    for (const banned of ['delta/generate.ts', 'delta/xz-compress.ts', 'delta/bsdiff.ts', 'delta/suffix-array.ts', 'delta/rollsum.ts', 'cli/main.ts', 'cli/commit.ts']) {
      assert.ok(!inputs.some((p) => p.endsWith(banned)), `${banned} must stay out of the device bundle`);
    }
  });
});
