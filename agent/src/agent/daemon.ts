/**
 * `canopy-agent run`: the device daemon, wired from its configuration.
 *
 * - config from the config.d layers (config/), logs as JSON lines on stderr;
 * - the channel: MQTT (push: signed announcements and commands, retained
 *   state, events) with HTTP polling of the summary as the fallback while
 *   the broker is unreachable; polling alone when MQTT is not configured;
 * - the runner (the state machine) with the device's ports: the sysroot,
 *   the boot loader, the puller, the health checks;
 * - systemd `Type=notify` readiness, status and watchdog (sd-notify.ts).
 *
 * `once`: no MQTT; resume, poll the summary once, act on what it finds
 * until nothing is running, and return (0, or 1 when the update failed).
 */
import { join, resolve } from 'node:path';
import {
  FallbackChannel, MessageGate, MqttChannel, NonceStore, PollChannel, loadMessageTrust, type Channel, type StateReport,
} from '../channel/index';
import { loadConfig, type AgentConfig } from '../config/index';
import type { BootloaderBackend } from '../bootloader/index';
import { forgetRejected, rejectCommit } from '../health/index';
import { parseSummary } from '../objects/index';
import { createTransport, readBody, type HttpClient } from '../transport/index';
import { bootView, createBackend, readBootId, DEFAULT_BOOT_ID_FILE, DEFAULT_CMDLINE_FILE, type BootSources } from './boot-view';
import { HealthOps } from './health-ops';
import { Inbound } from './inbound';
import { isLogLevel, jsonLogger, type Logger } from './logger';
import { StateStore } from './persist';
import type { AgentPorts } from './ports';
import { rebootAllowedNow, rebootDelayMs } from './reboot-policy';
import { Runner } from './runner';
import { systemdNotifier, type Notifier } from './sd-notify';
import type { PhaseName } from './states';
import { UpdateOps } from './update-ops';
import { collectGarbage } from './memory';

export interface DaemonOptions {
  /** Directories holding `config.d` (default /usr/lib/canopy, /etc/canopy, /run/canopy). */
  configRoots?: readonly string[];
  /** Overrides `paths.sysroot`. */
  sysroot?: string;
  once?: boolean;
  cmdlineFile?: string;
  bootIdFile?: string;
  /** Where a staged deployment's record lives (default `/run` for the real root, `<sysroot>/run` otherwise). */
  runDir?: string;
  bootloader?: string;
  fwEnvConfig?: string;
  grubenv?: string;
  deployMode?: 'direct' | 'staged';
  holdIn?: PhaseName;
  /** Reboots the device (the daemon's state is saved first). */
  reboot: (reason: string, daemon: DaemonHandle) => Promise<void>;
  env?: Readonly<Record<string, string | undefined>>;
  writeLog?: (line: string) => void;
  agentVersion: string;
}

export interface DaemonHandle {
  readonly config: AgentConfig;
  readonly runner: Runner;
  readonly log: Logger;
  /** Resolves with the exit status once the daemon has stopped. */
  readonly exited: Promise<number>;
  /** Stops (the channel publishes the offline state) and resolves `exited` with `status`. */
  stop(status?: number): Promise<void>;
}

function transportFor(config: AgentConfig): HttpClient {
  const tls = config.remote.tls;
  return createTransport({ caPath: tls.ca, clientCertPath: tls.cert, clientKeyPath: tls.key, pinnedSpki: tls.pinnedSpki, proxy: config.remote.proxy, connections: 2 });
}

async function resolveRemoteRef(http: HttpClient, url: string, ref: string): Promise<string> {
  const res = await http.get({ url: `${url.replace(/\/+$/, '')}/summary` });
  if (res.status !== 200) {
    await res.dump().catch(() => undefined);
    throw new Error(`GET summary: HTTP ${res.status}`);
  }
  const found = parseSummary(await readBody(res, 16 << 20, 'summary')).refs.find((r) => r.name === ref);
  if (!found) throw new Error(`the summary has no ref ${ref}`);
  return found.commit;
}

/**
 * Starts the daemon.
 *
 * @throws ERR_CONFIG_INVALID (configuration, key files), ERR_IO and the
 *   sysroot's errors when the device cannot be read at start.
 */
export async function startDaemon(opts: DaemonOptions): Promise<DaemonHandle> {
  const { config } = loadConfig({ roots: opts.configRoots });
  const env = opts.env ?? process.env;
  const log = jsonLogger({ level: config.logLevel, write: opts.writeLog });
  const sysroot = resolve(opts.sysroot ?? config.paths.sysroot);
  const stateDir = config.paths.stateDir;
  const healthStateDir = join(stateDir, 'health');
  const boot: BootSources = {
    sysroot,
    cmdlineFile: opts.cmdlineFile ?? DEFAULT_CMDLINE_FILE,
    bootIdFile: opts.bootIdFile ?? DEFAULT_BOOT_ID_FILE,
    runDir: opts.runDir ?? (sysroot === '/' ? '/run' : join(sysroot, 'run')),
  };
  let backend: Promise<BootloaderBackend> | undefined;
  const getBackend = (): Promise<BootloaderBackend> => {
    backend ??= createBackend(sysroot, { bootloader: opts.bootloader, fwEnvConfig: opts.fwEnvConfig, grubenv: opts.grubenv });
    return backend;
  };
  const updates = new UpdateOps({ config, boot, backend: getBackend, deployMode: opts.deployMode ?? 'direct', log });
  const health = new HealthOps({ config, boot, backend: getBackend, stateDir: healthStateDir, now: Date.now, log });
  const http = transportFor(config);
  const device = { id: config.device.id, fleet: config.device.fleet, hardware: config.device.hardware, tags: config.device.tags };
  const running = bootView(boot).booted?.csum;

  const poll = config.poll.enabled || opts.once
    ? new PollChannel({
      url: config.remote.url, ref: config.remote.ref, http, intervalMs: config.poll.intervalSec * 1000, jitterMs: config.poll.jitterSec * 1000,
      knownCommit: running, log: (level, message, fields) => log.log(level, message, fields),
    })
    : undefined;
  let mqtt: MqttChannel | undefined;
  if (!opts.once && config.mqtt.enabled && config.mqtt.url) {
    const trust = await loadMessageTrust(config.messages.keys);
    const store = await NonceStore.open({ path: join(stateDir, 'replay.json'), capacity: config.messages.replayCapacity, keepAfterExpiryMs: config.messages.clockSkewSec * 1000 });
    if (store.recovered) log.warn(store.recovered);
    const m = config.mqtt;
    mqtt = new MqttChannel({
      url: m.url!, device, channel: config.device.channel, agentVersion: opts.agentVersion, topicPrefix: m.topicPrefix, clientId: m.clientId,
      username: m.username, passwordFile: m.passwordFile, caFile: m.tls.ca, certFile: m.tls.cert, keyFile: m.tls.key,
      keepaliveSeconds: m.keepaliveSec, cleanSession: m.cleanSession, sessionExpirySeconds: m.sessionExpirySec, willDelaySeconds: m.willDelaySec,
      backoff: { initialMs: m.backoff.initialSec * 1000, maxMs: m.backoff.maxSec * 1000 },
      gate: new MessageGate({ device, trust, store, clockSkewSeconds: config.messages.clockSkewSec }),
      log: (level, message, fields) => log.log(level, message, fields),
    });
  }
  const channel: Channel | undefined = mqtt && poll ? new FallbackChannel(mqtt, poll, { graceMs: config.mqtt.pollFallbackAfterSec * 1000 }) : mqtt ?? poll;
  if (!channel) log.warn('neither MQTT nor polling is enabled: the agent only resumes what is in progress');

  let rollout: StateReport['rollout'] = null;
  let lastPolled: string | undefined;
  let handle: DaemonHandle | undefined;
  const notifier: Notifier = systemdNotifier(env, log);
  const ports: AgentPorts = {
    now: Date.now,
    boot: async () => ({ bootId: readBootId(boot.bootIdFile), bootedCommit: bootView(boot).booted?.csum ?? null }),
    afterBoot: (facts, rebooted) => health.afterBoot(facts, rebooted),
    async check() {
      if (!poll) throw new Error('polling is disabled');
      const out = await poll.checkNow();
      const commit = out.status === 'update' ? out.update.commit : out.status === 'same-commit' ? out.commit : lastPolled;
      if (commit) lastPolled = commit;
      if (!commit || commit === runner.state.running?.commit) return null;
      return { target: { commit, ref: config.remote.ref, source: 'poll' }, waveOpen: true, rejected: false };
    },
    pull: (target, signal, onProgress) => updates.pull(target, signal, onProgress),
    deploy: (target) => updates.deploy(target),
    runHealth: (target) => health.runHealth(target),
    rollbackDeployment: () => updates.rollback(),
    discardPending: (commit) => updates.discardPending(commit),
    reboot: (reason) => opts.reboot(reason, handle!),
    rebootDelay: () => rebootDelayMs(config.reboot, Date.now()),
    pinDeployment: (commit, pinned) => updates.pin(commit, pinned),
    forgetRejected: async (commit) => void await forgetRejected(healthStateDir, commit),
    rejectCommit: async (commit, reason) => void await rejectCommit(healthStateDir, { commit, reason, check: null, time: new Date().toISOString() }),
    setLogLevel: (level, seconds) => log.setLevel(level, seconds === undefined ? undefined : seconds * 1000),
    inventory: async () => ({ ...(await updates.inventory()), agentVersion: opts.agentVersion }),
    rollout: () => rollout,
    publishState: (s) => channel?.publishState(s) ?? Promise.resolve(false),
    publishEvent: (e) => channel?.publishEvent(e) ?? Promise.resolve(false),
    log,
  };
  const runner = new Runner(new StateStore(stateDir), ports, { holdIn: opts.holdIn });

  const inbound = new Inbound({
    deviceId: device.id, ref: config.remote.ref, healthStateDir, now: Date.now,
    dispatch: (e) => runner.dispatch(e),
    publishEvent: ports.publishEvent,
    resolveRef: (ref) => resolveRemoteRef(http, config.remote.url, ref),
    previousCommit: () => updates.previousCommit(),
    rebootAllowed: (force) => rebootAllowedNow(config.reboot, Date.now(), force),
    onRollout: (r) => {
      if (JSON.stringify(r) === JSON.stringify(rollout)) return;
      rollout = r;
      void ports.publishState(runner.report()).catch(() => false);
    },
    log,
  });
  const inFlight = new Set<Promise<void>>();
  const guard = (p: Promise<void>): void => {
    const q = p.catch((e) => log.error(`handling a message failed: ${(e as Error).message}`)).finally(() => inFlight.delete(q));
    inFlight.add(q);
  };
  channel?.onAnnouncement((m) => guard(inbound.announcement(m)));
  channel?.onCommand((m) => guard(inbound.command(m)));
  channel?.onRefUpdate((u) => {
    lastPolled = u.commit;
    guard(inbound.refUpdate(u));
  });
  channel?.onRejected((r) => log.warn(`refused ${r.messageType}: ${r.reason}`, { topic: r.topic, message: r.message }));
  channel?.onStatus((s) => {
    log.info(`channel ${s.state}`, { error: s.error ?? null, retryInMs: s.retryInMs ?? null });
    // Connected is where start-up ends: what loading and connecting left behind can go now.
    if (s.state === 'connected') setImmediate(collectGarbage);
    notifier.status(`phase ${runner.state.phase.name}; channel ${s.state}`);
  });

  let resolveExit!: (status: number) => void;
  const exited = new Promise<number>((r) => { resolveExit = r; });
  let stopping: Promise<void> | undefined;
  const stop = (status = 0): Promise<void> => {
    stopping ??= (async () => {
      notifier.stopping();
      runner.stop();
      await channel?.stop().catch(() => undefined);
      await http.close().catch(() => undefined);
      notifier.close();
      log.info('agent stopped', { status });
      log.close();
      resolveExit(status);
    })();
    return stopping;
  };
  handle = { config, runner, log, exited, stop };

  log.info(`canopy-agent ${opts.agentVersion} starting`, { device: device.id, fleet: device.fleet, sysroot, once: opts.once === true });
  if (!isLogLevel(config.logLevel)) log.warn(`unknown log level ${String(config.logLevel)}`);
  await runner.start();
  if (opts.once) {
    void runOnce(runner, poll!, inFlight, log).then((status) => stop(status));
    return handle;
  }
  await channel?.start();
  notifier.ready(`phase ${runner.state.phase.name}`);
  return handle;
}

async function runOnce(runner: Runner, poll: PollChannel, inFlight: ReadonlySet<Promise<void>>, log: Logger): Promise<number> {
  await runner.settled();
  try {
    // An update reaches the runner through the poll channel's ref-update listener.
    await poll.checkNow();
  } catch (e) {
    log.error(`polling failed: ${(e as Error).message}`);
  }
  // The ref-update listener looks facts up before it hands the runner an event.
  await Promise.all([...inFlight]);
  await runner.quiet();
  const phase = runner.state.phase.name;
  log.info(`once: finished in phase ${phase}`);
  return phase === 'failed' ? 1 : 0;
}
