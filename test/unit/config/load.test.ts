import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { loadConfig, MAX_CONFIG_FILE_BYTES } from '../../../agent/src/config/index';

describe('config/load', () => {
  let root: string;
  let roots: string[];
  const put = (layer: number, name: string, value: unknown) => {
    writeFileSync(join(roots[layer], 'config.d', name), typeof value === 'string' ? value : JSON.stringify(value));
  };
  const fails = (re: RegExp) => {
    assert.throws(() => loadConfig({ roots }), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID') && (re.test(e.message) || assert.fail(e.message)));
  };
  const base = { device: { fleet: 'acme', id: 'dev-1' }, remote: { url: 'https://updates.example.com/repo', ref: 'acme/rpi4/stable' } };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'canopy-config-'));
    roots = ['usr/lib/canopy', 'etc/canopy', 'run/canopy'].map((r) => join(root, r));
    for (const r of roots) mkdirSync(join(r, 'config.d'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('fills every default around the required fields', () => {
    put(0, '10-base.json', base);
    const { config, files } = loadConfig({ roots });
    assert.deepEqual(files, [join(roots[0], 'config.d', '10-base.json')]);
    assert.equal(config.device.channel, 'stable');
    assert.deepEqual(config.device.tags, []);
    assert.equal(config.remote.name, 'canopy');
    assert.deepEqual(config.remote.keys, { ed25519: [], ed25519Revoked: [], openpgp: [] });
    assert.equal(config.mqtt.cleanSession, false);
    assert.equal(config.mqtt.topicPrefix, 'canopy/v1/{fleet}');
    assert.deepEqual(config.mqtt.backoff, { initialSec: 1, maxSec: 300 });
    assert.deepEqual(config.poll, { enabled: true, intervalSec: 300, jitterSec: 30 });
    assert.equal(config.reboot.policy, 'immediate');
    assert.equal(config.health.tries, 3);
    assert.deepEqual(config.paths, { sysroot: '/', stateDir: '/var/lib/canopy', healthDirs: ['/usr/lib/canopy/health', '/etc/canopy/health'] });
    assert.equal(config.logLevel, 'info');
    assert.equal(config.messages.clockSkewSec, 300);
  });

  it('layers /usr/lib, /etc and /run in that order, and files lexically within each', () => {
    put(0, '10-base.json', { ...base, device: { ...base.device, tags: ['a'] }, poll: { intervalSec: 600 } });
    put(0, '20-more.json', { poll: { jitterSec: 1 }, logLevel: 'warn' });
    put(1, '50-site.json', { device: { tags: ['site'] }, logLevel: 'debug' });
    put(1, '05-early.json', { logLevel: 'error' });
    put(2, '99-boot.json', { device: { id: 'dev-from-run' } });
    put(1, 'README', 'not json');
    put(1, '.hidden.json', 'not json');
    const { config, files } = loadConfig({ roots });
    assert.deepEqual(files.map((f) => f.slice(root.length)), [
      '/usr/lib/canopy/config.d/10-base.json', '/usr/lib/canopy/config.d/20-more.json',
      '/etc/canopy/config.d/05-early.json', '/etc/canopy/config.d/50-site.json', '/run/canopy/config.d/99-boot.json',
    ]);
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(config.device.tags, ['site'], 'arrays are replaced, not appended');
    assert.deepEqual(config.poll, { enabled: true, intervalSec: 600, jitterSec: 1 });
    assert.equal(config.device.id, 'dev-from-run');
  });

  it('takes the device id from idFile when no id is set', () => {
    writeFileSync(join(root, 'machine-id'), '0123456789abcdef0123456789abcdef\n');
    put(0, '10.json', { ...base, device: { fleet: 'acme', idFile: join(root, 'machine-id') } });
    assert.equal(loadConfig({ roots }).config.device.id, '0123456789abcdef0123456789abcdef');
    writeFileSync(join(root, 'machine-id'), 'not/valid\n');
    fails(/device\.idFile: .*machine-id does not start with a valid device id/);
    put(0, '10.json', { ...base, device: { fleet: 'acme' } });
    fails(/device\.id: is required \(or device\.idFile\); no file sets it/);
  });

  it('names the file and the field path of a bad fragment', () => {
    put(0, '10-base.json', base);
    put(1, '30-mqtt.json', { mqtt: { url: 'mqtt://broker:1883', keepaliveSec: 'sixty', colour: 'blue' } });
    fails(/etc\/canopy\/config\.d\/30-mqtt\.json: .*mqtt\.keepaliveSec: must be integer/);
    fails(/30-mqtt\.json: .*mqtt\.colour: is not a known field/);
    put(1, '30-mqtt.json', '{"mqtt": ');
    fails(/30-mqtt\.json: not valid JSON/);
    put(1, '30-mqtt.json', '[1]');
    fails(/30-mqtt\.json: must hold a JSON object/);
    put(1, '30-mqtt.json', { paths: { stateDir: 'relative/dir' } });
    fails(/30-mqtt\.json: paths\.stateDir: must match pattern/);
    put(1, '30-mqtt.json', { reboot: { window: { days: ['someday'], start: '25:00', end: '04:00' } } });
    fails(/reboot\.window\.days\[0\]: must be one of/);
    put(1, '30-mqtt.json', '{"__proto__": {"logLevel": "trace"}}');
    fails(/30-mqtt\.json: __proto__: is not a known field/);
    put(1, '30-mqtt.json', ' '.repeat(MAX_CONFIG_FILE_BYTES + 1));
    fails(/larger than/);
  });

  it('names required fields no file sets, and field combinations that do not hold', () => {
    put(0, '10.json', { device: { fleet: 'acme', id: 'd' } });
    fails(/remote: is required; no file sets it \(read .*10\.json\)/);
    put(0, '10.json', { ...base, reboot: { policy: 'maintenance-window' } });
    fails(/reboot\.window: is required/);
    put(0, '10.json', { ...base, reboot: { policy: 'maintenance-window', window: { days: ['sat', 'sun'], start: '23:00', end: '03:00' } } });
    assert.deepEqual(loadConfig({ roots }).config.reboot.window, { days: ['sat', 'sun'], start: '23:00', end: '03:00', timezone: 'local' });
    put(2, '50.json', { mqtt: { url: 'mqtts://broker.example.com:8883' } });
    fails(/messages\.keys: no key file, but MQTT is configured \(.*run\/canopy\/config\.d\/50\.json\)/);
    put(2, '60.json', { messages: { keys: { ed25519: ['/etc/canopy/keys/operator.ed25519'] } } });
    assert.equal(loadConfig({ roots }).config.mqtt.url, 'mqtts://broker.example.com:8883');
  });

  it('is all or nothing: one bad fragment fails the whole load', () => {
    put(0, '10.json', base);
    put(2, '99.json', { health: { tries: 0 } });
    fails(/99\.json: health\.tries: must be >= 1/);
  });

  it('reads nothing but regular *.json files, follows symlinks, and tolerates missing directories', () => {
    writeFileSync(join(root, 'shared.json'), JSON.stringify(base));
    symlinkSync(join(root, 'shared.json'), join(roots[1], 'config.d', '10-link.json'));
    mkdirSync(join(roots[1], 'config.d', '20-dir.json'));
    rmSync(join(roots[2], 'config.d'), { recursive: true });
    const { config, files } = loadConfig({ roots });
    assert.equal(config.device.id, 'dev-1');
    assert.equal(files.length, 1);
    assert.throws(() => loadConfig({ roots: [join(root, 'none')] }), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID') && /device: is required; no file sets it \(read no files\)/.test(e.message));
  });

  it('checks per-check health settings the way the health runner reads them', () => {
    put(0, '10.json', { ...base, health: { checks: { 'required.d/20-net': { timeoutSec: 30, retries: 2 } } } });
    assert.deepEqual(loadConfig({ roots }).config.health.checks, { 'required.d/20-net': { timeoutSec: 30, retries: 2 } });
    put(0, '10.json', { ...base, health: { checks: { 'other.d/x': {} } } });
    fails(/health\.checks/);
    put(0, '10.json', { ...base, health: { checks: { 'wanted.d/x': { retries: 11 } } } });
    fails(/health\.checks\.wanted\.d\/x\.retries: must be <= 10/);
  });
});
