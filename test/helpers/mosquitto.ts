/**
 * A real Mosquitto broker for tests, on a free loopback port, with its own
 * temporary config. Nothing is persisted (`persistence false`), so a
 * restart forgets retained messages and sessions, as a broker that lost
 * its disk would; tests that need state across a restart must publish it
 * again.
 *
 *   import { findMosquitto, startMosquitto } from '../helpers/mosquitto';
 *
 *   before(function () { if (!findMosquitto()) this.skip(); });  // log why, see below
 *   const broker = await startMosquitto();
 *   ... mqtt.connect(broker.url) ...
 *   await broker.stop();     // SIGTERM, waits for the exit; the port stays reserved for start()
 *   await broker.start();    // same port, same config: clients can reconnect
 *   await broker.close();    // stop and remove the temp dir (call it in after())
 *
 * `broker.log()` returns what the broker printed (connections, wills,
 * errors), useful in an assertion message. `extraConfig` lines are added to
 * mosquitto.conf (e.g. `max_packet_size 1024`).
 *
 * Mosquitto is the Debian package `mosquitto` (binary in /usr/sbin, which
 * is not on every user's PATH, so both are searched). Running as root,
 * the broker is told to stay root (`user root`) so it can read its
 * config in the temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface Mosquitto {
  readonly host: string;
  readonly port: number;
  /** `mqtt://127.0.0.1:PORT` */
  readonly url: string;
  /** Starts the broker again after stop() on the same port. */
  start(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** stop() and remove the temporary directory. */
  close(): Promise<void>;
  /** Everything the broker wrote to stdout and stderr so far. */
  log(): string;
  readonly running: boolean;
}

/** The mosquitto binary, or undefined when it is not installed. */
export function findMosquitto(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, 'mosquitto');
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** A TCP port that was free a moment ago on 127.0.0.1 (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a broker on a free loopback port.
 *
 * @throws Error when mosquitto is missing or does not start within 10 s.
 */
export async function startMosquitto(opts: { extraConfig?: string[] } = {}): Promise<Mosquitto> {
  const bin = findMosquitto();
  if (!bin) throw new Error('mosquitto is not installed (Debian package mosquitto)');
  const dir = mkdtempSync(join(tmpdir(), 'canopy-mosquitto-'));
  const host = '127.0.0.1';
  let port = 0;
  let child: ChildProcess | undefined;
  let output = '';

  const writeConf = (): string => {
    const conf = join(dir, 'mosquitto.conf');
    const lines = [
      `listener ${port} ${host}`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...(opts.extraConfig ?? []),
    ];
    writeFileSync(conf, `${lines.join('\n')}\n`);
    return conf;
  };

  const launch = async (): Promise<boolean> => {
    const conf = writeConf();
    const c = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let exited = false;
    c.once('exit', () => {
      exited = true;
    });
    c.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    c.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (exited) return false;
      if (await accepts(host, port)) return true;
      await sleep(20);
    }
    c.kill('SIGKILL');
    throw new Error(`mosquitto did not accept connections on ${host}:${port} within 10 s:\n${output}`);
  };

  // The free port can be taken between the probe and mosquitto's bind: try a few.
  for (let i = 0; ; i++) {
    port = await freePort();
    if (await launch()) break;
    if (i >= 4) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto failed to start:\n${output}`);
    }
  }

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };

  const isRunning = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    host,
    port,
    url: `mqtt://${host}:${port}`,
    get running() {
      return isRunning();
    },
    async start() {
      if (isRunning()) return;
      if (!(await launch())) throw new Error(`mosquitto could not restart on port ${port}:\n${output}`);
    },
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}
