// Builds the two single-file bundles and the library with esbuild.
//   dist/canopy.cjs        operator CLI (everything)
//   dist/canopy-agent.cjs  device agent: no operator-only code, no native addons
//   dist/lib/index.cjs     the library API that package.json exports
// Writes dist/meta-*.json (esbuild metafiles) so tests can check what went in.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
};

const targets = [
  { name: 'canopy', entry: 'agent/src/bin/canopy.ts', out: 'canopy.cjs', banner: '#!/usr/bin/env node' },
  { name: 'canopy-agent', entry: 'agent/src/bin/canopy-agent.ts', out: 'canopy-agent.cjs', banner: '#!/usr/bin/env node', minify: true },
  { name: 'lib', entry: 'agent/src/index.ts', out: 'lib/index.cjs' },
];

for (const t of targets) {
  if (!existsSync(join(root, t.entry))) continue;
  const result = await build({
    ...common,
    entryPoints: [join(root, t.entry)],
    outfile: join(dist, t.out),
    minify: Boolean(t.minify),
    banner: t.banner ? { js: t.banner } : undefined,
  });
  writeFileSync(join(dist, `meta-${t.name}.json`), JSON.stringify(result.metafile));
}
