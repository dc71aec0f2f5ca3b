import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isCanopyError } from '../../../agent/src/core/errors';
import {
  BOOT_CONTRACT_VERSION, GRUB_VAR, TRIES_DEFAULT, TRIES_MAX, TRIES_MIN, UBOOT_VAR, contractVariables,
  describeBootState, detectFallback, finishRollback, grubBoot, markBad, markGood, stageUpdate, ubootBoot,
  ubootCount, ubootLimit, type BootEnv, type LoaderKind,
} from '../../../agent/src/bootloader/contract';
import { parseContractVectors, simulateVector, vectorApplies } from '../../../agent/src/bootloader/contract-vectors';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const contract = JSON.parse(readFileSync(join(ROOT, 'bootloader', 'contract.json'), 'utf8'));
const vectors = parseContractVectors(contract.vectors);
const LOADERS: LoaderKind[] = ['uboot', 'grub'];

describe('bootloader/contract: names and defaults agree with bootloader/contract.json', () => {
  it('has the same version, budget and variable names', () => {
    assert.equal(contract.version, BOOT_CONTRACT_VERSION);
    assert.deepEqual(contract.tries, { default: TRIES_DEFAULT, min: TRIES_MIN, max: TRIES_MAX });
    assert.deepEqual(Object.keys(contract.uboot.variables).sort(), [...contractVariables('uboot')].sort());
    assert.deepEqual(Object.keys(contract.grub.variables).sort(), [...contractVariables('grub')].sort());
    assert.equal(contract.uboot.variables.bootlimit.default, String(TRIES_DEFAULT));
  });

  it('the boot scripts use exactly the declared names', () => {
    const bootCmd = readFileSync(join(ROOT, 'uboot', 'boot.cmd'), 'utf8');
    const canopyCfg = readFileSync(join(ROOT, 'grub', 'canopy.cfg'), 'utf8');
    // the script imports and exports the contract variables as one list
    const list = /^canopy_vars="([^"]*)"$/m.exec(bootCmd);
    assert.ok(list, 'boot.cmd defines canopy_vars');
    assert.deepEqual(list[1].split(' '), [...contractVariables('uboot')]);
    for (const name of Object.keys(contract.uboot.board)) assert.match(bootCmd, new RegExp(`\\$\\{${name}\\}`), `boot.cmd reads ${name}`);
    for (const name of [GRUB_VAR.counter, GRUB_VAR.success]) assert.match(canopyCfg, new RegExp(`save_env -f "\\$\\{canopy_env\\}" .*${name}`));
    assert.match(canopyCfg, /grubenv\.redund/);
    assert.match(canopyCfg, /grub-entries\.cfg/);
  });

  it('every vector checks only contract variables and covers both loaders unless restricted', () => {
    assert.ok(vectors.length >= 8);
    for (const v of vectors) {
      for (const kind of LOADERS) {
        if (!vectorApplies(v, kind)) continue;
        const names = new Set(contractVariables(kind));
        for (const env of [v.env[kind] ?? {}, v.final[kind] ?? {}]) {
          for (const name of Object.keys(env)) assert.ok(names.has(name), `${v.name}: ${name} is not a ${kind} contract variable`);
        }
        assert.ok(v.final[kind], `${v.name}: no final ${kind} env`);
      }
    }
  });
});

describe('bootloader/contract: the model against the vectors', () => {
  for (const vector of vectors) {
    for (const kind of LOADERS) {
      if (!vectorApplies(vector, kind)) continue;
      it(`${vector.name} (${kind})`, () => {
        const sim = simulateVector(vector, kind);
        sim.steps.forEach((out, i) => {
          const where = `${vector.name} step ${i + 1} (${out.step.do})`;
          const step = out.step;
          if (step.do === 'boot') {
            assert.equal(out.booted, step.expect, `${where}: booted`);
            for (const [name, value] of Object.entries(step.env?.[kind] ?? {})) {
              assert.equal(out.env[name], value, `${where}: ${name}`);
            }
          }
          if (step.do === 'detect') assert.deepEqual(out.verdict, step.expect, `${where}: verdict`);
          if ('expectError' in step && step.expectError) assert.equal(out.error, step.expectError, `${where}: error`);
        });
        assert.deepEqual(sim.final.entries, vector.final.entries, 'final entries');
        assert.deepEqual(sim.final.env, vector.final[kind], 'final env');
      });
    }
  }
});

describe('bootloader/contract: U-Boot boot logic', () => {
  const two = { entries: 2 };
  it('boots entry 0 without writing when no trial and no fallback is recorded', () => {
    for (const env of [{}, { upgrade_available: '0' }, { upgrade_available: 'yes' }, { bootcount: '7' }] as BootEnv[]) {
      assert.deepEqual(ubootBoot(env, two), { entry: 0, preferred: 0, env, saved: false });
    }
  });

  it('spends exactly bootlimit tries, then falls back and stops counting', () => {
    let env: BootEnv = stageUpdate('uboot', {}, { tries: 3 });
    const entries: Array<number | null> = [];
    for (let i = 0; i < 6; i++) {
      const r = ubootBoot(env, two);
      entries.push(r.entry);
      env = r.env;
    }
    assert.deepEqual(entries, [0, 0, 0, 1, 1, 1]);
    assert.deepEqual(env, { upgrade_available: '0', bootcount: '4', bootlimit: '3', canopy_fallback: '1' });
  });

  it('reads a missing or invalid bootlimit as 3 and a bootcount outside 0..limit as spent', () => {
    for (const bad of [undefined, '', '0', '9', '10', 'a', ' 3', '03']) {
      assert.equal(ubootLimit(bad === undefined ? {} : { bootlimit: bad }), 3, String(bad));
    }
    assert.equal(ubootCount({ bootcount: '2', bootlimit: '2' }), 2);
    for (const bad of [undefined, '3', '9', 'a', '-1', '01', '1 ']) {
      const env: BootEnv = bad === undefined ? { bootlimit: '2' } : { bootlimit: '2', bootcount: bad };
      assert.equal(ubootCount(env), 2, String(bad));
      const r = ubootBoot({ ...env, upgrade_available: '1' }, two);
      assert.equal(r.entry, 1, `bootcount ${String(bad)} must fall back`);
      assert.equal(r.env.bootcount, '3');
    }
  });

  it('keeps every counter a single decimal digit for any stored values', () => {
    fc.assert(fc.property(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), (bootcount, bootlimit) => {
      const r = ubootBoot({ upgrade_available: '1', bootcount, bootlimit }, two);
      assert.match(r.env.bootcount, /^[1-9]$/);
    }));
  });

  it('does not try the unconfirmed deployment when the env cannot be saved', () => {
    const env = stageUpdate('uboot', {}, { tries: 2 });
    assert.deepEqual(ubootBoot(env, { entries: 2, saveFails: true }), { entry: 1, preferred: 1, env, saved: false });
    // with a single entry there is nothing else to boot
    assert.equal(ubootBoot(env, { entries: 1, saveFails: true }).entry, 0);
  });

  it('skips an entry that cannot be loaded, and reports null when none can', () => {
    assert.equal(ubootBoot({}, { entries: 2, loadable: [false, true] }).entry, 1);
    assert.equal(ubootBoot({ canopy_fallback: '1' }, { entries: 2, loadable: [true, false] }).entry, 0);
    assert.equal(ubootBoot({}, { entries: 2, loadable: [false, false] }).entry, null);
    assert.equal(ubootBoot({}, { entries: 1, loadable: [false] }).entry, null);
  });
});

describe('bootloader/contract: GRUB boot logic (greenboot semantics)', () => {
  const two = { entries: 2 };
  it('counts down from the budget, falls back at 0 and stays at -1', () => {
    let env: BootEnv = stageUpdate('grub', {}, { tries: 2 });
    const seen: Array<[number | null, string | undefined]> = [];
    for (let i = 0; i < 4; i++) {
      const r = grubBoot(env, two);
      env = r.env;
      seen.push([r.entry, env.boot_counter]);
    }
    assert.deepEqual(seen, [[0, '1'], [0, '0'], [1, '-1'], [1, '-1']]);
  });

  it('does not count after a confirmed boot, and resets boot_success at every boot', () => {
    const r = grubBoot({ boot_counter: '2', boot_success: '1' }, two);
    assert.deepEqual(r, { entry: 0, preferred: 0, env: { boot_counter: '2', boot_success: '0' }, saved: true });
    const quiet = grubBoot({ boot_success: '0' }, two);
    assert.equal(quiet.saved, false);
  });

  it('keeps a recorded fallback even when boot_success says 1 (safer than greenboot)', () => {
    assert.equal(grubBoot({ boot_counter: '-1', boot_success: '1' }, two).entry, 1);
  });

  it('treats counter values it cannot count down as spent', () => {
    for (const c of ['0', '10', 'x', '-2', ' 1']) {
      const r = grubBoot({ boot_counter: c, boot_success: '0' }, two);
      assert.deepEqual([r.entry, r.env.boot_counter], [1, '-1'], c);
    }
    assert.equal(grubBoot({ boot_counter: '', boot_success: '0' }, two).entry, 0);
  });

  it('boots entry 0 when the only entry is asked to fall back', () => {
    assert.equal(grubBoot({ boot_counter: '0' }, { entries: 1 }).entry, 0);
  });
});

describe('bootloader/contract: agent actions', () => {
  it('stage clears earlier markers and checks the budget', () => {
    assert.deepEqual(stageUpdate('uboot', { bootlimit: '5', canopy_failed: '1', other: 'x' }),
      { other: 'x', upgrade_available: '1', bootcount: '0', bootlimit: String(TRIES_DEFAULT) });
    assert.deepEqual(stageUpdate('grub', { canopy_failed: '1', saved_entry: 'x' }, { tries: 8 }),
      { saved_entry: 'x', boot_counter: '8', boot_success: '0' });
    for (const tries of [0, 9, 1.5, Number.NaN]) {
      assert.throws(() => stageUpdate('uboot', {}, { tries }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    }
  });

  it('refuses to stage or mark good while a fallback is recorded, and to mark bad without a trial', () => {
    const refused = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => isCanopyError(e, 'ERR_BOOT_STATE'));
    refused(() => stageUpdate('uboot', { canopy_fallback: '1' }));
    refused(() => markGood('uboot', { canopy_fallback: '1' }));
    refused(() => stageUpdate('grub', { boot_counter: '-1' }));
    refused(() => markGood('grub', { boot_counter: '-1' }));
    refused(() => markBad('uboot', { upgrade_available: '0' }));
    refused(() => markBad('uboot', { upgrade_available: '1', canopy_fallback: '1' }));
    refused(() => markBad('grub', {}));
    refused(() => markBad('grub', { boot_counter: '2', boot_success: '1' }));
  });

  it('mark-bad makes the very next boot fall back, whatever was spent', () => {
    for (const kind of LOADERS) {
      for (let spent = 0; spent < 3; spent++) {
        let env = stageUpdate(kind, {}, { tries: 3 });
        for (let i = 0; i < spent; i++) env = (kind === 'uboot' ? ubootBoot : grubBoot)(env, { entries: 2 }).env;
        const r = (kind === 'uboot' ? ubootBoot : grubBoot)(markBad(kind, env), { entries: 2 });
        assert.equal(r.entry, 1, `${kind} after ${spent} boots`);
        assert.deepEqual(detectFallback(kind, r.env, 1), { fellBack: true, reason: 'health-check' });
      }
    }
  });

  it('finish-rollback clears every marker and is idempotent', () => {
    assert.deepEqual(finishRollback('uboot', { upgrade_available: '0', bootcount: '4', bootlimit: '3', canopy_fallback: '1', canopy_failed: '1' }),
      { upgrade_available: '0', bootcount: '0', bootlimit: '3' });
    assert.deepEqual(finishRollback('grub', { boot_counter: '-1', boot_success: '0', canopy_failed: '1' }), { boot_success: '0' });
    assert.deepEqual(finishRollback('grub', { boot_success: '0' }), { boot_success: '0' });
  });

  it('describes the state for reports', () => {
    assert.deepEqual(describeBootState('uboot', { upgrade_available: '1', bootcount: '1', bootlimit: '3' }),
      { trial: true, fallback: false, healthFailed: false, triesLeft: 2 });
    assert.deepEqual(describeBootState('grub', { boot_counter: '-1', canopy_failed: '1' }),
      { trial: false, fallback: true, healthFailed: true });
    assert.deepEqual(describeBootState('grub', { boot_counter: '2', boot_success: '0' }),
      { trial: true, fallback: false, healthFailed: false, triesLeft: 2 });
    assert.equal(UBOOT_VAR.fallback, 'canopy_fallback');
    assert.equal(GRUB_VAR.counter, 'boot_counter');
  });
});

describe('bootloader/contract-vectors: parseContractVectors', () => {
  it('names the vector and step of a malformed entry', () => {
    const base = { name: 'v', entries: ['A'], env: {}, steps: [], final: { entries: ['A'] } };
    const bad: Array<[unknown, RegExp]> = [
      [{}, /vectors must be an array/],
      [[{ ...base, name: 3 }], /needs a "name"/],
      [[{ ...base, entries: [] }], /"entries"/],
      [[{ ...base, steps: [{ do: 'reboot' }] }], /"v" step 1: unknown step "reboot"/],
      [[{ ...base, steps: [{ do: 'boot' }] }], /boot needs "expect"/],
      [[{ ...base, steps: [{ do: 'markGood', tries: 2 }] }], /"markGood" has no field "tries"/],
      [[{ ...base, steps: [{ do: 'stage', deployment: 'B', powerCut: 'later' }] }], /"powerCut"/],
      [[{ ...base, loaders: ['lilo'] }], /"loaders"/],
      [[{ ...base, env: { uboot: { a: 1 } } }], /"env"/],
    ];
    for (const [raw, re] of bad) {
      assert.throws(() => parseContractVectors(Array.isArray(raw) ? raw : raw), (e: unknown) => {
        assert.ok(isCanopyError(e, 'ERR_CONFIG_INVALID'), String(e));
        assert.match((e as Error).message, re);
        return true;
      });
    }
  });
});
