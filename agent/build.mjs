// Builds the two single-file bundles and the library with esbuild.
//   dist/canopy.cjs        operator CLI (everything)
//   dist/canopy-agent.cjs  device agent: no operator-only code, no native addons
//   dist/lib/index.cjs     the library API that package.json exports
//   dist/types/            declarations of the library (tsc), for package.json "types"
// Writes dist/meta-*.json (esbuild metafiles) so tests can check what went in.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // `canopy --version` prints this; run from source it says "dev".
  // import.meta.url: ESM-only packages (openpgp's Node build calls
  // createRequire(import.meta.url)) get the bundle's own file URL, which
  // the banner defines, instead of undefined in a CommonJS bundle.
  define: { __CANOPY_VERSION__: JSON.stringify(version), 'import.meta.url': '__canopyImportMetaUrl' },
};

const IMPORT_META_URL = '"use strict";\nconst __canopyImportMetaUrl = require("url").pathToFileURL(__filename).href;';

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
    banner: { js: t.banner ? `${t.banner}\n${IMPORT_META_URL}` : IMPORT_META_URL },
  });
  writeFileSync(join(dist, `meta-${t.name}.json`), JSON.stringify(result.metafile));
}

// Library declarations: tsc emits .d.ts for the library entry and what it
// imports (under a second with TypeScript 7). Skipped with a warning when
// the dev dependency is not installed.
const libEntry = join(root, 'agent/src/index.ts');
const tsc = join(root, 'node_modules/.bin/tsc');
if (existsSync(libEntry)) {
  if (!existsSync(tsc)) {
    console.warn('build: typescript is not installed; dist/types not written');
  } else {
    const outDir = join(dist, 'types');
    rmSync(outDir, { recursive: true, force: true });
    const r = spawnSync(tsc, [
      '--ignoreConfig', libEntry, '--declaration', '--emitDeclarationOnly', '--outDir', outDir, '--rootDir', join(root, 'agent/src'),
      '--target', 'ES2022', '--module', 'ESNext', '--moduleResolution', 'Bundler', '--lib', 'ES2022', '--types', 'node',
      '--strict', '--skipLibCheck',
    ], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error('build: tsc could not emit the library declarations');
      process.exit(1);
    }
  }
}
