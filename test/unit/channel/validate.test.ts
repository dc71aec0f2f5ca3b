import { strict as assert } from 'node:assert';
import {
  validateAgentConfig, validateAgentConfigFragment, validateAnnouncement, validateCommand, validateDeviceEvent, validateDeviceState,
  validateEnvelope,
} from '../../../agent/src/channel/validate';
import { COMMIT, announcement, command } from './fixtures';

const T = '2025-06-01T12:00:00Z';

describe('channel/validate', () => {
  it('accepts valid messages of every type', () => {
    assert.equal(validateAnnouncement(announcement()).ok, true);
    assert.equal(validateCommand(command()).ok, true);
    assert.equal(validateEnvelope({ v: 1, type: 'command', payload: '{}', signatures: [{ alg: 'ed25519', key: 'k', sig: 'AAAA' }] }).ok, true);
    assert.equal(validateDeviceState({ v: 1, type: 'state', fleet: 'f', device: 'd', time: T, online: true, agentVersion: '1', running: { commit: COMMIT }, pending: null }).ok, true);
    assert.equal(validateDeviceEvent({ v: 1, type: 'event', fleet: 'f', device: 'd', time: T, id: 'abcdefgh', kind: 'health', commit: COMMIT, result: 'pass', checks: [] }).ok, true);
  });

  it('names the field path of a problem', () => {
    const a = announcement() as unknown as { rollout: { waves: Array<{ percent: number }> } };
    a.rollout.waves[1].percent = 120;
    const r = validateAnnouncement(a);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.issues[0].path === 'rollout.waves[1].percent', JSON.stringify(r));
    const c = { ...command() } as Record<string, unknown>;
    delete c.nonce;
    const rc = validateCommand(c);
    assert.ok(!rc.ok && rc.message === 'nonce: is required', JSON.stringify(rc));
  });

  it('ignores unknown fields (minor-version additions) in messages', () => {
    const c = { ...command(), futureField: { x: 1 } };
    assert.equal(validateCommand(c).ok, true);
    assert.equal(validateAnnouncement({ ...announcement(), deltaHints: [] }).ok, true);
  });

  it('refuses a command kind it does not know, and checks each kind\'s arguments', () => {
    const r = validateCommand({ ...command(), kind: 'format-disk' });
    assert.ok(!r.ok && r.issues[0].path === 'kind' && /not a known kind/.test(r.message), JSON.stringify(r));
    const install = validateCommand({ ...command(), kind: 'install', args: {} });
    assert.equal(install.ok, false, 'install needs a ref or a commit');
    assert.equal(validateCommand({ ...command(), kind: 'install', args: { commit: COMMIT } }).ok, true);
    const level = validateCommand({ ...command(), kind: 'set-log-level', args: { level: 'loud' } });
    assert.ok(!level.ok && level.issues[0].path === 'args.level', JSON.stringify(level));
  });

  it('demands exactly one of device and tag as a command target', () => {
    assert.equal(validateCommand({ ...command(), target: { device: 'a', tag: 'b' } }).ok, false);
    assert.equal(validateCommand({ ...command(), target: {} }).ok, false);
    assert.equal(validateCommand({ ...command(), target: { tag: 'lab' } }).ok, true);
  });

  it('refuses names that would break a topic and timestamps that are not UTC', () => {
    assert.equal(validateCommand({ ...command(), target: { device: 'a/b' } }).ok, false);
    assert.equal(validateCommand({ ...command(), target: { device: '+' } }).ok, false);
    assert.equal(validateCommand({ ...command(), expires: '2025-06-01T12:00:00+02:00' }).ok, false);
  });

  it('lets events of kinds it does not know through with their common fields checked', () => {
    assert.equal(validateDeviceEvent({ v: 1, type: 'event', fleet: 'f', device: 'd', time: T, id: 'abcdefgh', kind: 'disk-usage', free: 1 }).ok, true);
    assert.equal(validateDeviceEvent({ v: 1, type: 'event', fleet: 'f', device: 'd', time: T, id: 'x', kind: 'disk-usage' }).ok, false);
    const ack = validateDeviceEvent({ v: 1, type: 'event', fleet: 'f', device: 'd', time: T, id: 'abcdefgh', kind: 'ack', nonce: 'n'.repeat(16), command: 'reboot' });
    assert.ok(!ack.ok && ack.issues[0].path === 'status', JSON.stringify(ack));
  });

  it('checks the whole configuration with every issue reported and defaults filled in', () => {
    const doc: Record<string, unknown> = { device: { fleet: 'acme', id: 'dev-1' }, remote: { url: 'https://updates.example.com/repo', ref: 'acme/stable' } };
    const r = validateAgentConfig<{ device: { channel: string; tags: string[] } }>(doc);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.value.device.channel, 'stable');
    assert.deepEqual(r.value.device.tags, []);
    assert.equal((doc.device as { channel?: string }).channel, 'stable', 'defaults go into the value itself');
    const bad = validateAgentConfig({ device: { fleet: 'acme' } });
    assert.ok(!bad.ok && bad.issues.some((i) => i.path === 'remote' && i.message === 'is required') && bad.issues.length > 1, JSON.stringify(bad));
  });

  it('checks a configuration fragment for types and known fields only, every issue, without defaults', () => {
    const doc: Record<string, unknown> = { device: { tags: ['a'] } };
    assert.deepEqual(validateAgentConfigFragment(doc), { ok: true, value: { device: { tags: ['a'] } } });
    const r = validateAgentConfigFragment({ device: { fleet: 7, colour: 'red' }, logLevel: 3 });
    assert.ok(!r.ok, JSON.stringify(r));
    assert.deepEqual(r.issues.map((i) => `${i.path}: ${i.message}`).sort(), ['device.colour: is not a known field', 'device.fleet: must be string', 'logLevel: must be one of "error", "warn", "info", "debug", "trace"', 'logLevel: must be string']);
  });
});
