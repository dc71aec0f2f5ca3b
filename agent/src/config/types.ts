/**
 * The agent's configuration after merging and defaults, as TypeScript
 * types. `schema.json` is the contract; these mirror it. Durations are in
 * seconds (`…Sec`), like the health checks' settings files.
 */

/** Key files (absolute paths). */
export interface KeyFilesConfig {
  ed25519: string[];
  ed25519Revoked: string[];
  openpgp: string[];
}

/** Per-check health settings, as in a check's `NAME.json`. */
export interface CheckSettingsConfig {
  timeoutSec?: number;
  retries?: number;
  retryDelaySec?: number;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface AgentConfig {
  device: {
    /** Always set after loading (from `id` or `idFile`). */
    id: string;
    idFile?: string;
    fleet: string;
    hardware?: string;
    tags: string[];
    channel: string;
  };
  remote: {
    name: string;
    url: string;
    ref: string;
    keys: KeyFilesConfig;
    tls: { ca?: string; cert?: string; key?: string; pinnedSpki?: string[] };
    proxy?: string;
  };
  messages: {
    keys: KeyFilesConfig;
    clockSkewSec: number;
    replayCapacity: number;
  };
  mqtt: {
    enabled: boolean;
    url?: string;
    topicPrefix: string;
    clientId?: string;
    username?: string;
    passwordFile?: string;
    tls: { ca?: string; cert?: string; key?: string };
    keepaliveSec: number;
    cleanSession: boolean;
    sessionExpirySec: number;
    willDelaySec: number;
    backoff: { initialSec: number; maxSec: number };
    pollFallbackAfterSec: number;
  };
  poll: { enabled: boolean; intervalSec: number; jitterSec: number };
  reboot: {
    policy: 'immediate' | 'maintenance-window' | 'manual';
    window?: { days: Weekday[]; start: string; end: string; timezone: 'local' | 'UTC' };
  };
  bandwidth: { maxBytesPerSec: number };
  health: {
    tries: number;
    timeoutSec: number;
    keepGoing: boolean;
    defaults?: CheckSettingsConfig;
    checks: Record<string, CheckSettingsConfig>;
  };
  paths: { sysroot: string; stateDir: string; healthDirs: string[] };
  logLevel: 'error' | 'warn' | 'info' | 'debug' | 'trace';
}
