/**
 * Runs one check program: `spawn(path, [], {env, detached})` (never a shell, never a
 * command line built from input), its output captured with a bound, a timeout that
 * kills its whole process group, and no process left behind.
 *
 * The child leads a new process group (`detached: true`). When its time is up the group
 * gets SIGTERM, and SIGKILL after a grace period. When the leader exits, whatever it
 * left running in its group (a `sleep 100 &`, a stuck helper) gets SIGKILL: a health
 * check must not leave processes behind, and a leftover holding the output pipe open
 * would otherwise hold up the run. A check that must start something lasting should ask
 * systemd to (`systemctl start`, `systemd-run`).
 *
 * The process clock and spawn come in as ports, so tests drive timeouts without waiting.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { OutputTail } from './output-tail';

/** The child as the runner sees it; Node's ChildProcess fits. */
export interface SpawnedProcess {
  readonly pid?: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
}

/** The options the runner always passes. */
export interface SpawnOptions {
  env: Record<string, string>;
  cwd: string;
  detached: true;
  stdio: ['ignore', 'pipe', 'pipe'];
}

/** `child_process.spawn` as the runner uses it. */
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => SpawnedProcess;

/** A process clock: monotonic milliseconds and one-shot timers. */
export interface HealthClock {
  /** Monotonic milliseconds (durations only). */
  now(): number;
  /** Wall-clock milliseconds since the epoch (timestamps in reports). */
  wallNow(): number;
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The process ports. */
export interface ProcessPorts {
  spawn: SpawnFn;
  /** Sends `signal` to the process group `pgid`; a group that is gone is not an error. */
  killGroup(pgid: number, signal: NodeJS.Signals): void;
  clock: HealthClock;
}

/** The real clock. */
export const systemClock: HealthClock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Node's spawn and `process.kill(-pgid)`. */
export const nodeProcessPorts: ProcessPorts = {
  spawn: (command, args, options) => nodeSpawn(command, args, options),
  killGroup: (pgid, signal) => {
    try {
      process.kill(-pgid, signal);
    } catch (e) {
      // ESRCH: the group is gone already. EPERM: a member changed its credentials; nothing more we can do.
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  },
  clock: systemClock,
};

/** Limits of one run. */
export interface RunProcessOptions {
  env: Record<string, string>;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL on a timeout (default 3000). */
  killGraceMs?: number;
  /** Output bytes kept (the tail). */
  outputLimit: number;
  /** How long to wait for the output pipes to close after the group is killed (default 1000). */
  drainMs?: number;
  cwd?: string;
}

/** How one run ended. */
export interface ProcessOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  output: string;
  outputBytes: number;
  outputTruncated: boolean;
  /** Set when the program could not be started (e.g. `spawn ENOEXEC`). */
  spawnError?: string;
}

/** Runs `path` once. Never throws for the program's sake: every ending is an outcome. */
export function runProcess(path: string, options: RunProcessOptions, ports: ProcessPorts): Promise<ProcessOutcome> {
  const { clock } = ports;
  const start = clock.now();
  const tail = new OutputTail(options.outputLimit);
  return new Promise((resolve) => {
    let settled = false;
    let timedOut = false;
    const cancels: Array<() => void> = [];
    const finish = (partial: Pick<ProcessOutcome, 'exitCode' | 'signal'> & { spawnError?: string }): void => {
      if (settled) return;
      settled = true;
      for (const c of cancels) c();
      resolve({
        ...partial, timedOut, durationMs: Math.max(0, clock.now() - start),
        output: tail.text(), outputBytes: tail.totalBytes, outputTruncated: tail.truncated,
      });
    };
    let child: SpawnedProcess;
    try {
      child = ports.spawn(path, [], { env: options.env, cwd: options.cwd ?? '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      finish({ exitCode: null, signal: null, spawnError: (e as Error).message });
      return;
    }
    const streams = [child.stdout, child.stderr].filter((s): s is NodeJS.ReadableStream => s !== null);
    let open = streams.length;
    let exited: Pick<ProcessOutcome, 'exitCode' | 'signal'> | null = null;
    const maybeDone = (): void => {
      if (exited && open === 0) finish(exited);
    };
    for (const s of streams) {
      s.on('data', (chunk: Buffer | string) => tail.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
      let closed = false;
      const onClosed = (): void => {
        if (closed) return;
        closed = true;
        open--;
        maybeDone();
      };
      s.once('end', onClosed);
      s.once('close', onClosed);
      s.once('error', onClosed);
    }
    const pid = child.pid;
    child.once('error', (err) => {
      // Spawn failures (ENOENT, EACCES, ENOEXEC) come here without an exit event.
      if (exited === null) finish({ exitCode: null, signal: null, spawnError: err.message });
    });
    child.once('exit', (code, signal) => {
      exited = { exitCode: code, signal };
      if (pid !== undefined) ports.killGroup(pid, 'SIGKILL');
      cancels.push(clock.setTimer(options.drainMs ?? 1000, () => {
        for (const s of streams) (s as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        if (exited) finish(exited);
      }));
      maybeDone();
    });
    if (pid === undefined) return;
    cancels.push(clock.setTimer(options.timeoutMs, () => {
      if (exited) return;
      timedOut = true;
      ports.killGroup(pid, 'SIGTERM');
      cancels.push(clock.setTimer(options.killGraceMs ?? 3000, () => {
        if (!exited) ports.killGroup(pid, 'SIGKILL');
      }));
    }));
  });
}
