/**
 * Kernel command lines as ostree edits them (`ostree-kernel-args.c`, 2022.7):
 * an ordered list of `key` / `key=value` arguments where one key may occur
 * several times. Splitting is on single spaces (so `a  b` keeps an empty
 * argument between them and round-trips), values are everything after the
 * first `=`.
 *
 * - `replace(arg)` (`--karg`): drops every argument with that key and puts
 *   the new one where the first of them was, or at the end.
 * - `append(arg)` (`--karg-append`): adds at the end, keeping the others.
 * - `delete(arg)` (`--karg-delete`): `key` removes the key when it has one
 *   value; `key=value` removes that exact one. Throws ERR_INVALID_ARGUMENT
 *   when nothing matches, or when `key` alone is ambiguous.
 */
import { CanopyError } from '../core/errors';

interface Arg {
  key: string;
  value: string | null;
}

function split(arg: string): Arg {
  const eq = arg.indexOf('=');
  return eq < 0 ? { key: arg, value: null } : { key: arg.slice(0, eq), value: arg.slice(eq + 1) };
}

function render(a: Arg): string {
  return a.value === null ? a.key : `${a.key}=${a.value}`;
}

/** Longest command line accepted (the kernel's own limit is smaller on most architectures). */
export const MAX_CMDLINE = 64 * 1024;

export class KernelArgs {
  private order: Arg[] = [];

  /** Parses a command line (`options` of a BLS entry, /proc/cmdline without its newline). */
  static parse(text: string | undefined): KernelArgs {
    const k = new KernelArgs();
    if (text === undefined || text === '') return k;
    if (text.length > MAX_CMDLINE) throw new CanopyError('ERR_INVALID_ARGUMENT', `kernel command line is longer than ${MAX_CMDLINE} characters`, { length: text.length });
    for (const a of text.split(' ')) k.append(a);
    return k;
  }

  static of(args: readonly string[]): KernelArgs {
    const k = new KernelArgs();
    for (const a of args) k.append(a);
    return k;
  }

  append(arg: string): void {
    this.order.push(split(arg));
  }

  replace(arg: string): void {
    const a = split(arg);
    const at = this.order.findIndex((e) => e.key === a.key);
    if (at < 0) {
      this.order.push(a);
      return;
    }
    this.order = this.order.filter((e) => e.key !== a.key);
    this.order.splice(at, 0, a);
  }

  delete(arg: string): void {
    const a = split(arg);
    const matching = this.order.filter((e) => e.key === a.key);
    if (matching.length === 0) throw new CanopyError('ERR_INVALID_ARGUMENT', `no kernel argument ${JSON.stringify(a.key)} to delete`, { karg: arg });
    let victim: Arg | undefined;
    if (matching.length === 1) {
      if (a.value !== null && matching[0].value !== a.value) {
        throw new CanopyError('ERR_INVALID_ARGUMENT', `no kernel argument ${JSON.stringify(arg)} to delete`, { karg: arg });
      }
      victim = matching[0];
    } else {
      victim = matching.find((e) => e.value === a.value);
      if (!victim) {
        throw new CanopyError('ERR_INVALID_ARGUMENT', a.value === null
          ? `kernel argument ${JSON.stringify(a.key)} has several values; say which one to delete (${a.key}=VALUE)`
          : `no kernel argument ${JSON.stringify(arg)} to delete`, { karg: arg });
      }
    }
    this.order.splice(this.order.indexOf(victim), 1);
  }

  /** The last value of `key` (null for a bare key), or undefined when absent. */
  lastValue(key: string): string | null | undefined {
    for (let i = this.order.length - 1; i >= 0; i--) if (this.order[i].key === key) return this.order[i].value;
    return undefined;
  }

  has(key: string): boolean {
    return this.order.some((e) => e.key === key);
  }

  toArray(): string[] {
    return this.order.map(render);
  }

  toString(): string {
    return this.toArray().join(' ');
  }
}

/** Edits applied in ostree's order: replace (`--karg`), then append, then delete. */
export interface KargEdits {
  /** `--karg`: set, replacing every earlier argument with the same key. */
  replace?: readonly string[];
  /** `--karg-append`. */
  append?: readonly string[];
  /** `--karg-delete`. */
  delete?: readonly string[];
}

/** True when `edits` changes anything. */
export function hasKargEdits(edits: KargEdits | undefined): boolean {
  return !!edits && ((edits.replace?.length ?? 0) + (edits.append?.length ?? 0) + (edits.delete?.length ?? 0)) > 0;
}

/** Applies `edits` to a copy of `base`. Throws ERR_INVALID_ARGUMENT from a delete that matches nothing. */
export function applyKargEdits(base: KernelArgs, edits: KargEdits): KernelArgs {
  const k = KernelArgs.of(base.toArray());
  for (const a of edits.replace ?? []) k.replace(a);
  for (const a of edits.append ?? []) k.append(a);
  for (const a of edits.delete ?? []) k.delete(a);
  return k;
}
