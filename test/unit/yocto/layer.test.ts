/**
 * meta-canopy (yocto-layer/) read without BitBake: every metadata file parses, the layer
 * configuration has what bitbake-layers needs, every local source exists, the boot-loader
 * bbappends change nothing unless the distro feature is on, README and layer name the
 * same CANOPY_* variables, and the image class passes only options its scripts know.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BitbakeSyntaxError, pythonReads, readBitbake, references, splitOverrides,
  type Assignment, type BbFunction, type Statement,
} from './bitbake-reader';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LAYER = join(ROOT, 'yocto-layer');
const METADATA = /\.(bb|bbappend|bbclass|conf|inc)$/;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out.sort();
}

const files = walk(LAYER);
const metadata = files.filter((f) => METADATA.test(f));
// Filled by the first test of the meta-canopy suite, so a file that does not parse
// fails that test by name instead of the whole file.
const parsed = new Map<string, Statement[]>();

const assignments = (f: string): Assignment[] => parsed.get(f)!.filter((s): s is Assignment => s.kind === 'assign');
const functions = (f: string): BbFunction[] => parsed.get(f)!.filter((s): s is BbFunction => s.kind === 'function');
const rel = (f: string): string => relative(LAYER, f);

/** A BBFILES glob (`*` within one path segment) as a regular expression. */
function globRe(glob: string): RegExp {
  const body = glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\%]/g, '\\$&')).join('[^/]*');
  return new RegExp(`^${body}$`);
}

describe('yocto-layer: the BitBake reader', () => {
  it('reads every operator, overrides, flags, continuations and functions', () => {
    const text = [
      '# comment',
      'A = "1"', 'B ?= "2"', 'C ??= "3"', 'D := "${A}"', 'E += "x"', 'F =+ "y"', 'G .= "z"', 'H =. "w"',
      'FILES:${PN} += "${libdir}/x \\', '    ${bindir}/y"',
      'SRC_URI:append:qemuarm64 = " file://a.cfg"',
      'do_install[depends] += "x:do_populate_sysroot"',
      'export PATH_X = "p"',
      "Q = 'single \"quoted\"'",
      'inherit systemd features_check', 'require ${@bb.utils.contains(\'DISTRO_FEATURES\', \'x\', \'a.inc\', \'\', d)}',
      'include optional.inc', 'addtask mkimage before do_install after do_compile', 'unset Z[doc]',
      'do_install() {', '    install -d ${D}${bindir}', '}',
      'python __anonymous () {', '    d.setVar("X", "1")', '}',
      'fakeroot python do_rootfs () {', '    pass', '}',
      'IMAGE_CMD:canopy () {', '    true', '}',
      'def helper(d, value):', '    return value', '',
    ].join('\n');
    const s = readBitbake(text, 't.bb');
    const a = s.filter((x): x is Assignment => x.kind === 'assign');
    assert.deepEqual(a.slice(0, 8).map((x) => x.op), ['=', '?=', '??=', ':=', '+=', '=+', '.=', '=.']);
    const files_ = a.find((x) => x.base === 'FILES')!;
    assert.deepEqual(files_.overrides, ['${PN}']);
    assert.equal(files_.value, '${libdir}/x     ${bindir}/y');
    assert.deepEqual(a.find((x) => x.base === 'SRC_URI')!.overrides, ['append', 'qemuarm64']);
    assert.equal(a.find((x) => x.flag === 'depends')!.base, 'do_install');
    assert.ok(a.find((x) => x.base === 'PATH_X')!.exported);
    assert.equal(a.find((x) => x.base === 'Q')!.value, 'single "quoted"');
    const fns = s.filter((x): x is BbFunction => x.kind === 'function');
    assert.deepEqual(fns.map((f) => [f.name, f.lang, f.fakeroot]), [
      ['do_install', 'shell', false], ['__anonymous', 'python', false], ['do_rootfs', 'python', true], ['IMAGE_CMD:canopy', 'shell', false],
    ]);
    assert.deepEqual(s.filter((x) => x.kind === 'include').map((x) => (x as { required: boolean }).required), [true, false]);
    assert.equal(s.filter((x) => x.kind === 'def').length, 1);
    assert.equal(s.filter((x) => x.kind === 'directive').length, 1);
    assert.equal(s.filter((x) => x.kind === 'unset').length, 1);
  });

  it('refuses what BitBake would refuse, naming the file and line', () => {
    for (const [text, line, msg] of [
      ['A = unquoted', 1, /must be quoted/],
      ['A = "open \\', 1, /continuation at the end/],
      ['\nB = "x" # comment', 2, /quote must end the line/],
      ['do_x() {\n  true\n', 1, /no closing \}/],
      ['what is this', 1, /cannot read/],
      ['inherit', 1, /names no class/],
    ] as const) {
      assert.throws(() => readBitbake(text, 'bad.bb'), (e: unknown) => e instanceof BitbakeSyntaxError && e.line === line && msg.test(e.message) && e.message.startsWith('bad.bb:'));
    }
    assert.throws(() => readBitbake('A = "1"\n'.repeat(20001), 'big.conf'), /more than 20000 lines/);
    assert.throws(() => readBitbake(`A = "${'x'.repeat(1 << 20)}"`, 'big.conf'), /larger than/);
  });

  it('splits overrides without breaking ${...} and finds references', () => {
    assert.deepEqual(splitOverrides('RDEPENDS:${PN}-dev:append'), { base: 'RDEPENDS', overrides: ['${PN}-dev', 'append'] });
    assert.deepEqual([...references('${A} ${B:x} ${@d.getVar("C")}')], ['A', 'B']);
    assert.deepEqual([...pythonReads("${@bb.utils.contains('DISTRO_FEATURES', 'x', 'y', '', d)} d.getVar('CANOPY_X')")], ['DISTRO_FEATURES', 'CANOPY_X']);
  });
});

describe('yocto-layer: meta-canopy', () => {
  before(() => {
    for (const f of metadata) {
      try {
        parsed.set(f, readBitbake(readFileSync(f, 'utf8'), relative(ROOT, f)));
      } catch {
        // reported by the first test
      }
    }
  });

  it('has every kind of metadata file and they all parse', () => {
    for (const f of metadata) readBitbake(readFileSync(f, 'utf8'), relative(ROOT, f));
    for (const ext of ['.bb', '.bbappend', '.bbclass', '.conf', '.inc']) {
      assert.ok(metadata.some((f) => f.endsWith(ext)), `no ${ext} file in the layer`);
    }
    for (const [f, s] of parsed) assert.ok(s.length > 0, `${rel(f)} has no statements`);
  });

  it('conf/layer.conf has what bitbake-layers expects', () => {
    const conf = join(LAYER, 'conf/layer.conf');
    const a = assignments(conf);
    const get = (name: string): Assignment => {
      const x = a.find((s) => s.name === name);
      assert.ok(x, `layer.conf does not set ${name}`);
      return x;
    };
    assert.match(get('BBPATH').value, /\$\{LAYERDIR\}/);
    assert.ok(['.=', '=.', '+=', '=+'].includes(get('BBPATH').op), 'BBPATH must be extended, not replaced');
    assert.equal(get('BBFILE_COLLECTIONS').op, '+=');
    assert.equal(get('BBFILE_COLLECTIONS').value.trim(), 'canopy');
    assert.equal(get('BBFILE_PATTERN_canopy').value, '^${LAYERDIR}/');
    assert.match(get('BBFILE_PRIORITY_canopy').value, /^\d+$/);
    assert.match(get('LAYERVERSION_canopy').value, /^\d+$/);
    assert.deepEqual(get('LAYERSERIES_COMPAT_canopy').value.split(/\s+/).sort(), ['scarthgap', 'walnascar']);
    assert.deepEqual(get('LAYERDEPENDS_canopy').value.split(/\s+/).sort(), ['core', 'openembedded-layer']);

    // BBFILES must pick up every recipe and bbappend of the layer, and nothing else.
    const globs = get('BBFILES').value.trim().split(/\s+/).map((g) => globRe(g.replace('${LAYERDIR}', LAYER)));
    for (const f of files.filter((x) => /\.(bb|bbappend)$/.test(x))) {
      assert.ok(globs.some((g) => g.test(f)), `${rel(f)} is not matched by BBFILES`);
    }
    for (const f of files.filter((x) => !/\.(bb|bbappend)$/.test(x))) {
      assert.ok(!globs.some((g) => g.test(f)), `${rel(f)} would be parsed as a recipe`);
    }
  });

  it('every file:// source exists where the recipe looks for it', () => {
    const built = readFileSync(join(ROOT, 'agent/build.mjs'), 'utf8');
    let checked = 0;
    for (const f of metadata.filter((x) => /\.(bb|bbappend|inc)$/.test(x))) {
      const a = assignments(f);
      // FILESEXTRAPATHS as the layer writes it, with the layer's own variables resolved.
      const extra = a.filter((s) => s.base === 'FILESEXTRAPATHS').flatMap((s) => s.value.split(':'))
        .filter((p) => p !== '')
        .map((p) => p.replace('${THISDIR}', dirname(f)).replace('${CANOPY_SRCDIR}', ROOT).replace('${CANOPY_LAYERDIR}', LAYER));
      for (const p of extra) assert.ok(!p.includes('${'), `${rel(f)}: FILESEXTRAPATHS entry ${p} uses a variable this test does not know`);
      const search = [...extra, join(dirname(f), 'files')];
      for (const s of a.filter((x) => x.base === 'SRC_URI' && x.flag === undefined)) {
        for (const uri of s.value.split(/\s+/).filter((u) => u.startsWith('file://'))) {
          const name = uri.slice('file://'.length).split(';')[0];
          const found = search.some((dir) => existsSync(join(dir, name)));
          const bundle = /^dist\/([^/]+\.cjs)$/.exec(name);
          if (!found && bundle) {
            // Build output: it must be what agent/build.mjs writes.
            assert.ok(built.includes(`'${bundle[1]}'`), `${rel(f)}: ${name} is neither present nor written by agent/build.mjs`);
          } else {
            assert.ok(found, `${rel(f)}: ${uri} not found in ${search.map((d) => relative(ROOT, d)).join(', ')}`);
          }
          checked++;
        }
      }
    }
    assert.ok(checked >= 8, `only ${checked} file:// sources checked`);
  });

  it('the boot-loader bbappends only require their .inc when the distro feature is on', () => {
    const appends = metadata.filter((f) => f.endsWith('.bbappend'));
    assert.ok(appends.length >= 2);
    for (const f of appends) {
      const s = parsed.get(f)!;
      assert.equal(s.length, 1, `${rel(f)} must hold only the conditional require`);
      const inc = s[0];
      assert.equal(inc.kind, 'include');
      if (inc.kind !== 'include') continue;
      assert.ok(inc.required, `${rel(f)}: use require, so a missing .inc fails loudly when the feature is on`);
      const m = /^\$\{@bb\.utils\.contains\('DISTRO_FEATURES', 'canopy', '([^']+\.inc)', '', d\)\}$/.exec(inc.path);
      assert.ok(m, `${rel(f)}: the require is not gated on DISTRO_FEATURES containing canopy: ${inc.path}`);
      assert.ok(existsSync(join(dirname(f), m[1])), `${rel(f)}: ${m[1]} does not exist next to it`);
    }
    // Nothing else in the layer appends to or changes recipes of other layers.
    const incs = new Set(appends.map((f) => join(dirname(f), /'([^']+\.inc)'/.exec((parsed.get(f)![0] as { path: string }).path)![1])));
    for (const f of metadata.filter((x) => x.endsWith('.inc') && !incs.has(x) && !x.includes('/conf/'))) {
      assert.fail(`${rel(f)} is an .inc no bbappend requires`);
    }
  });

  it('recipes unpack where both scarthgap and walnascar expect (S never plain ${WORKDIR})', () => {
    for (const f of metadata.filter((x) => x.endsWith('.bb'))) {
      for (const s of assignments(f).filter((x) => x.base === 'S' || x.base === 'UNPACKDIR')) {
        assert.notEqual(s.value, '${WORKDIR}', `${rel(f)}:${s.line}: ${s.base} = \${WORKDIR} fails to parse on styhead and later`);
      }
      const usesFiles = assignments(f).some((x) => x.base === 'SRC_URI' && x.value.includes('file://'));
      const sets = assignments(f).find((x) => x.base === 'S');
      if (usesFiles && sets) assert.match(sets.value, /UNPACKDIR.*WORKDIR/, `${rel(f)}: S must fall back from UNPACKDIR to WORKDIR`);
    }
    for (const f of metadata.filter((x) => /\.(bbappend|inc|bbclass)$/.test(x))) {
      for (const fn of functions(f)) {
        assert.doesNotMatch(fn.body, /\$\{WORKDIR\}\/(grub|uboot|dist|device)\//, `${rel(f)}: ${fn.name} reads sources from WORKDIR (walnascar unpacks into UNPACKDIR)`);
      }
    }
  });

  it('canopy-agent runs on meta-oe nodejs as a systemd service', () => {
    const f = metadata.find((x) => x.endsWith('canopy-agent_0.1.bb'))!;
    const s = parsed.get(f)!;
    const a = assignments(f);
    assert.ok(s.some((x) => x.kind === 'inherit' && x.classes.includes('systemd')));
    assert.match(a.find((x) => x.base === 'RDEPENDS')!.value, /(^|\s)nodejs(\s|$)/);
    assert.deepEqual(a.find((x) => x.base === 'SYSTEMD_SERVICE')!.value.split(/\s+/), ['canopy-agent.service', 'canopy-health.service', 'canopy-agent-finalize-staged.path']);
    const install = functions(f).find((x) => x.name === 'do_install')!.body;
    for (const dir of ['required.d', 'wanted.d', 'green.d', 'red.d']) assert.ok(a.find((x) => x.base === 'CANOPY_HEALTH_DIRS')!.value.includes(dir));
    for (const dest of ['${nonarch_libdir}/canopy/config.d', '${nonarch_libdir}/canopy/health/$h', '${sysconfdir}/canopy/health/$h', '${nonarch_libdir}/tmpfiles.d', '${systemd_system_unitdir}']) {
      assert.ok(install.includes(dest), `do_install does not install into ${dest}`);
    }
    const native = metadata.find((x) => x.endsWith('canopy-native_0.1.bb'))!;
    assert.equal(assignments(native).find((x) => x.base === 'DEPENDS')!.value, 'nodejs-native');
    assert.ok(parsed.get(native)!.some((x) => x.kind === 'inherit' && x.classes.includes('native')));
  });

  it('every unit in SYSTEMD_SERVICE is shipped (device/systemd or the recipe\'s files)', function () {
    const pending: string[] = [];
    for (const f of metadata.filter((x) => x.endsWith('.bb'))) {
      for (const s of assignments(f).filter((x) => x.base === 'SYSTEMD_SERVICE')) {
        for (const unit of s.value.split(/\s+/).filter(Boolean)) {
          if (existsSync(join(ROOT, 'device/systemd', unit)) || existsSync(join(dirname(f), 'files', unit))) continue;
          // The daemon's own unit is written with the daemon, in device/systemd.
          if (unit === 'canopy-agent.service') pending.push(unit);
          else assert.fail(`${rel(f)}: ${unit} is in SYSTEMD_SERVICE but in neither device/systemd nor files/`);
        }
      }
    }
    if (pending.length > 0) {
      this.test!.title += ` (skipped: device/systemd/${pending.join(', ')} is not written yet)`;
      this.skip();
    }
  });

  it('the image class passes only options its scripts accept, and depends on canopy-native', () => {
    const cls = join(LAYER, 'classes/canopy-image.bbclass');
    const cmds = functions(cls).filter((x) => x.name.startsWith('IMAGE_CMD:'));
    assert.deepEqual(cmds.map((x) => x.name).sort(), ['IMAGE_CMD:canopy', 'IMAGE_CMD:canopy-sysroot']);
    for (const fn of cmds) {
      const script = fn.name === 'IMAGE_CMD:canopy' ? 'canopy-prepare-rootfs' : 'canopy-make-sysroot';
      assert.ok(fn.body.includes(script), `${fn.name} does not run ${script}`);
      const text = readFileSync(join(LAYER, 'scripts', script), 'utf8');
      const accepted = new Set([...text.matchAll(/--[a-z0-9-]+(?=[)|\s])/g)].map((m) => m[0]));
      // The script's command line: from its name to the first line without a continuation.
      const lines = fn.body.split('\n');
      const start = lines.findIndex((l) => l.includes(script));
      let end = start;
      while (end < lines.length - 1 && lines[end].trimEnd().endsWith('\\')) end++;
      const call = lines.slice(start, end + 1).join('\n');
      assert.ok(call.includes('--'), `${fn.name}: no options found on the ${script} line`);
      for (const opt of new Set([...call.matchAll(/(?<![\w-])--[a-z0-9-]+/g)].map((m) => m[0]))) {
        assert.ok(accepted.has(opt), `${fn.name} passes ${opt}, which ${script} does not accept`);
      }
      const deps = assignments(cls).find((x) => x.base === `do_image_${fn.name.slice(10).replace('-', '_')}` && x.flag === 'depends');
      assert.ok(deps?.value.includes('canopy-native:do_populate_sysroot'), `${fn.name}: its task does not depend on canopy-native`);
    }
    const native = metadata.find((x) => x.endsWith('canopy-native_0.1.bb'))!;
    const src = assignments(native).find((x) => x.base === 'SRC_URI')!.value;
    for (const script of ['canopy-prepare-rootfs', 'canopy-make-sysroot']) assert.ok(src.includes(`file://${script}`), `canopy-native does not ship ${script}`);
  });

  it('README.md and the layer name the same CANOPY_* variables', () => {
    const readme = readFileSync(join(LAYER, 'README.md'), 'utf8');
    const documented = new Set([...readme.matchAll(/\bCANOPY_[A-Z0-9_]+\b/g)].map((m) => m[0]));
    const used = new Set<string>();
    for (const f of files.filter((x) => METADATA.test(x) || x.endsWith('.wks.in'))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\bCANOPY_[A-Z0-9_]+\b/g)) used.add(m[0]);
    }
    // Only names that are variables: assigned, referenced or read from python somewhere.
    const variables = new Set<string>();
    for (const [, s] of parsed) {
      for (const x of s) {
        if (x.kind === 'assign') {
          variables.add(x.base);
          for (const r of [...references(x.value), ...pythonReads(x.value)]) variables.add(r);
        } else if (x.kind === 'function' || x.kind === 'def') {
          for (const r of [...references(x.body), ...pythonReads(x.body)]) variables.add(r);
        } else if (x.kind === 'include') {
          for (const r of pythonReads(x.path)) variables.add(r);
        }
      }
    }
    for (const f of files.filter((x) => x.endsWith('.wks.in'))) for (const r of references(readFileSync(f, 'utf8'))) variables.add(r);
    const layerVars = [...used].filter((v) => variables.has(v)).sort();
    assert.ok(layerVars.length >= 20, `only ${layerVars.length} CANOPY_* variables found`);
    assert.deepEqual(layerVars.filter((v) => !documented.has(v)), [], 'variables of the layer missing from README.md');
    assert.deepEqual([...documented].filter((v) => !variables.has(v)).sort(), [], 'README.md documents variables the layer does not have');

    // Every variable in README's table is used by the layer (CANOPY_* or not).
    const table = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.ok(table.length >= 20);
    for (const v of table) assert.ok(variables.has(v), `README.md's table documents ${v}, which no layer file uses`);
  });

  it('weak defaults of CANOPY_* variables are set once, so a board overrides them in one place', () => {
    const seen = new Map<string, string>();
    for (const [f, s] of parsed) {
      for (const x of s) {
        if (x.kind !== 'assign' || !x.base.startsWith('CANOPY_') || x.overrides.length > 0 || x.flag) continue;
        if (x.op !== '?=' && x.op !== '??=') continue;
        const prev = seen.get(x.base);
        if (prev !== undefined && x.base !== 'CANOPY_BOOTLOADER') assert.fail(`${x.base} has a default in ${prev} and in ${rel(f)}`);
        if (x.base === 'CANOPY_BOOTLOADER') assert.equal(x.op, '??=', `${rel(f)}: CANOPY_BOOTLOADER's defaults must all be ??= so they agree`);
        seen.set(x.base, rel(f));
      }
    }
    assert.ok(seen.size >= 15);
  });

  it('scripts are executable POSIX sh', () => {
    for (const f of files.filter((x) => x.includes('/scripts/'))) {
      assert.ok((statSync(f).mode & 0o111) !== 0, `${rel(f)} is not executable`);
      assert.match(readFileSync(f, 'utf8'), /^#!\/bin\/sh\n/, `${rel(f)} does not start with #!/bin/sh`);
    }
  });
});
