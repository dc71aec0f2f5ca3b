/**
 * MQTT topic names. Everything lives under one prefix (default
 * `canopy/v1/{fleet}`, `{fleet}` replaced by the fleet name):
 *
 *   <prefix>/channels/<channel>/announcement   retained, signed, operator -> devices
 *   <prefix>/devices/<id>/commands             signed, operator -> one device
 *   <prefix>/tags/<tag>/commands               signed, operator -> devices with the tag
 *   <prefix>/devices/<id>/state                retained, device -> operator (also the last will)
 *   <prefix>/devices/<id>/events               device -> operator
 *
 * Names are checked against the protocol's name grammar, so no level can
 * carry a wildcard or a separator. Pure.
 */
import { CanopyError } from '../core/errors';
import { DEFAULT_TOPIC_PREFIX, NAME_PATTERN, isProtocolName } from './protocol';

/** The topics of one fleet. */
export interface Topics {
  readonly prefix: string;
  announcement(channel: string): string;
  deviceCommands(device: string): string;
  tagCommands(tag: string): string;
  state(device: string): string;
  events(device: string): string;
}

/** What a topic under the prefix is. */
export type TopicKind =
  | { kind: 'announcement'; channel: string }
  | { kind: 'commands'; device: string }
  | { kind: 'commands'; tag: string }
  | { kind: 'state'; device: string }
  | { kind: 'events'; device: string };

function name(what: string, value: string): string {
  if (!isProtocolName(value)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `${what} ${JSON.stringify(value)} cannot be used in a topic (it must match ${NAME_PATTERN})`, { what, value });
  }
  return value;
}

/**
 * Expands a prefix template for a fleet and checks it: no wildcards
 * (`+`, `#`), no NUL, no empty level, no leading or trailing `/`, at most
 * 200 characters.
 *
 * @throws ERR_INVALID_ARGUMENT for a bad fleet name or prefix.
 */
export function topicPrefix(fleet: string, template: string = DEFAULT_TOPIC_PREFIX): string {
  const p = template.split('{fleet}').join(name('fleet', fleet));
  if (p.length === 0 || p.length > 200 || /[+#\u0000]/.test(p) || p.split('/').some((l) => l.length === 0)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `topic prefix ${JSON.stringify(p)} is not usable (no wildcards, no empty levels, no leading or trailing /, 1-200 characters)`, { prefix: p });
  }
  return p;
}

/**
 * The topics under a prefix (already expanded by {@link topicPrefix}).
 * Each method throws ERR_INVALID_ARGUMENT for a name outside the grammar.
 */
export function topicsFor(prefix: string): Topics {
  return {
    prefix,
    announcement: (channel) => `${prefix}/channels/${name('channel', channel)}/announcement`,
    deviceCommands: (device) => `${prefix}/devices/${name('device id', device)}/commands`,
    tagCommands: (tag) => `${prefix}/tags/${name('tag', tag)}/commands`,
    state: (device) => `${prefix}/devices/${name('device id', device)}/state`,
    events: (device) => `${prefix}/devices/${name('device id', device)}/events`,
  };
}

/** What `topic` is under `prefix`, or undefined when it is none of the protocol's topics. */
export function classifyTopic(prefix: string, topic: string): TopicKind | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest.length !== 3 || !isProtocolName(rest[1])) return undefined;
  const [group, id, leaf] = rest;
  if (group === 'channels' && leaf === 'announcement') return { kind: 'announcement', channel: id };
  if (group === 'tags' && leaf === 'commands') return { kind: 'commands', tag: id };
  if (group === 'devices') {
    if (leaf === 'commands') return { kind: 'commands', device: id };
    if (leaf === 'state') return { kind: 'state', device: id };
    if (leaf === 'events') return { kind: 'events', device: id };
  }
  return undefined;
}
