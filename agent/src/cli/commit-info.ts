/**
 * A commit as `log` and `show` print it: in text the layout of `ostree
 * log`/`ostree show` (checksum, parent, content checksum, UTC date,
 * version, indented subject and body), in JSON every field including the
 * typed metadata.
 */
import { commitContentChecksum, commitVersion, type Commit } from '../objects/index';
import { varDictToJson, type JsonVariant } from './json-value';

export interface CommitInfo {
  checksum: string;
  parent: string | null;
  contentChecksum: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** The same instant as ISO 8601 UTC. */
  date: string;
  subject: string;
  body: string;
  version: string | null;
  rootTree: string;
  rootMeta: string;
  metadata: Record<string, JsonVariant>;
  related: Array<{ name: string; checksum: string }>;
}

export function commitInfo(checksum: string, c: Commit): CommitInfo {
  return {
    checksum,
    parent: c.parent ?? null,
    contentChecksum: commitContentChecksum(c),
    timestamp: c.timestamp,
    date: new Date(c.timestamp * 1000).toISOString().replace('.000Z', 'Z'),
    subject: c.subject,
    body: c.body,
    version: commitVersion(c) ?? null,
    rootTree: c.rootTree,
    rootMeta: c.rootMeta,
    metadata: varDictToJson(c.metadata),
    related: c.related.map(([name, csum]) => ({ name, checksum: csum })),
  };
}

/** `2023-01-01 00:00:00 +0000`, the date format of ostree log. */
export function formatUtc(seconds: number): string {
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return `invalid (${seconds})`;
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' +0000');
}

function indented(text: string): string {
  return text.split('\n').map((l, i, all) => (i === all.length - 1 && l === '' ? '' : `    ${l}\n`)).join('');
}

/** The text block ostree prints for one commit, ending with a blank line. */
export function formatCommitText(checksum: string, c: Commit): string {
  let s = `commit ${checksum}\n`;
  if (c.parent) s += `Parent:  ${c.parent}\n`;
  s += `ContentChecksum:  ${commitContentChecksum(c)}\n`;
  s += `Date:  ${formatUtc(c.timestamp)}\n`;
  const version = commitVersion(c);
  if (version !== undefined) s += `Version: ${version}\n`;
  s += c.subject ? `\n${indented(c.subject)}` : '(no subject)\n';
  if (c.body) s += `\n${indented(c.body)}`;
  return s + '\n';
}
