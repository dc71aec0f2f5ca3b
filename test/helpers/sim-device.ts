/**
 * A simulated device for end-to-end tests and the operator demo: a real
 * sysroot in a temporary directory, a boot-loader env, and the BUILT agent
 * (`dist/canopy-agent.cjs run`) as its daemon, with reboots simulated.
 *
 * Provisioning (`SimDevice.provision`):
 * - `sysroot/`: init-fs, os-init `simos`, a U-Boot layout (`boot/loader/uEnv.txt`,
 *   so the sysroot writes uEnv.txt and the agent picks the U-Boot backend) or a
 *   GRUB one (`boot/grub/grub.cfg`);
 * - `bootenv/`: a redundant U-Boot env and its `fw_env.config` (or grubenv and
 *   grubenv.redund), see agent/src/agent/simulate-boot.ts;
 * - the first deployment: the given commit pulled (verified) from the fleet's
 *   repository and deployed, then one simulated boot into it;
 * - `config/config.d/50-sim.json`: device id, the fleet's repository and keys,
 *   the broker (or polling only), short timers, paths inside the device dir;
 * - `health/required.d/`: the checks (a passing one by default).
 *
 * Running: `start()` spawns the agent with `--simulate-reboot`; when it asks for
 * a reboot it exits with status SIMULATED_REBOOT_EXIT, and (with `autoReboot`,
 * the default) the device boots (`simulateBoot`: the boot contract's model over
 * the env and the entries, then a fresh boot id and kernel command line) and
 * the agent starts again. `kill()` is a SIGKILL; `powerCut()` is a SIGKILL and a
 * boot. Logs are the agent's JSON lines (`logs`), across restarts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend, createSimulatedEnv, simulateBoot, syncRemote, SIMULATED_REBOOT_EXIT, type AgentState, type SimulatedBoot, type SimulatedEnv } from '../../agent/src/agent/index';
import type { BootloaderState } from '../../agent/src/bootloader/index';
import { pull } from '../../agent/src/pull/index';
import { Repo } from '../../agent/src/repo/index';
import { deploy, initFs, loadSysroot, osInit } from '../../agent/src/sysroot/index';
import type { SimFleet } from './sim-repo';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_BUNDLE = join(ROOT, 'dist/canopy-agent.cjs');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds dist/ (node agent/build.mjs) when the agent bundle is missing or older than the sources. */
export function ensureAgentBuilt(): void {
  if (existsSync(AGENT_BUNDLE) && statSync(AGENT_BUNDLE).mtimeMs >= newest(join(ROOT, 'agent/src'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'agent/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node agent/build.mjs failed: ${r.stderr}`);
}

/** One JSON log line of the agent, with the run it came from (0 = first start). */
export interface LogLine {
  run: number;
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface SimDeviceOptions {
  dir: string;
  id: string;
  fleet: SimFleet;
  /** The commit the device is provisioned with. */
  commit: string;
  /** Omit for a device that only polls. */
  brokerUrl?: string;
  loader?: 'uboot' | 'grub';
  /** required.d checks: name -> shell script body (default one passing check). */
  checks?: Record<string, string>;
  reboot?: { policy: 'immediate' | 'maintenance-window' | 'manual'; window?: unknown };
  /** Merged over the generated configuration fragment. */
  config?: Record<string, unknown>;
  tags?: string[];
}

export interface StartOptions {
  /** `--hold-in`: stop before the effects of the first state saved in this phase (see `holdSticky`). */
  holdIn?: string;
  /** Keep `holdIn` for the restarts after simulated reboots (for phases reached only after a reboot). */
  holdSticky?: boolean;
  once?: boolean;
  staged?: boolean;
  /** Boot and restart after a simulated reboot (default true). */
  autoReboot?: boolean;
  /** Options for node itself, before the bundle (e.g. V8 memory flags). */
  nodeArgs?: string[];
  /** Extra environment of the agent process (e.g. the unit's Environment= settings). */
  env?: Record<string, string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Script bodies for checks. */
export const PASSING_CHECK = 'echo "app is fine"\nexit 0\n';
export const failingCheck = (message: string): string => `echo "${message}"\nexit 1\n`;

export class SimDevice {
  readonly o: SimDeviceOptions;
  readonly sysroot: string;
  readonly env: SimulatedEnv;
  readonly logs: LogLine[] = [];
  readonly boots: SimulatedBoot[] = [];
  /** Exit statuses of the agent runs, in order (null: killed by a signal). */
  readonly exits: Array<number | null> = [];
  #child: ChildProcess | undefined;
  #run = -1;
  #start: StartOptions = {};
  #exited: Promise<void> = Promise.resolve();

  private constructor(o: SimDeviceOptions, env: SimulatedEnv) {
    this.o = o;
    this.sysroot = join(o.dir, 'sysroot');
    this.env = env;
  }

  get paths(): { cmdline: string; bootId: string; runDir: string; config: string; state: string; health: string } {
    const d = this.o.dir;
    return { cmdline: join(d, 'proc/cmdline'), bootId: join(d, 'proc/boot_id'), runDir: join(this.sysroot, 'run'), config: join(d, 'config'), state: join(d, 'state'), health: join(d, 'health') };
  }

  /** Provisions a device (see the module doc) and boots it once. */
  static async provision(o: SimDeviceOptions): Promise<SimDevice> {
    const loader = o.loader ?? 'uboot';
    const sysroot = join(o.dir, 'sysroot');
    mkdirSync(sysroot, { recursive: true });
    if (process.getuid?.() !== 0) Repo.init(join(sysroot, 'ostree/repo'), { mode: 'bare-user-only' });
    initFs(sysroot);
    osInit(sysroot, 'simos');
    if (loader === 'uboot') {
      mkdirSync(join(sysroot, 'boot/loader.0'), { recursive: true });
      symlinkSync('loader.0', join(sysroot, 'boot/loader'));
      writeFileSync(join(sysroot, 'boot/loader/uEnv.txt'), '');
      symlinkSync('loader/uEnv.txt', join(sysroot, 'boot/uEnv.txt'));
    } else {
      mkdirSync(join(sysroot, 'boot/grub'), { recursive: true });
      writeFileSync(join(sysroot, 'boot/grub/grub.cfg'), '# simulated\n');
    }
    const env = await createSimulatedEnv(loader, join(o.dir, 'bootenv'));
    const dev = new SimDevice(o, env);
    dev.#writeConfig();
    dev.setChecks(o.checks ?? { '50-app': PASSING_CHECK });
    const repo = Repo.open(join(sysroot, 'ostree/repo'));
    syncRemote(repo, dev.#remote());
    await pull(repo, 'canopy', [`${o.fleet.ref}@${o.commit}`]);
    await deploy(sysroot, o.commit, { stateroot: 'simos', origin: `canopy:${o.fleet.ref}`, runDir: dev.paths.runDir });
    await dev.boot();
    return dev;
  }

  #remote(): { name: string; url: string; ref: string; keys: { ed25519: string[]; ed25519Revoked: string[]; openpgp: string[] }; tls: Record<string, never> } {
    return { name: 'canopy', url: this.o.fleet.url, ref: this.o.fleet.ref, keys: { ed25519: [this.o.fleet.commitKeyFile], ed25519Revoked: [], openpgp: [] }, tls: {} };
  }

  #writeConfig(): void {
    const o = this.o;
    const p = this.paths;
    const fragment = {
      device: { id: o.id, fleet: o.fleet.fleet, channel: o.fleet.channel, ...(o.tags ? { tags: o.tags } : {}) },
      remote: { name: 'canopy', url: o.fleet.url, ref: o.fleet.ref, keys: { ed25519: [o.fleet.commitKeyFile] } },
      messages: { keys: { ed25519: [o.fleet.messageKeyFile] } },
      mqtt: o.brokerUrl
        ? { url: o.brokerUrl, keepaliveSec: 5, backoff: { initialSec: 0.2, maxSec: 1 }, pollFallbackAfterSec: 2 }
        : { enabled: false },
      poll: { intervalSec: 10, jitterSec: 0 },
      reboot: o.reboot ?? { policy: 'immediate' },
      health: { tries: 2, defaults: { timeoutSec: 20 } },
      paths: { sysroot: this.sysroot, stateDir: p.state, healthDirs: [p.health] },
      logLevel: 'debug',
      ...o.config,
    };
    mkdirSync(join(p.config, 'config.d'), { recursive: true });
    writeFileSync(join(p.config, 'config.d/50-sim.json'), `${JSON.stringify(fragment, null, 2)}\n`);
  }

  /** Replaces the required.d checks. */
  setChecks(checks: Record<string, string>): void {
    const dir = join(this.paths.health, 'required.d');
    mkdirSync(dir, { recursive: true });
    for (const n of readdirSync(dir)) writeFileSync(join(dir, n), '');
    for (const [name, body] of Object.entries(checks)) {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}`);
      chmodSync(join(dir, name), 0o755);
    }
  }

  /** One simulated shutdown and boot (the agent must not be running). */
  async boot(opts: { unloadable?: Array<0 | 1> } = {}): Promise<SimulatedBoot> {
    const p = this.paths;
    const r = await simulateBoot({
      sysroot: this.sysroot, loader: this.env.loader, fwEnvConfig: this.env.fwEnvConfig, grubenv: this.env.grubenv,
      cmdlineFile: p.cmdline, bootIdFile: p.bootId, runDir: p.runDir, unloadable: opts.unloadable,
    });
    this.boots.push(r);
    return r;
  }

  /** The boot-loader state as the agent reads it. */
  async bootState(): Promise<BootloaderState> {
    return (await createBackend(this.sysroot, { fwEnvConfig: this.env.fwEnvConfig, grubenv: this.env.grubenv })).readState();
  }

  /** The agent's process id while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the agent. */
  start(opts: StartOptions = {}): void {
    if (this.#child) throw new Error('the agent is already running');
    if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run node agent/build.mjs`);
    this.#start = opts;
    const p = this.paths;
    const args = [
      ...(opts.nodeArgs ?? []), AGENT_BUNDLE, 'run', `--config-root=${p.config}`, `--sysroot=${this.sysroot}`, `--cmdline-file=${p.cmdline}`, `--boot-id-file=${p.bootId}`,
      `--run-dir=${p.runDir}`, '--simulate-reboot',
      ...(this.env.fwEnvConfig ? [`--fw-env-config=${this.env.fwEnvConfig}`] : [`--grubenv=${this.env.grubenv}`]),
      ...(opts.holdIn ? [`--hold-in=${opts.holdIn}`] : []), ...(opts.once ? ['--once'] : []), ...(opts.staged ? ['--staged'] : []),
    ];
    const run = ++this.#run;
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '', ...opts.env } });
    this.#child = child;
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.logs.push({ run, ...JSON.parse(line) });
        } catch {
          this.logs.push({ run, level: 'raw', msg: line });
        }
      }
    });
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code) => {
        this.#child = undefined;
        this.exits.push(code);
        resolve();
        if (code === SIMULATED_REBOOT_EXIT && (this.#start.autoReboot ?? true)) {
          void this.boot().then(() => this.start({ ...this.#start, holdIn: this.#start.holdSticky ? this.#start.holdIn : undefined }));
        }
      });
    });
  }

  /** Waits for the current agent process to exit. */
  async waitExit(timeoutMs = 60_000): Promise<number | null> {
    const t = Date.now();
    while (this.#child && Date.now() - t < timeoutMs) await Promise.race([this.#exited, sleep(100)]);
    if (this.#child) throw new Error(`the agent did not exit within ${timeoutMs} ms`);
    return this.exits[this.exits.length - 1];
  }

  /** SIGKILL (no boot). */
  async kill(): Promise<void> {
    const c = this.#child;
    if (!c) return;
    const auto = this.#start.autoReboot;
    this.#start = { ...this.#start, autoReboot: false };
    c.kill('SIGKILL');
    await this.#exited;
    this.#start.autoReboot = auto;
  }

  /** SIGTERM: an orderly stop. */
  async stop(): Promise<void> {
    const c = this.#child;
    if (!c) return;
    this.#start = { ...this.#start, autoReboot: false };
    c.kill('SIGTERM');
    await this.#exited;
  }

  /** A power cut: the agent dies, the device boots again, the agent starts. */
  async powerCut(opts: StartOptions = {}): Promise<void> {
    await this.kill();
    await this.boot();
    this.start(opts);
  }

  /** The saved agent state. */
  state(): AgentState | undefined {
    try {
      return JSON.parse(readFileSync(join(this.paths.state, 'agent-state.json'), 'utf8')) as AgentState;
    } catch {
      return undefined;
    }
  }

  /** Waits until `pred` holds (polled), or throws with the last log lines. */
  async waitFor(what: string, pred: () => boolean, timeoutMs = 60_000): Promise<void> {
    const t = Date.now();
    while (!pred()) {
      if (Date.now() - t > timeoutMs) throw new Error(`timed out waiting for ${what}; last agent log lines:\n${this.tail(25)}`);
      await sleep(50);
    }
  }

  /** Waits for the saved state's phase (and optionally the running commit). */
  async waitForPhase(phase: string, opts: { running?: string; timeoutMs?: number } = {}): Promise<AgentState> {
    await this.waitFor(`phase ${phase}${opts.running ? ` running ${opts.running}` : ''}`, () => {
      const s = this.state();
      return s?.phase.name === phase && (opts.running === undefined || s.running?.commit === opts.running);
    }, opts.timeoutMs);
    return this.state()!;
  }

  /** Waits for a log line matching `re` (optionally only from run `run` on). */
  async waitForLog(re: RegExp, opts: { fromRun?: number; timeoutMs?: number } = {}): Promise<LogLine> {
    let found: LogLine | undefined;
    await this.waitFor(`a log line ${re}`, () => {
      found = this.logs.find((l) => l.run >= (opts.fromRun ?? 0) && re.test(l.msg));
      return found !== undefined;
    }, opts.timeoutMs);
    return found!;
  }

  /** The current run number (0 = first start). */
  get run(): number {
    return this.#run;
  }

  /** Deployments the sysroot lists, default first, and the deployment directories on disk. */
  deployments(): { listed: Array<{ commit: string; serial: number }>; dirs: string[] } {
    const s = loadSysroot(this.sysroot, { runDir: this.paths.runDir });
    const dir = join(this.sysroot, 'ostree/deploy/simos/deploy');
    return {
      listed: s.deployments.map((d) => ({ commit: d.csum, serial: d.serial })),
      dirs: existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}\.[0-9]+$/.test(n)).sort() : [],
    };
  }

  /** The last `n` log lines as text. */
  tail(n: number): string {
    return this.logs.slice(-n).map((l) => JSON.stringify(l)).join('\n');
  }

  /** Stops the agent (SIGKILL) if it runs. The caller removes `dir`. */
  async close(): Promise<void> {
    await this.kill();
  }
}
