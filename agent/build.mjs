// Builds the two single-file bundles and the library with esbuild.
//   dist/canopy-cli.cjs    operator CLI (everything), started by dist/canopy.cjs
//   dist/canopy.cjs        the `canopy` command: agent/src/bin/launcher.cjs, which
//                          runs canopy-cli.cjs from the V8 code cache made here
//   dist/canopy-agent.cjs  device agent: no operator-only code, no native addons
//   dist/lib/index.cjs     the library API that package.json exports
//   dist/types/            declarations of the library (tsc), for package.json "types"
// Writes dist/meta-*.json (esbuild metafiles) so tests can check what went in.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
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

// undici's HTTP/2 client loads node:http2 when undici loads (2-4 ms of every
// pull's start-up, before its first request), though Canopy never enables
// HTTP/2 (allowH2 is off, and a static repository gains nothing from it).
// Its require is given what undici itself falls back to when Node.js has no
// http2 module, and no other module's.
const undiciWithoutHttp2 = {
  name: 'undici-without-http2',
  setup(b) {
    b.onResolve({ filter: /^node:http2$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/.test(args.importer) ? { path: 'http2', namespace: 'no-http2' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'no-http2' }, () => ({ contents: 'module.exports = { constants: {} };', loader: 'js' }));
  },
};
common.plugins = [undiciWithoutHttp2];

const IMPORT_META_URL = '"use strict";\nconst __canopyImportMetaUrl = require("url").pathToFileURL(__filename).href;';

// The CLI bundle has its whitespace and comments minified but keeps its
// names, so stack traces still name functions. Comments were the only
// non-ASCII text in it (esbuild escapes it in code): without them the source
// is ASCII, which Node.js reads into a one-byte string without decoding.
// 4.4 MB became 2.9 MB and `canopy --version` 19 ms faster (105 -> 86 ms,
// median of 20 starts).
const targets = [
  { name: 'canopy', entry: 'agent/src/bin/canopy.ts', out: 'canopy-cli.cjs', minifyWhitespace: true },
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
    minifyWhitespace: Boolean(t.minify || t.minifyWhitespace),
    banner: { js: t.banner ? `${t.banner}\n${IMPORT_META_URL}` : IMPORT_META_URL },
  });
  writeFileSync(join(dist, `meta-${t.name}.json`), JSON.stringify(result.metafile));
}

// The `canopy` command and its code cache. The cache is made by running
// `--version` once, so it holds what every command compiles at start-up;
// CANOPY_BUILD_CODE_CACHE=0 skips it (a bundle built for another machine's
// Node.js: there V8 would refuse this one and compile as usual).
{
  const bundle = readFileSync(join(dist, 'canopy-cli.cjs'));
  const hash = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
  const launcher = readFileSync(join(root, 'agent/src/bin/launcher.cjs'), 'utf8').replace('__BUNDLE_HASH__', hash);
  writeFileSync(join(dist, 'canopy.cjs'), launcher);
  chmodSync(join(dist, 'canopy.cjs'), 0o755);
  for (const f of readdirSync(dist)) if (/^canopy-cli\..*\.v8cache/.test(f)) rmSync(join(dist, f), { force: true });
  if (process.env.CANOPY_BUILD_CODE_CACHE !== '0') {
    const r = spawnSync(process.execPath, [join(dist, 'canopy.cjs'), '--version'], { env: { ...process.env, CANOPY_WRITE_CODE_CACHE: '1' }, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) {
      console.error('build: could not make the code cache of dist/canopy-cli.cjs');
      process.exit(1);
    }
  }
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
