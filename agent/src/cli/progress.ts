/**
 * One progress line on stderr for long work: counts, bytes, rate and ETA,
 * redrawn in place at most every 100 ms. Silent when stderr is not a TTY,
 * so logs and pipes stay clean.
 */
import type { Sink } from './output';

export interface ProgressState {
  done: number;
  total?: number;
  /** What is being counted (default "objects"). */
  unit?: string;
  bytesDone?: number;
  bytesTotal?: number;
}

export interface ProgressOptions {
  label: string;
  /** Milliseconds; injected for tests. */
  now?: () => number;
  /** Force off (e.g. with --json); default on when the sink is a TTY. */
  enabled?: boolean;
  minIntervalMs?: number;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

/** GLib's g_format_size (as ostree prints sizes): "158 bytes", "1.5 kB", "2.0 MB" (powers of 1000). */
export function formatSizeSi(n: number): string {
  if (n < 1000) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Seconds -> "m:ss" or "h:mm:ss". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class ProgressLine {
  /** Whether the line is drawn (stderr is a terminal and the output is not JSON): callers may skip work for it when not. */
  readonly enabled: boolean;
  private readonly now: () => number;
  private readonly start: number;
  private readonly minInterval: number;
  private last = -Infinity;
  private drawn = false;

  constructor(private readonly sink: Sink, private readonly opts: ProgressOptions) {
    this.enabled = (opts.enabled ?? true) && sink.isTTY === true;
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    this.minInterval = opts.minIntervalMs ?? 100;
  }

  /** Redraws the line if enough time has passed (always for the final state). */
  update(p: ProgressState): void {
    if (!this.enabled) return;
    const t = this.now();
    const final = p.total !== undefined && p.done >= p.total;
    if (!final && t - this.last < this.minInterval) return;
    this.last = t;
    let line = this.format(p, t);
    const cols = this.sink.columns ?? 0;
    if (cols > 10 && line.length >= cols) line = line.slice(0, cols - 1);
    this.sink.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** The line's text for state `p` at time `t`. */
  format(p: ProgressState, t: number): string {
    const elapsed = Math.max(0.001, (t - this.start) / 1000);
    const parts = [`${this.opts.label}: ${p.done}${p.total !== undefined ? `/${p.total}` : ''} ${p.unit ?? 'objects'}`];
    if (p.bytesDone !== undefined) {
      parts.push(`${formatBytes(p.bytesDone)}${p.bytesTotal !== undefined ? `/${formatBytes(p.bytesTotal)}` : ''}`);
      const rate = p.bytesDone / elapsed;
      parts.push(`${formatBytes(Math.round(rate))}/s`);
      if (p.bytesTotal !== undefined && rate > 0 && p.bytesDone < p.bytesTotal) parts.push(`ETA ${formatDuration((p.bytesTotal - p.bytesDone) / rate)}`);
    } else if (p.total !== undefined && p.done > 0 && p.done < p.total) {
      parts.push(`ETA ${formatDuration(((p.total - p.done) * elapsed) / p.done)}`);
    }
    return parts.join(', ');
  }

  /** Clears the line (call once the work is done or failed). */
  finish(): void {
    if (this.enabled && this.drawn) this.sink.write('\r\x1b[K');
    this.drawn = false;
  }
}
