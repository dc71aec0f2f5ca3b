/**
 * Runs a contract vector (bootloader/contract.json) on a real boot loader: the agent
 * steps go through the real backends and entry writers, each boot through U-Boot under
 * QEMU or grub-emu, and every boot reads what the previous boot and the agent wrote.
 * The same vectors drive the pure model in test/unit/bootloader/contract.test.ts.
 */
import assert from 'node:assert/strict';
import { isCanopyError } from '../../../agent/src/core/errors';
import type { BootloaderBackend } from '../../../agent/src/bootloader/backend';
import { detectFallback, type BootEnv, type EntryIndex, type LoaderKind } from '../../../agent/src/bootloader/contract';
import type { ContractVector } from '../../../agent/src/bootloader/contract-vectors';

/** What one real boot did. */
export interface BootRecord {
  /** The deployment whose kernel started, or null. */
  deployment: string | null;
  /** The console output, for failure messages. */
  log: string;
}

/** A real boot loader with its storage, as the runner drives it. */
export interface Machine {
  kind: LoaderKind;
  /** Writes the vector's starting env and entries. */
  setup(vector: ContractVector): Promise<void>;
  /** The agent's backend over the machine's env storage. */
  backend: BootloaderBackend;
  /** A backend whose next env write is cut off part-way, as by a power cut. */
  tornBackend(): BootloaderBackend;
  /** Writes the entries (deployment ids, default first) with a loader swap. */
  writeEntries(ids: string[]): Promise<void>;
  /** Boots once; `unloadable` deployments have their kernel missing for this boot. */
  boot(unloadable: string[]): Promise<BootRecord>;
  /** Destroys the first sector of the env copy the boot loader would read. */
  corruptEnv(): Promise<void>;
}

/** Options of {@link runVector}. */
export interface RunOptions {
  /** Skip the final env check (the machine's storage is known to be unreadable then). */
  skipFinalEnv?: boolean;
  /** Called after each boot with its record, e.g. to collect timings. */
  onBoot?: (record: BootRecord) => void;
}

async function expectPowerCut(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, /power cut/);
}

async function expectCode(p: Promise<unknown>, code: string | undefined): Promise<void> {
  if (!code) {
    await p;
    return;
  }
  await assert.rejects(p, (e: unknown) => isCanopyError(e) && e.code === code);
}

function checkEnv(where: string, actual: BootEnv, expected: BootEnv | undefined, exact: boolean): void {
  if (!expected) return;
  if (exact) {
    assert.deepEqual(actual, expected, `${where}: env`);
    return;
  }
  for (const [name, value] of Object.entries(expected)) assert.equal(actual[name], value, `${where}: ${name}`);
}

/** Runs `vector` on `machine`, asserting every expectation it states. */
export async function runVector(vector: ContractVector, machine: Machine, options: RunOptions = {}): Promise<void> {
  const kind = machine.kind;
  await machine.setup(vector);
  let entries = [...vector.entries];
  let booted: EntryIndex | null = null;
  for (const [i, step] of vector.steps.entries()) {
    const where = `${vector.name} (${kind}) step ${i + 1} ${step.do}`;
    switch (step.do) {
      case 'boot': {
        const record = await machine.boot(step.unloadable ?? []);
        options.onBoot?.(record);
        assert.equal(record.deployment, step.expect, `${where}: booted ${record.deployment}, expected ${step.expect}\n${record.log}`);
        const index = record.deployment === null ? -1 : entries.indexOf(record.deployment);
        booted = index === 0 || index === 1 ? index : null;
        if (step.env?.[kind]) checkEnv(where, (await machine.backend.readState()).env, step.env[kind], false);
        break;
      }
      case 'stage': {
        const backend = step.powerCut === 'env' ? machine.tornBackend() : machine.backend;
        const staging = backend.stageTrial({ tries: step.tries });
        if (step.powerCut === 'env') {
          await expectPowerCut(staging);
          break;
        }
        await expectCode(staging, step.expectError);
        if (step.expectError || step.powerCut === 'entries') break;
        entries = [step.deployment, entries[booted ?? 0]];
        await machine.writeEntries(entries);
        booted = 1;
        break;
      }
      case 'markGood':
      case 'markBad': {
        const backend = step.powerCut === 'env' ? machine.tornBackend() : machine.backend;
        const done = step.do === 'markGood' ? backend.markGood() : backend.markBad();
        if (step.powerCut === 'env') await expectPowerCut(done);
        else await expectCode(done, step.expectError);
        break;
      }
      case 'finishRollback': {
        if (step.powerCut === 'entries') break;
        entries = [entries[booted ?? 0]];
        await machine.writeEntries(entries);
        booted = 0;
        if (step.powerCut === 'env') await expectPowerCut(machine.tornBackend().finishRollback());
        else await machine.backend.finishRollback();
        break;
      }
      case 'detect': {
        assert.notEqual(booted, null, `${where}: nothing booted`);
        const state = await machine.backend.readState();
        assert.deepEqual(detectFallback(kind, state.env, booted as EntryIndex), step.expect, where);
        break;
      }
      case 'corruptEnv':
        await machine.corruptEnv();
        break;
    }
  }
  assert.deepEqual(entries, vector.final.entries, `${vector.name} (${kind}): final entries`);
  if (!options.skipFinalEnv) checkEnv(`${vector.name} (${kind}) final`, (await machine.backend.readState()).env, vector.final[kind], true);
}
