/**
 * Prints values in GVariant text format the way `g_variant_print(v, TRUE)`
 * does, which is what `ostree ls -X`, `ostree show --print-metadata-key`
 * and `ostree summary --view` show: type annotations only where the text
 * alone would be ambiguous (`uint32 5`, `@as []`, the first element of an
 * array), NUL-terminated byte arrays as `b'…'`, strings quoted with
 * escapes. The output of {@link printVariantText} for the types
 * {@link parseVariantText} accepts parses back to the same value.
 */
import { parseType, type GType } from './type';
import { Variant, type GValue } from './value';

/** Prints `value` of type `type` (a type string or parsed type). */
export function printVariantText(type: string | GType, value: GValue, annotate = true): string {
  return print(typeof type === 'string' ? parseType(type) : type, value, annotate);
}

/** Prints a boxed value: its contents, annotated, without the `<>`. */
export function printVariant(v: Variant): string {
  return printVariantText(v.type, v.value, true);
}

function print(t: GType, v: GValue, annotate: boolean): string {
  switch (t.kind) {
    case 'basic': return printBasic(t.code, v, annotate);
    case 'variant': {
      const inner = v as Variant;
      return `<${print(parseType(inner.type), inner.value, true)}>`;
    }
    case 'maybe': {
      const prefix = annotate ? `@${t.str} ` : '';
      return v === null ? `${prefix}nothing` : prefix + print(t.elem, v, false);
    }
    case 'tuple': {
      const items = v as readonly GValue[];
      if (t.dictEntry) return `{${print(t.members[0], items[0], annotate)}, ${print(t.members[1], items[1], annotate)}}`;
      const parts = t.members.map((m, i) => print(m, items[i], annotate));
      return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
    }
    case 'array': return printArray(t, v, annotate);
  }
}

function printArray(t: GType & { kind: 'array' }, v: GValue, annotate: boolean): string {
  const elem = t.elem;
  if (elem.kind === 'basic' && elem.code === 'y') {
    const bytes = v as Uint8Array;
    const nul = bytes.indexOf(0);
    if (bytes.length > 0 && nul === bytes.length - 1) {
      const body = escapeBytes(bytes.subarray(0, nul));
      return bytes.includes(0x27) ? `b"${body}"` : `b'${body}'`;
    }
    if (bytes.length === 0) return annotate ? `@${t.str} []` : '[]';
    const parts = Array.from(bytes, (b, i) => printBasic('y', b, annotate && i === 0));
    return `[${parts.join(', ')}]`;
  }
  const items = v as readonly GValue[];
  const isDict = elem.kind === 'tuple' && elem.dictEntry;
  if (items.length === 0) return (annotate ? `@${t.str} ` : '') + (isDict ? '{}' : '[]');
  if (isDict) {
    const entry = elem as GType & { kind: 'tuple' };
    const parts = items.map((e, i) => {
      const [k, val] = e as readonly GValue[];
      return `${print(entry.members[0], k, annotate && i === 0)}: ${print(entry.members[1], val, annotate && i === 0)}`;
    });
    return `{${parts.join(', ')}}`;
  }
  return `[${items.map((x, i) => print(elem, x, annotate && i === 0)).join(', ')}]`;
}

const PREFIX: Record<string, string> = { n: 'int16 ', q: 'uint16 ', u: 'uint32 ', x: 'int64 ', t: 'uint64 ', h: 'handle ' };

function printBasic(code: string, v: GValue, annotate: boolean): string {
  switch (code) {
    case 'b': return v ? 'true' : 'false';
    case 'y': return `${annotate ? 'byte ' : ''}0x${(v as number).toString(16).padStart(2, '0')}`;
    case 'i': return String(v);
    case 'd': return formatDouble(v as number);
    case 's': return quoteString(v as string);
    case 'o': return `${annotate ? 'objectpath ' : ''}${quoteString(v as string)}`;
    case 'g': return `${annotate ? 'signature ' : ''}${quoteString(v as string)}`;
    default: return (annotate ? PREFIX[code] ?? '' : '') + String(v);
  }
}

/** C's `%.17g`, then `.0` added when the text would read as an integer (as GLib does). */
export function formatDouble(d: number): string {
  if (Number.isNaN(d)) return 'nan';
  if (!Number.isFinite(d)) return d > 0 ? 'inf' : '-inf';
  let s: string;
  if (d === 0) s = Object.is(d, -0) ? '-0' : '0';
  else {
    const [mant, expStr] = d.toExponential(16).split('e');
    const exp = Number(expStr);
    if (exp < -4 || exp >= 17) {
      const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
      s = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
    } else {
      s = d.toFixed(Math.max(0, 16 - exp));
      if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    }
  }
  return /[.eni]/.test(s) ? s : `${s}.0`;
}

const CTRL: Record<number, string> = { 7: 'a', 8: 'b', 12: 'f', 10: 'n', 13: 'r', 9: 't', 11: 'v' };
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]/u;

function quoteString(s: string): string {
  const quote = s.includes("'") ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (!NON_PRINTABLE.test(ch)) out += ch;
    else if (CTRL[cp]) out += '\\' + CTRL[cp];
    else out += cp < 0x10000 ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out + quote;
}

/** GLib's g_strescape: C escapes for the usual controls, octal for other bytes outside 0x20..0x7e. */
function escapeBytes(b: Uint8Array): string {
  let out = '';
  for (const x of b) {
    if (x === 0x5c) out += '\\\\';
    else if (x === 0x22) out += '\\"';
    else if (CTRL[x] && x !== 7) out += '\\' + CTRL[x];
    else if (x < 0x20 || x >= 0x7f) out += '\\' + x.toString(8).padStart(3, '0');
    else out += String.fromCharCode(x);
  }
  return out;
}
