/**
 * The README's first command and .ci/run must install the same Debian
 * packages, or a new user's machine and CI drift apart.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';

describe('project setup', () => {
  it('README and .ci/run name the same Debian packages', () => {
    const readme = readFileSync('README.md', 'utf8');
    const line = readme.split('\n').find((l) => l.includes('apt-get install'));
    assert.ok(line, 'README has an apt-get install line');
    const fromReadme = line.split('apt-get install')[1].split('&&')[0].trim().split(/\s+/).filter((w) => !w.startsWith('-'));
    const ci = readFileSync('.ci/run', 'utf8');
    const m = /PKGS=\(([^)]*)\)/.exec(ci);
    assert.ok(m, '.ci/run has a PKGS=(...) list');
    const fromCi = m[1].trim().split(/\s+/);
    assert.deepEqual([...fromReadme].sort(), [...fromCi].sort());
  });

  it('README starts with the demo command and the test command', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /```sh\n([^`]*)```/.exec(readme)?.[1].trim().split('\n') ?? [];
    assert.equal(block.length, 2);
    assert.match(block[0], /npm ci && npm start$/);
    assert.equal(block[1], 'npm test');
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    assert.match(pkg.scripts.start, /canopy\.cjs demo/);
    assert.ok(readFileSync('.ci/run', 'utf8').includes('npm test'));
  });
});
