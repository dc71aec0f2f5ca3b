/**
 * The agent's unit and default configuration as device/ ships them: the unit is
 * Type=notify with a watchdog and accepts notifications from systemd-notify (a child),
 * starts `canopy-agent run`, and passes `systemd-analyze verify`; the default config.d
 * fragment is valid and, with a site fragment, loads into a complete configuration.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../agent/src/config/index';

const DEVICE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../device');
const UNIT = join(DEVICE, 'systemd/canopy-agent.service');

/** `[Section] Key=value` lines of a unit (last value wins). */
function unitKeys(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line.trim());
    if (s) section = s[1];
    else if (/^[A-Za-z]+=/.test(line)) out.set(`${section}.${line.slice(0, line.indexOf('='))}`, line.slice(line.indexOf('=') + 1));
  }
  return out;
}

describe('device/systemd/canopy-agent.service and device/config.d', () => {
  it('is a notify service with a watchdog that runs the daemon', () => {
    const k = unitKeys(readFileSync(UNIT, 'utf8'));
    assert.equal(k.get('Service.Type'), 'notify');
    assert.equal(k.get('Service.NotifyAccess'), 'all', 'systemd-notify is a child process');
    assert.match(k.get('Service.WatchdogSec') ?? '', /^\d+(min|s)$/);
    assert.equal(k.get('Service.ExecStart'), '/usr/bin/canopy-agent run');
    assert.equal(k.get('Service.Restart'), 'on-failure');
    assert.equal(k.get('Install.WantedBy'), 'multi-user.target');
  });

  it('passes systemd-analyze verify', function () {
    if (spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).error) {
      console.log('      skipped: systemd-analyze is not installed (Debian package systemd)');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'canopy-unit-'));
    try {
      // Verified as written, with the program path pointed at one that exists here.
      const unit = readFileSync(UNIT, 'utf8').replace('ExecStart=/usr/bin/canopy-agent run', 'ExecStart=/bin/true run');
      writeFileSync(join(dir, 'canopy-agent.service'), unit);
      const r = spawnSync('systemd-analyze', ['verify', join(dir, 'canopy-agent.service')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.split('\n').filter((l) => l.includes('canopy-agent.service')).join('\n'), '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the default fragment is valid and completes a site configuration', () => {
    const root = mkdtempSync(join(tmpdir(), 'canopy-defaults-'));
    try {
      mkdirSync(join(root, 'usr/config.d'), { recursive: true });
      mkdirSync(join(root, 'etc/config.d'), { recursive: true });
      copyFileSync(join(DEVICE, 'config.d/00-defaults.json'), join(root, 'usr/config.d/00-defaults.json'));
      writeFileSync(join(root, 'etc/config.d/50-site.json'), JSON.stringify({
        device: { id: 'dev-0001', fleet: 'acme' }, remote: { url: 'https://updates.example/repo', ref: 'acme/rpi4/stable' },
      }));
      const { config, files } = loadConfig({ roots: [join(root, 'usr'), join(root, 'etc')] });
      assert.equal(files.length, 2);
      assert.equal(config.device.id, 'dev-0001', 'an explicit id wins over idFile');
      assert.equal(config.device.channel, 'stable');
      assert.equal(config.reboot.policy, 'immediate');
      assert.equal(config.health.tries, 3);
      assert.equal(config.paths.stateDir, '/var/lib/canopy');
      assert.deepEqual(config.paths.healthDirs, ['/usr/lib/canopy/health', '/etc/canopy/health']);
      assert.equal(config.mqtt.enabled, true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
