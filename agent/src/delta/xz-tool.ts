/**
 * Decompressing large xz data (static-delta parts) with the system's `xz`
 * when there is one, else with the JavaScript decoder (xz.ts).
 *
 * `xz` decodes a Debian update's parts in half the time the JavaScript
 * decoder takes (a 6.7 MB part to 31.4 MB: 0.47 s instead of 0.93 s,
 * start-up and reading back included), and in its own process, so a delta
 * applier can decode the next part while it applies the current one
 * ({@link startXzDecompress}).
 *
 * Before `xz` runs, the container's structure and declared size are checked
 * as xz.ts checks them before decoding (streams, indexes, padding, and the
 * `maxSize` bomb guard). The output buffer is allocated at exactly the
 * declared size, and `xz` must produce exactly that many bytes and exit 0.
 * Its output goes to an unlinked file in a scratch directory and is read
 * back into that buffer in one go: a pipe would hand over tens of megabytes
 * in 64 KiB buffers that stay allocated until the next garbage collection,
 * which raised the device agent's peak by more than 10 MiB. `xz` accepts
 * every filter liblzma knows (as `ostree` does); the JavaScript decoder only
 * LZMA2 and x86 BCJ, which is all that OSTree's and our generator write.
 *
 * No shell is involved: the data goes to `xz --decompress --stdout` on its
 * stdin, with a fixed argument list, one thread, a memory limit, and an
 * environment without XZ_OPT or XZ_DEFAULTS. A missing `xz` is remembered
 * and the JavaScript decoder used from then on; small inputs use it
 * directly (starting a process costs more than decoding them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { xzDecompress, xzDeclaredSize, type XzDecompressOptions } from './xz';

/** Below this many uncompressed bytes the JavaScript decoder is used. */
const TOOL_MIN_SIZE = 1 << 20;
/** `--memlimit-decompress` for the tool: OSTree's parts use a 32 MiB dictionary. */
const TOOL_MEMLIMIT = '256MiB';

export interface XzToolOptions extends XzDecompressOptions {
  /** The `xz` program to run (default `xz`, found on PATH); false always uses the JavaScript decoder. */
  tool?: string | false;
  /** Where the program's output is held until it is read back (default the system's temporary directory). */
  scratchDir?: string;
}

const missingTools = new Set<string>();

/** A decompression under way: {@link read} gives the bytes, {@link cancel} stops it and frees its file. */
export interface XzJob {
  /** The decompressed bytes, allocated when asked for (not while the tool runs). */
  read(): Promise<Uint8Array>;
  /** Stops the tool if it still runs and closes its output file; safe to call more than once. */
  cancel(): void;
}

/**
 * Starts decompressing `data`: checks its structure and declared size now
 * (throws what {@link xzDecompress} throws for them), starts the `xz`
 * program when it exists and the data is large, and leaves the output in a
 * file until {@link XzJob.read}. A delta applier starts the next part this
 * way while the current one runs, without holding a second part in memory.
 * Otherwise `read` decodes with the JavaScript decoder.
 */
export function startXzDecompress(data: Uint8Array, opts: XzToolOptions): XzJob {
  const tool = opts.tool ?? 'xz';
  const total = xzDeclaredSize(data, opts.maxSize);
  if (tool === false || total < TOOL_MIN_SIZE || missingTools.has(tool)) {
    return { read: async () => xzDecompress(data, opts), cancel: () => undefined };
  }
  const run = new ToolRun(tool, data, total, opts.skipCheck === true, opts.scratchDir ?? tmpdir());
  return {
    read: async () => {
      try {
        const out = await run.read();
        if (out) return out;
        missingTools.add(tool);
        return xzDecompress(data, opts);
      } finally {
        run.cancel();
      }
    },
    cancel: () => run.cancel(),
  };
}

/** Opens a new file in `dir` and unlinks it at once: the descriptor is all that is left. */
function anonymousFile(dir: string): number {
  const path = join(dir, `xz-out-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(path, 'wx+', 0o600);
  } catch (e) {
    throw ioError(e, 'create', path);
  }
  unlinkSync(path);
  return fd;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; stderr: string };

/** One run of the tool, its output going to an unlinked file. */
class ToolRun {
  private fd: number | undefined;
  private readonly child: ChildProcess;
  /** Undefined when the tool could not be started (missing, not executable). */
  private readonly exited: Promise<Exit | undefined>;

  constructor(private readonly tool: string, data: Uint8Array, private readonly total: number, skipCheck: boolean, scratchDir: string) {
    this.fd = anonymousFile(scratchDir);
    const args = ['--decompress', '--stdout', '--quiet', '--threads=1', `--memlimit-decompress=${TOOL_MEMLIMIT}`];
    if (skipCheck) args.push('--ignore-check');
    const env: Record<string, string> = { LC_ALL: 'C' };
    if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
    this.child = spawn(tool, args, { stdio: ['pipe', this.fd, 'pipe'], env });
    const child = this.child;
    this.exited = new Promise((resolve) => {
      let started = false;
      let stderr = '';
      child.on('spawn', () => {
        started = true;
      });
      child.on('error', () => {
        if (!started) resolve(undefined);
      });
      // The child may exit before reading all its input (corrupt data): its exit status says so.
      child.stdin!.on('error', () => undefined);
      child.stderr!.on('data', (chunk: Buffer) => {
        if (stderr.length < 500) stderr += chunk.toString('utf8');
      });
      child.on('close', (code, signal) => {
        if (started) resolve({ code, signal, stderr });
      });
    });
    child.stdin!.end(data);
  }

  /** The output, once the tool exited 0 having written exactly `total` bytes; undefined if it never started. */
  async read(): Promise<Uint8Array | undefined> {
    const status = await this.exited;
    if (!status) return undefined;
    const { tool, total } = this;
    if (this.fd === undefined) throw new CanopyError('ERR_ABORTED', `xz: the decompression was cancelled`, { tool });
    if (status.code !== 0) {
      const why = status.stderr.trim().split('\n')[0] || (status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`);
      throw new CanopyError('ERR_XZ_CORRUPT', `xz: ${why}`, { tool, status: status.code ?? -1 });
    }
    const size = fstatSync(this.fd).size;
    if (size !== total) {
      throw new CanopyError('ERR_XZ_CORRUPT', `xz: ${tool} produced ${size} bytes, the index declares ${total}`, { tool, produced: size, declared: total });
    }
    const out = new Uint8Array(total);
    for (let n = 0; n < total;) {
      const r = readSync(this.fd, out, n, total - n, n);
      if (r === 0) throw new CanopyError('ERR_XZ_CORRUPT', `xz: the output ended at ${n} of ${total} bytes`, { tool });
      n += r;
    }
    return out;
  }

  cancel(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
