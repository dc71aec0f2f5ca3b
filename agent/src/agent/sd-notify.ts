/**
 * systemd's notification protocol for `Type=notify` with `WatchdogSec=`,
 * through the `systemd-notify` program (no native module in the bundle).
 * Only when `NOTIFY_SOCKET` is set, i.e. when systemd started the agent
 * with `Type=notify`; otherwise every call does nothing.
 *
 * A message sent by a child process is accepted by systemd only with
 * `NotifyAccess=all` (the unit sets it); `--pid` names the agent as the
 * service's main process. systemd-notify waits until systemd has read the
 * message (since systemd 246), so it cannot exit before systemd has seen
 * which service it belongs to.
 *
 * The watchdog is kicked from a timer on the event loop at half the
 * interval systemd asks for (`WATCHDOG_USEC`): a loop that hangs stops
 * kicking and systemd restarts the agent.
 */
import { spawn } from 'node:child_process';
import type { Logger } from './logger';

export interface Notifier {
  /** The agent is up (READY=1). */
  ready(status?: string): void;
  /** A status line for `systemctl status`. */
  status(text: string): void;
  /** Stopping (STOPPING=1). */
  stopping(): void;
  /** Stops the watchdog timer. */
  close(): void;
}

export type SpawnNotify = (args: string[]) => Promise<number | null>;

/** Runs `systemd-notify ARGS…`; resolves with its exit status (null: could not run). */
export const spawnSystemdNotify: SpawnNotify = (args) => new Promise((resolve) => {
  const child = spawn('systemd-notify', args, { stdio: 'ignore' });
  child.once('error', () => resolve(null));
  child.once('exit', (code) => resolve(code));
});

/** A notifier for this process's environment (a silent one without NOTIFY_SOCKET). */
export function systemdNotifier(env: Readonly<Record<string, string | undefined>>, log: Logger, run: SpawnNotify = spawnSystemdNotify, pid = process.pid): Notifier {
  if (!env.NOTIFY_SOCKET) return { ready() {}, status() {}, stopping() {}, close() {} };
  let warned = false;
  const send = (args: string[]): void => {
    void run([`--pid=${pid}`, ...args]).then((code) => {
      if (code !== 0 && !warned) {
        warned = true;
        log.warn(`systemd-notify ${args.join(' ')} ${code === null ? 'could not run' : `exited with status ${code}`}`);
      }
    });
  };
  let timer: NodeJS.Timeout | undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
  if (Number.isFinite(usec) && usec > 0 && forUs) {
    const every = Math.max(1000, Math.floor(usec / 2000));
    timer = setInterval(() => send(['WATCHDOG=1']), every);
    timer.unref();
  }
  return {
    ready(status) {
      send(['--ready', ...(status ? [`--status=${status}`] : [])]);
    },
    status(text) {
      send([`--status=${text}`]);
    },
    stopping() {
      send(['STOPPING=1']);
    },
    close() {
      clearInterval(timer);
    },
  };
}
