#!/usr/bin/env node
// The `canopy` command: runs the operator CLI bundle (canopy-cli.cjs, next to
// this file) from V8's code cache when the build left one for this Node.js.
//
// Compiling the 3 MB bundle costs about 60 ms on every start before any work
// is done; a cache made at build time (agent/build.mjs runs `--version` with
// CANOPY_WRITE_CODE_CACHE=1) brings that down to a few. V8 refuses a cache
// made by another Node.js or V8 version or with other flags, and the bundle
// then compiles as usual: the cache is an optimisation, never needed. V8
// itself only compares the source's length, so the cache's name carries a
// hash of the bundle it was made from (the build writes it below); a rebuilt
// bundle never meets an old cache.
//
// This file is plain CommonJS and is copied into dist/ as canopy.cjs with the
// hash filled in; it is not bundled.
'use strict';
const { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

// V8's helper threads (the optimising compiler, the garbage collector's
// helpers) run below the threads doing the work. They exist before any code
// of ours runs, while the threads made later (the thread pool, the pull's
// store worker) are started by this main thread and keep its priority. On
// two cores a pull keeps the main thread and the store worker busy, and the
// compiler took about 0.5 s of CPU from them during a 1 s update; niced,
// it waits for a free core instead, and the update took 1.01 s instead of
// 1.06 (medians of 9 rotated runs, bench/pull-bench.ts's update).
// setpriority() acts on one thread on Linux; elsewhere nothing is changed.
// The garbage collector's young-generation collections would then wait for
// niced helpers to finish their share: in an update the main thread's
// collections paused it for 90 ms in all, for about 55 ms of work (three
// runs, --trace-gc-nvp). Done by the main thread alone (--no-parallel-
// scavenge) they paused it for 72 ms. That flag is not one V8's code caches
// depend on (their check of V8's flags ignores it), and it can change at run
// time.
function yieldHelperThreads() {
  if (process.platform !== 'linux') return;
  try {
    require('node:v8').setFlagsFromString('--no-parallel-scavenge');
    const { getPriority, setPriority } = require('node:os');
    const nice = Math.min(19, getPriority() + 10);
    for (const tid of readdirSync('/proc/self/task')) if (Number(tid) !== process.pid) setPriority(Number(tid), nice);
  } catch {
    // Optimisations only: a thread that cannot be reniced keeps its priority.
  }
}
yieldHelperThreads();

const BUNDLE = join(__dirname, 'canopy-cli.cjs');
const CACHE = join(__dirname, 'canopy-cli.__BUNDLE_HASH__.v8cache');

let cachedData;
try {
  cachedData = readFileSync(CACHE);
} catch {
  // No cache for this build: compile normally.
}
const script = new Script(wrap(readFileSync(BUNDLE, 'utf8')), { filename: BUNDLE, cachedData });

if (process.env.CANOPY_WRITE_CODE_CACHE === '1') {
  // After the run, so the cache also holds the functions it compiled.
  process.once('exit', () => {
    const tmp = `${CACHE}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, CACHE);
    } catch (e) {
      rmSync(tmp, { force: true });
      process.stderr.write(`canopy: could not write the code cache ${CACHE}: ${e.message}\n`);
      process.exitCode = 1;
    }
  });
}

const bundleModule = { exports: {}, filename: BUNDLE, id: BUNDLE, loaded: false };
script.runInThisContext()(bundleModule.exports, createRequire(BUNDLE), bundleModule, BUNDLE, __dirname);
