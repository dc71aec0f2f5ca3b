/**
 * The update operations on a device's sysroot, as the runner's ports need
 * them: pull a target (verified by the remote's trust policy, through the
 * static-delta hook when the server has a delta, under the bandwidth cap),
 * deploy it after staging the boot-loader trial (contract order: env
 * first, entries second), discard a deployment that was never booted, roll
 * back, pin, and describe the device for an inventory report. Each is safe
 * to run again after an interruption: a pull resumes from the objects
 * already stored, and a deploy that finds its target already the next
 * boot's default on trial does nothing.
 */
import { join } from 'node:path';
import type { BootloaderBackend } from '../bootloader/index';
import type { AgentConfig } from '../config/index';
import { pull } from '../pull/index';
import { Repo } from '../repo/index';
import { deploy, isPinned, pendingAndRollback, rollback, setPinned, undeploy, type SysrootOptions } from '../sysroot/index';
import { createTransport } from '../transport/index';
import { bootView, bootedHint, type BootSources } from './boot-view';
import { httpDeltaSource } from './delta-source';
import type { Logger } from './logger';
import type { PullProgressReport } from './ports';
import { syncRemote } from './remote-setup';
import type { Target } from './states';
import { throttledClient } from './throttle';
import { collectGarbage } from './memory';

export interface UpdateOpsOptions {
  config: AgentConfig;
  boot: BootSources;
  backend: () => Promise<BootloaderBackend>;
  /** `direct` writes the boot entries now; `staged` leaves that to finalize-staged at shutdown. */
  deployMode: 'direct' | 'staged';
  log: Logger;
}

export class UpdateOps {
  readonly #o: UpdateOpsOptions;

  constructor(o: UpdateOpsOptions) {
    this.#o = o;
  }

  #sysrootOptions(): SysrootOptions {
    return { booted: bootedHint(this.#o.boot), runDir: this.#o.boot.runDir, log: (line) => this.#o.log.debug(line) };
  }

  #repo(): Repo {
    return Repo.open(join(this.#o.boot.sysroot, 'ostree/repo'));
  }

  /** Pulls `target` into the sysroot's repository. Throws the puller's codes. */
  async pull(target: Target, signal: AbortSignal, onProgress: (p: PullProgressReport) => void): Promise<void> {
    const { config, log } = this.#o;
    const repo = this.#repo();
    if (syncRemote(repo, config.remote)) log.info(`remote ${config.remote.name} written to the repository config`, { url: config.remote.url });
    const tls = config.remote.tls;
    const client = throttledClient(createTransport({
      caPath: tls.ca, clientCertPath: tls.cert, clientKeyPath: tls.key, pinnedSpki: tls.pinnedSpki, proxy: config.remote.proxy, connections: 4,
    }), config.bandwidth.maxBytesPerSec);
    // The download's peak should not sit on top of garbage from before it.
    collectGarbage();
    try {
      const r = await pull(repo, config.remote.name, [`${target.ref}@${target.commit}`], {
        signal,
        httpClient: client,
        concurrency: 4,
        // On the device memory counts for more than speed: with a store worker the full pull of a
        // Debian tree peaked at 164 MiB, without it at 105 MiB (bench/agent-footprint.ts).
        storeWorkers: 0,
        retries: 3,
        allowDowngrade: target.allowDowngrade === true,
        deltaSource: httpDeltaSource(repo, (s) => log.info(`static delta ${s.name} applied`, { ...s })),
        onProgress: (p) => onProgress({ phase: p.phase, bytes: p.bytes, objectsDone: p.objectsDone, objectsTotal: p.objectsTotal }),
      });
      onProgress({ phase: 'finishing', bytes: r.bytesTransferred, objectsDone: r.objectsWritten, objectsTotal: r.objectsWritten });
      log.info(`pulled ${target.commit}`, {
        verified: r.verified, deltas: r.deltas.length, bytes: r.bytesTransferred, requests: r.requests, objects: r.objectsWritten, ms: r.durationMs,
      });
    } finally {
      await client.close().catch(() => undefined);
      collectGarbage();
    }
  }

  /** Stages the trial and deploys `target`, unless that already happened. */
  async deploy(target: Target): Promise<void> {
    const { config, boot, log, deployMode } = this.#o;
    const view = bootView(boot);
    const backend = await this.#o.backend();
    const onTrial = async (): Promise<boolean> => backend.name === 'none' || (await backend.readState()).summary.trial;
    const first = view.entries[0];
    const deployedDirect = first !== undefined && first.csum === target.commit && first.csum !== view.booted?.csum;
    const deployedStaged = view.state.staged?.csum === target.commit;
    if ((deployMode === 'direct' && deployedDirect) || (deployMode === 'staged' && deployedStaged)) {
      if (!(await onTrial())) await backend.stageTrial({ tries: config.health.tries });
      log.info(`${target.commit} is already deployed${deployedStaged ? ' (staged)' : ''}; trial set`);
      return;
    }
    await backend.stageTrial({ tries: config.health.tries });
    const stateroot = view.booted?.stateroot ?? view.entries[0]?.stateroot;
    const r = await deploy(boot.sysroot, target.commit, {
      ...this.#sysrootOptions(), stateroot, origin: `${config.remote.name}:${target.ref}`, stage: deployMode === 'staged',
    });
    log.info(`deployed ${target.commit}${r.staged ? ' (staged: finalized at shutdown)' : ''}`, { serial: r.deployment.serial });
  }

  /** Removes the never-booted deployment of `commit` and ends the trial it was given. */
  async discardPending(commit: string): Promise<void> {
    const view = bootView(this.#o.boot);
    const booted = view.booted;
    const d = view.state.staged?.csum === commit ? view.state.staged
      : view.entries[0] && view.entries[0].csum === commit && view.entries[0].csum !== booted?.csum ? view.entries[0] : undefined;
    if (d) await undeploy(this.#o.boot.sysroot, d.index, this.#sysrootOptions());
    const backend = await this.#o.backend();
    const st = await backend.readState();
    // The running deployment is the default again: end the trial instead of letting it count boots.
    if (st.summary.trial) await backend.markGood();
    this.#o.log.info(d ? `discarded the pending deployment of ${commit}` : `no pending deployment of ${commit} to discard`);
  }

  /** The commit a rollback would return to, or null. */
  previousCommit(): string | null {
    const view = bootView(this.#o.boot);
    return pendingAndRollback(view.state).rollback?.csum ?? null;
  }

  /** Makes the previous deployment the default. Throws ERR_DEPLOYMENT_NOT_FOUND and the sysroot's codes. */
  async rollback(): Promise<{ from: string; to: string }> {
    const view = bootView(this.#o.boot);
    const from = view.booted?.csum ?? view.entries[0]?.csum ?? '';
    const r = await rollback(this.#o.boot.sysroot, this.#sysrootOptions());
    return { from, to: r.deployment.csum };
  }

  /** Pins or unpins the deployment of `commit` (the booted one when several). */
  async pin(commit: string, pinned: boolean): Promise<void> {
    const view = bootView(this.#o.boot);
    const d = view.booted?.csum === commit ? view.booted : view.entries.find((x) => x.csum === commit);
    if (!d) {
      this.#o.log.warn(`no deployment of ${commit} to ${pinned ? 'pin' : 'unpin'}`);
      return;
    }
    await setPinned(this.#o.boot.sysroot, d.index, pinned, this.#sysrootOptions());
  }

  /** The deployments and the boot state, for an inventory event. */
  async inventory(): Promise<Record<string, unknown>> {
    const view = bootView(this.#o.boot);
    const backend = await this.#o.backend();
    const st = await backend.readState();
    return {
      bootloader: st.name,
      bootState: st.summary,
      deployments: view.state.deployments.map((d) => ({
        index: d.index, commit: d.csum, serial: d.serial, stateroot: d.stateroot, booted: d.csum === view.booted?.csum && d.serial === view.booted?.serial,
        staged: d.staged, pinned: isPinned(d),
      })),
    };
  }
}
