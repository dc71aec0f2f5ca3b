/**
 * agent/PROTOCOL.md is the contract for third parties: its example
 * envelope must open, its bucket vectors must hold, and every reason and
 * command kind the code knows must be documented.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { COMMAND_KINDS, REJECTION_REASONS, openEnvelope, rolloutBucket } from '../../../agent/src/channel/index';
import { Ed25519KeySet, decodeEd25519PublicKey } from '../../../agent/src/sign/index';

const doc = readFileSync('agent/PROTOCOL.md', 'utf8');

describe('agent/PROTOCOL.md', () => {
  it('has an example envelope that a device opens with the documented key', async () => {
    const block = /<!-- vector: command-envelope -->\n```json\n([\s\S]*?)```/.exec(doc);
    assert.ok(block, 'the example block is present');
    const key = /public key\s+\(the line a device puts in its trusted key file\) is\s+`([A-Za-z0-9+/=]{44})`/.exec(doc);
    assert.ok(key, 'the example key is present');
    const trust = { ed25519: { trusted: new Ed25519KeySet([decodeEd25519PublicKey(key[1])]) } };
    const r = await openEnvelope(Buffer.from(block[1]), 'command', trust);
    assert.ok(r.ok && r.type === 'command' && r.payload.kind === 'install', JSON.stringify(r));
  });

  it('lists bucket vectors the code reproduces', () => {
    const rows = [...doc.matchAll(/^\| `([^`]*)` \| (?:`([^`]*)`|\(empty\)) \| `([0-9a-f]{16})` \| ([0-9.]+) \|$/gm)];
    assert.ok(rows.length >= 4, `${rows.length} vectors`);
    for (const [, r, d, , b] of rows) assert.equal(rolloutBucket(r, d ?? ''), Number(b), `${r} / ${d}`);
  });

  it('documents every rejection reason and command kind', () => {
    for (const reason of Object.keys(REJECTION_REASONS)) assert.ok(doc.includes(`\`${reason}\``), reason);
    for (const kind of COMMAND_KINDS) assert.ok(doc.includes(`| \`${kind}\` |`), kind);
  });
});
