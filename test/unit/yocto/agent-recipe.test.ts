/**
 * canopy-agent_0.1.bb's do_install, run by sh outside BitBake on the Canopy tree's own
 * device/ folder: what lands where in the package, with which modes.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBitbake, type Assignment, type BbFunction } from './bitbake-reader';
import { ROOT, tempDir } from './rootfs-fixture';

const RECIPE = join(ROOT, 'yocto-layer/recipes-canopy/canopy-agent/canopy-agent_0.1.bb');

/** Expands the ${VAR} references BitBake would, from `vars`; anything else is an error. */
function expand(body: string, vars: Record<string, string>): string {
  return body.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`do_install uses \${${name}}, which this test does not define`);
    return vars[name];
  });
}

describe('yocto-layer: canopy-agent do_install', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => { tmp = tempDir('canopy-yocto-agent-'); });
  afterEach(() => tmp.cleanup());

  it('installs the bundle, a wrapper, device/ units, config, health checks and tmpfiles where the README says', () => {
    const stmts = readBitbake(readFileSync(RECIPE, 'utf8'), 'canopy-agent_0.1.bb');
    const install = stmts.find((s): s is BbFunction => s.kind === 'function' && s.name === 'do_install')!;
    const healthDirs = stmts.find((s): s is Assignment => s.kind === 'assign' && s.base === 'CANOPY_HEALTH_DIRS')!.value;

    // S as BitBake unpacks it: dist/canopy-agent.cjs and the whole device/ folder.
    const S = join(tmp.dir, 'sources');
    const D = join(tmp.dir, 'image');
    mkdirSync(join(S, 'dist'), { recursive: true });
    writeFileSync(join(S, 'dist/canopy-agent.cjs'), '// bundle\n');
    cpSync(join(ROOT, 'device'), join(S, 'device'), { recursive: true });
    const script = expand(install.body, {
      S, D, bindir: '/usr/bin', sysconfdir: '/etc', nonarch_libdir: '/usr/lib',
      systemd_system_unitdir: '/usr/lib/systemd/system', CANOPY_HEALTH_DIRS: healthDirs,
    });
    const r = spawnSync('sh', ['-e', '-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);

    assert.equal(readFileSync(join(D, 'usr/lib/canopy/canopy-agent.cjs'), 'utf8'), '// bundle\n');
    assert.equal(readFileSync(join(D, 'usr/bin/canopy-agent'), 'utf8'), '#!/bin/sh\nexec node /usr/lib/canopy/canopy-agent.cjs "$@"\n');
    assert.equal(statSync(join(D, 'usr/bin/canopy-agent')).mode & 0o777, 0o755);

    // every unit of device/systemd, as a regular file
    const units = readdirSync(join(ROOT, 'device/systemd')).sort();
    assert.ok(units.length > 0);
    assert.deepEqual(readdirSync(join(D, 'usr/lib/systemd/system')).sort(), units);

    // health checks keep their modes: executables stay checks, settings stay data
    for (const dir of healthDirs.split(/\s+/)) {
      assert.ok(statSync(join(D, 'etc/canopy/health', dir)).isDirectory(), `/etc/canopy/health/${dir}`);
      assert.ok(statSync(join(D, 'usr/lib/canopy/health', dir)).isDirectory(), `/usr/lib/canopy/health/${dir}`);
      const src = join(ROOT, 'device/health', dir);
      for (const name of existsSync(src) ? readdirSync(src) : []) {
        const want = statSync(join(src, name)).mode & 0o111 ? 0o755 : 0o644;
        assert.equal(statSync(join(D, 'usr/lib/canopy/health', dir, name)).mode & 0o777, want, `${dir}/${name}`);
      }
    }
    assert.ok(statSync(join(D, 'etc/canopy/config.d')).isDirectory());
    const configs = existsSync(join(ROOT, 'device/config.d')) ? readdirSync(join(ROOT, 'device/config.d')).filter((n) => n.endsWith('.json')).sort() : [];
    assert.deepEqual(readdirSync(join(D, 'usr/lib/canopy/config.d')).sort(), configs);
    assert.deepEqual(readdirSync(join(D, 'usr/lib/tmpfiles.d')).sort(), readdirSync(join(ROOT, 'device/tmpfiles.d')).sort());
  });
});
