import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { classifyTopic, topicPrefix, topicsFor } from '../../../agent/src/channel/topics';

describe('channel/topics', () => {
  it('expands the prefix and builds every topic', () => {
    const p = topicPrefix('acme');
    assert.equal(p, 'canopy/v1/acme');
    const t = topicsFor(p);
    assert.equal(t.announcement('stable'), 'canopy/v1/acme/channels/stable/announcement');
    assert.equal(t.deviceCommands('d1'), 'canopy/v1/acme/devices/d1/commands');
    assert.equal(t.tagCommands('lab'), 'canopy/v1/acme/tags/lab/commands');
    assert.equal(t.state('d1'), 'canopy/v1/acme/devices/d1/state');
    assert.equal(t.events('d1'), 'canopy/v1/acme/devices/d1/events');
    assert.equal(topicPrefix('acme', 'site-7/ota/{fleet}/v1'), 'site-7/ota/acme/v1');
  });

  it('refuses names and prefixes that would act as wildcards or break levels', () => {
    const bad = (fn: () => unknown) => assert.throws(fn, (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    bad(() => topicPrefix('ac/me'));
    bad(() => topicPrefix('acme', 'canopy/+/{fleet}'));
    bad(() => topicPrefix('acme', '/canopy/{fleet}'));
    bad(() => topicPrefix('acme', 'canopy//{fleet}'));
    const t = topicsFor('canopy/v1/acme');
    bad(() => t.deviceCommands('#'));
    bad(() => t.announcement('a b'));
    bad(() => t.tagCommands(''));
  });

  it('classifies topics under the prefix and nothing else', () => {
    const p = 'canopy/v1/acme';
    assert.deepEqual(classifyTopic(p, `${p}/channels/stable/announcement`), { kind: 'announcement', channel: 'stable' });
    assert.deepEqual(classifyTopic(p, `${p}/devices/d1/commands`), { kind: 'commands', device: 'd1' });
    assert.deepEqual(classifyTopic(p, `${p}/tags/lab/commands`), { kind: 'commands', tag: 'lab' });
    assert.deepEqual(classifyTopic(p, `${p}/devices/d1/state`), { kind: 'state', device: 'd1' });
    assert.equal(classifyTopic(p, 'canopy/v1/other/devices/d1/commands'), undefined);
    assert.equal(classifyTopic(p, `${p}/devices/d1/commands/extra`), undefined);
    assert.equal(classifyTopic(p, `${p}/channels/stable/other`), undefined);
  });
});
