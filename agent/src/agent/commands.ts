/**
 * The command lines of `canopy-agent run` (the daemon) and
 * `canopy-agent simulate-boot` (one simulated boot of a sysroot, for tests
 * and demos). agent-main.ts dispatches to them; they parse with
 * `util.parseArgs` and return an exit status.
 */
import { spawn } from 'node:child_process';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CanopyError, isCanopyError } from '../core/errors';
import { startDaemon, type DaemonHandle } from './daemon';
import { PHASE_NAMES, type PhaseName } from './states';
import { simulateBoot } from './simulate-boot';

/** What the commands need of the process. */
export interface CommandIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** Exit status of `run --simulate-reboot` when the agent asks for a reboot: the harness boots the simulated device and starts the agent again. */
export const SIMULATED_REBOOT_EXIT = 10;

export const RUN_HELP = `Usage: canopy-agent run [OPTION…]

The update daemon: follows signed announcements and commands over MQTT (polling the
repository's summary while the broker is unreachable), pulls and verifies updates, deploys
them on trial, reboots under the reboot policy, runs the health checks and confirms or
rolls back, and reports its state and events. Logs one JSON object per line on stderr.

Options:
  --config-root=DIR      A directory holding config.d (repeatable, lowest precedence first;
                         default /usr/lib/canopy, /etc/canopy, /run/canopy)
  --sysroot=DIR          The sysroot (default: the configuration's paths.sysroot, /)
  --once                 No MQTT: resume, poll the summary once, act on it until nothing
                         runs, exit (1 when the update failed)
  --staged               Deploy with --stage (finalized at shutdown) instead of at once
  --bootloader=NAME      auto, uboot, grub or none (default: the repository's
                         sysroot.bootloader, else detected)
  --fw-env-config=PATH   U-Boot: the fw_env.config (default /etc/fw_env.config)
  --grubenv=PATH         GRUB: the grubenv (default beside the detected grub.cfg)

For simulators and tests:
  --cmdline-file=PATH    The kernel command line (default /proc/cmdline)
  --boot-id-file=PATH    The boot id (default /proc/sys/kernel/random/boot_id)
  --run-dir=DIR          Run-time directory (default /run; <sysroot>/run for another sysroot)
  --simulate-reboot      Exit with status ${SIMULATED_REBOOT_EXIT} instead of rebooting
  --hold-in=PHASE        Stop before the effects of the first state saved in PHASE and wait
                         (to kill the agent there)
`;

export const SIMULATE_BOOT_HELP = `Usage: canopy-agent simulate-boot --sysroot=DIR --cmdline-file=PATH --boot-id-file=PATH
         (--fw-env-config=PATH | --grubenv=PATH) [--run-dir=DIR] [--unloadable=0|1] [--save-fails]

Simulates a shutdown and one boot of a sysroot for tests and demos: finalizes a staged
deployment, empties the run directory, runs the boot contract's boot step (U-Boot script or
GRUB snippet semantics) over the env and the sysroot's entries, and writes the chosen
entry's kernel command line and a new boot id. Prints the result as JSON.
`;

function absolute(io: CommandIo, p: string | undefined): string | undefined {
  return p === undefined ? undefined : isAbsolute(p) ? p : resolve(io.cwd, p);
}

function usage(command: string, message: string): CanopyError {
  return new CanopyError('ERR_USAGE', `${message} (see canopy-agent ${command} --help)`, {});
}

function parse(command: string, args: readonly string[], options: NonNullable<Parameters<typeof parseArgs>[0]>['options']): ReturnType<typeof parseArgs>['values'] {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw usage(command, (e as Error).message.split('\n')[0].replace(/^Unknown option '(.*)'.*$/, 'unknown option $1'));
  }
}

function systemctlReboot(): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('systemctl', ['reboot'], { stdio: 'ignore' });
    child.once('error', (e) => reject(new CanopyError('ERR_EXTERNAL_TOOL', `systemctl reboot: ${e.message}`, { tool: 'systemctl' })));
    child.once('exit', (code) => (code === 0 ? resolvePromise() : reject(new CanopyError('ERR_EXTERNAL_TOOL', `systemctl reboot exited with status ${String(code)}`, { tool: 'systemctl' }))));
  });
}

function errorLine(io: CommandIo, e: unknown): void {
  const code = isCanopyError(e) ? e.code : 'ERR_INTERNAL';
  io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: (e as Error).message, code })}\n`);
}

/** `canopy-agent run`. Resolves with the exit status when the daemon stops. */
export async function runCommand(args: readonly string[], io: CommandIo, agentVersion: string): Promise<number> {
  let v: ReturnType<typeof parseArgs>['values'];
  try {
    v = parse('run', args, {
      'config-root': { type: 'string', multiple: true }, sysroot: { type: 'string' }, once: { type: 'boolean' }, staged: { type: 'boolean' },
      bootloader: { type: 'string' }, 'fw-env-config': { type: 'string' }, grubenv: { type: 'string' }, 'cmdline-file': { type: 'string' },
      'boot-id-file': { type: 'string' }, 'run-dir': { type: 'string' }, 'simulate-reboot': { type: 'boolean' }, 'hold-in': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (v['hold-in'] !== undefined && !PHASE_NAMES.includes(v['hold-in'] as PhaseName)) throw usage('run', `--hold-in: unknown phase ${JSON.stringify(v['hold-in'])} (${PHASE_NAMES.join(', ')})`);
  } catch (e) {
    io.stderr.write(`canopy-agent run: ${(e as Error).message}\n`);
    return 2;
  }
  if (v.help) {
    io.stdout.write(RUN_HELP);
    return 0;
  }
  const s = (k: string): string | undefined => absolute(io, v[k] as string | undefined);
  let handle: DaemonHandle;
  try {
    handle = await startDaemon({
      configRoots: (v['config-root'] as string[] | undefined)?.map((p) => absolute(io, p)!),
      sysroot: s('sysroot'), once: v.once === true, deployMode: v.staged ? 'staged' : 'direct',
      bootloader: v.bootloader as string | undefined, fwEnvConfig: s('fw-env-config'), grubenv: s('grubenv'),
      cmdlineFile: s('cmdline-file'), bootIdFile: s('boot-id-file'), runDir: s('run-dir'), holdIn: v['hold-in'] as PhaseName | undefined,
      env: io.env, writeLog: (line) => void io.stderr.write(line), agentVersion,
      reboot: v['simulate-reboot']
        ? async (_reason, d) => { await d.stop(SIMULATED_REBOOT_EXIT); }
        : async () => { await systemctlReboot(); },
    });
  } catch (e) {
    errorLine(io, e);
    return 1;
  }
  const onSignal = (): void => void handle.stop(0);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const status = await handle.exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  // Whatever a library left open must not keep a stopped daemon alive.
  setTimeout(() => process.exit(status), 2000).unref();
  return status;
}

/** `canopy-agent simulate-boot`. */
export async function simulateBootCommand(args: readonly string[], io: CommandIo): Promise<number> {
  let v: ReturnType<typeof parseArgs>['values'];
  try {
    v = parse('simulate-boot', args, {
      sysroot: { type: 'string' }, 'cmdline-file': { type: 'string' }, 'boot-id-file': { type: 'string' }, 'run-dir': { type: 'string' },
      'fw-env-config': { type: 'string' }, grubenv: { type: 'string' }, unloadable: { type: 'string', multiple: true }, 'save-fails': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (v.help) {
      io.stdout.write(SIMULATE_BOOT_HELP);
      return 0;
    }
    for (const k of ['sysroot', 'cmdline-file', 'boot-id-file']) if (v[k] === undefined) throw usage('simulate-boot', `--${k} is required`);
    if ((v['fw-env-config'] === undefined) === (v.grubenv === undefined)) throw usage('simulate-boot', 'give one of --fw-env-config and --grubenv');
    for (const u of (v.unloadable as string[] | undefined) ?? []) if (u !== '0' && u !== '1') throw usage('simulate-boot', `--unloadable takes 0 or 1, not ${JSON.stringify(u)}`);
  } catch (e) {
    io.stderr.write(`canopy-agent simulate-boot: ${(e as Error).message}\n`);
    return 2;
  }
  const sysroot = absolute(io, v.sysroot as string)!;
  try {
    const r = await simulateBoot({
      sysroot, loader: v.grubenv !== undefined ? 'grub' : 'uboot', fwEnvConfig: absolute(io, v['fw-env-config'] as string | undefined),
      grubenv: absolute(io, v.grubenv as string | undefined), cmdlineFile: absolute(io, v['cmdline-file'] as string)!,
      bootIdFile: absolute(io, v['boot-id-file'] as string)!, runDir: absolute(io, v['run-dir'] as string | undefined) ?? join(sysroot, 'run'),
      unloadable: ((v.unloadable as string[] | undefined) ?? []).map((u) => Number(u) as 0 | 1), saveFails: v['save-fails'] === true,
    });
    io.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return r.entry === null ? 1 : 0;
  } catch (e) {
    io.stderr.write(`canopy-agent simulate-boot: ${(e as Error).message}\n`);
    return 1;
  }
}
