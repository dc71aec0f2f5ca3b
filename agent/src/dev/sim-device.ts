/**
 * A simulated device for the fleet demo (and tests that run the operator's
 * bundle): a real sysroot in a directory, a boot-loader env (U-Boot,
 * redundant), health checks, and the real agent (`canopy-agent run`) as a
 * separate process, with reboots simulated through the boot contract
 * (agent/src/agent/simulate-boot.ts). Adapted from the end-to-end test
 * harness (test/helpers/sim-device.ts) so that `dist/canopy.cjs` can run it.
 *
 * Provisioning pulls the first release (verified) from the fleet's
 * repository, deploys it and boots once. `start()` runs the agent; when it
 * asks for a reboot (exit status SIMULATED_REBOOT_EXIT), the device boots
 * and the agent starts again, until `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSimulatedEnv, SIMULATED_REBOOT_EXIT, simulateBoot, syncRemote, type SimulatedEnv } from '../agent/index';
import { pull } from '../pull/index';
import { Repo } from '../repo/index';
import { deploy, initFs, osInit } from '../sysroot/index';

const STATEROOT = 'demo';

export interface SimDeviceSpec {
  /** The device's own directory (created). */
  dir: string;
  id: string;
  fleet: string;
  channel: string;
  tags?: string[];
  /** The fleet's repository URL and the ref devices follow. */
  repoUrl: string;
  ref: string;
  /** OSTree-format public key files: commits, and announcements/commands. */
  commitKeyFile: string;
  messageKeyFile: string;
  brokerUrl: string;
  /** The first release. */
  commit: string;
  /** The built device agent (`canopy-agent.cjs`). */
  agentBundle: string;
  /** required.d checks: name -> shell script body. */
  checks: Record<string, string>;
}

/** A check that fails when the booted deployment carries `relPath`. */
export function failsWhenPresent(relPath: string, message: string): string {
  return `if [ -e "$CANOPY_DEPLOYMENT/${relPath}" ]; then echo "${message}"; exit 1; fi\necho "ok"\nexit 0\n`;
}

export class SimDevice {
  readonly spec: SimDeviceSpec;
  readonly sysroot: string;
  readonly env: SimulatedEnv;
  /** The agent's log lines (JSON text), across restarts; the last 500. */
  readonly logs: string[] = [];
  #child: ChildProcess | undefined;
  #stopping = false;
  #exited: Promise<void> = Promise.resolve();
  /** Simulated reboots so far. */
  reboots = 0;

  private constructor(spec: SimDeviceSpec, env: SimulatedEnv) {
    this.spec = spec;
    this.sysroot = join(spec.dir, 'sysroot');
    this.env = env;
  }

  get paths(): { cmdline: string; bootId: string; runDir: string; config: string; state: string; health: string } {
    const d = this.spec.dir;
    return {
      cmdline: join(d, 'proc/cmdline'), bootId: join(d, 'proc/boot_id'), runDir: join(this.sysroot, 'run'), config: join(d, 'config'),
      state: join(d, 'state'), health: join(d, 'health'),
    };
  }

  /** Makes the sysroot, env, configuration and checks; installs and boots the first release. */
  static async provision(spec: SimDeviceSpec): Promise<SimDevice> {
    const sysroot = join(spec.dir, 'sysroot');
    mkdirSync(sysroot, { recursive: true });
    // Without root a bare repository cannot keep file owners: use bare-user-only.
    if (process.getuid?.() !== 0) Repo.init(join(sysroot, 'ostree/repo'), { mode: 'bare-user-only' });
    initFs(sysroot);
    osInit(sysroot, STATEROOT);
    mkdirSync(join(sysroot, 'boot/loader.0'), { recursive: true });
    symlinkSync('loader.0', join(sysroot, 'boot/loader'));
    writeFileSync(join(sysroot, 'boot/loader/uEnv.txt'), '');
    symlinkSync('loader/uEnv.txt', join(sysroot, 'boot/uEnv.txt'));
    const env = await createSimulatedEnv('uboot', join(spec.dir, 'bootenv'));
    const dev = new SimDevice(spec, env);
    dev.#writeConfig();
    dev.#writeChecks();
    const repo = Repo.open(join(sysroot, 'ostree/repo'));
    syncRemote(repo, { name: 'canopy', url: spec.repoUrl, ref: spec.ref, keys: { ed25519: [spec.commitKeyFile], ed25519Revoked: [], openpgp: [] }, tls: {} });
    await pull(repo, 'canopy', [`${spec.ref}@${spec.commit}`]);
    await deploy(sysroot, spec.commit, { stateroot: STATEROOT, origin: `canopy:${spec.ref}`, runDir: dev.paths.runDir });
    await dev.#boot();
    return dev;
  }

  #writeConfig(): void {
    const s = this.spec;
    const p = this.paths;
    const fragment = {
      device: { id: s.id, fleet: s.fleet, channel: s.channel, ...(s.tags ? { tags: s.tags } : {}) },
      remote: { name: 'canopy', url: s.repoUrl, ref: s.ref, keys: { ed25519: [s.commitKeyFile] } },
      messages: { keys: { ed25519: [s.messageKeyFile] } },
      mqtt: { url: s.brokerUrl, keepaliveSec: 5, backoff: { initialSec: 0.2, maxSec: 1 }, pollFallbackAfterSec: 30 },
      poll: { intervalSec: 60, jitterSec: 0 },
      reboot: { policy: 'immediate' },
      health: { tries: 1, defaults: { timeoutSec: 20 } },
      paths: { sysroot: this.sysroot, stateDir: p.state, healthDirs: [p.health] },
      logLevel: 'info',
    };
    mkdirSync(join(p.config, 'config.d'), { recursive: true });
    writeFileSync(join(p.config, 'config.d/50-demo.json'), `${JSON.stringify(fragment, null, 2)}\n`);
  }

  #writeChecks(): void {
    const dir = join(this.paths.health, 'required.d');
    mkdirSync(dir, { recursive: true });
    for (const [name, body] of Object.entries(this.spec.checks)) {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}`);
      chmodSync(join(dir, name), 0o755);
    }
  }

  async #boot(): Promise<void> {
    const p = this.paths;
    await simulateBoot({
      sysroot: this.sysroot, loader: this.env.loader, fwEnvConfig: this.env.fwEnvConfig, grubenv: this.env.grubenv,
      cmdlineFile: p.cmdline, bootIdFile: p.bootId, runDir: p.runDir,
    });
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the agent (and keeps restarting it after each simulated reboot). */
  start(): void {
    if (this.#child) return;
    this.#stopping = false;
    const p = this.paths;
    const args = [
      this.spec.agentBundle, 'run', `--config-root=${p.config}`, `--sysroot=${this.sysroot}`, `--cmdline-file=${p.cmdline}`,
      `--boot-id-file=${p.bootId}`, `--run-dir=${p.runDir}`, '--simulate-reboot', `--fw-env-config=${this.env.fwEnvConfig}`,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } });
    this.#child = child;
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.logs.push(buf.slice(0, i));
        if (this.logs.length > 500) this.logs.shift();
        buf = buf.slice(i + 1);
      }
    });
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code) => {
        this.#child = undefined;
        resolve();
        if (code === SIMULATED_REBOOT_EXIT && !this.#stopping) {
          this.reboots++;
          void this.#boot().then(() => {
            if (!this.#stopping) this.start();
          }, (e) => this.logs.push(JSON.stringify({ level: 'error', msg: `simulated boot failed: ${(e as Error).message}` })));
        }
      });
    });
  }

  /** Stops the agent: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stopping = true;
    const c = this.#child;
    if (!c) return;
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(t);
  }

  /** SIGKILL now, synchronously (for process exit handlers). */
  killNow(): void {
    this.#stopping = true;
    this.#child?.kill('SIGKILL');
  }

  /** The last log lines, for a failure message. */
  tail(n: number): string {
    return this.logs.slice(-n).join('\n');
  }
}

/** Removes a directory of simulated devices (clearing the immutable bit ostree puts on deployment roots). */
export function removeDeviceDirs(dir: string): void {
  if (!existsSync(dir)) return;
  const walk = (p: string, depth: number): void => {
    if (depth > 8) return;
    let entries;
    try {
      entries = readdirSync(p, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const c = join(p, e.name);
      if (/^[0-9a-f]{64}\.[0-9]+$/.test(e.name)) spawnChattr(c);
      else walk(c, depth + 1);
    }
  };
  walk(dir, 0);
  rmSync(dir, { recursive: true, force: true });
}

/** chattr -i; when chattr is missing or not permitted, rmSync reports what it cannot remove. */
function spawnChattr(path: string): void {
  spawnSync('chattr', ['-i', path], { stdio: 'ignore' });
}

/** The agent's saved phase and running commit, for displays. */
export function agentPhase(dev: SimDevice): { phase?: string; running?: string } {
  try {
    const s = JSON.parse(readFileSync(join(dev.paths.state, 'agent-state.json'), 'utf8')) as { phase?: { name?: string }; running?: { commit?: string } };
    return { phase: s.phase?.name, running: s.running?.commit };
  } catch {
    return {};
  }
}
