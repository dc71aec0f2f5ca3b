/**
 * What every `canopy-agent admin` subcommand shares: `--sysroot` and `--os`,
 * how the booted deployment is recognised when the sysroot is the running
 * system's (`/`: the device and inode of `/` when `/run/ostree-booted`
 * exists, else `/proc/cmdline`), and printing the lines ostree prints.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { BootedHint, SysrootOptions } from '../../sysroot/index';
import { usageError, type OptionSpecs } from '../cli-args';
import type { RunContext } from '../command';

export const SYSROOT_OPTIONS = {
  sysroot: { type: 'string', value: 'PATH', help: 'The sysroot (default /)' },
  os: { type: 'string', value: 'NAME', help: 'The stateroot (default: the booted one)' },
} as const satisfies OptionSpecs;

export const SYSROOT_ONLY = { sysroot: SYSROOT_OPTIONS.sysroot } as const satisfies OptionSpecs;

/** `--sysroot`, absolute. */
export function sysrootPath(ctx: RunContext, given: string | undefined): string {
  const p = given ?? '/';
  return isAbsolute(p) ? p : resolve(ctx.io.cwd, p);
}

/** The booted hint for `sysroot`: only the running system's own sysroot can be booted. */
export function bootedHintFor(sysroot: string): BootedHint | undefined {
  if (resolve(sysroot) !== '/') return undefined;
  const hint: BootedHint = {};
  if (existsSync('/run/ostree-booted')) {
    const st = statSync('/');
    hint.root = { dev: st.dev, ino: st.ino };
  }
  try {
    hint.cmdline = readFileSync('/proc/cmdline', 'utf8');
  } catch {
    // no /proc
  }
  return hint;
}

/** The options every sysroot call takes, from the command line. */
export function sysrootOptions(ctx: RunContext, sysroot: string): SysrootOptions {
  return { booted: bootedHintFor(sysroot), log: (line) => ctx.out.text(line) };
}

/** Parses a deployment index operand. */
export function indexOperand(command: string, s: string): number {
  if (!/^[0-9]+$/.test(s) || s.length > 6) throw usageError(command, `invalid deployment index ${JSON.stringify(s)}`);
  return Number(s);
}
