/**
 * A bounded parser for the common part of GVariant's text format, the
 * notation `ostree commit --add-metadata=KEY=VALUE` reads with
 * `g_variant_parse`. Values are typed the way GLib types them when no type
 * is given: an integer literal is `int32` unless an annotation or a sibling
 * array element says otherwise, a literal with `.` or an exponent is a
 * `double`.
 *
 * Supported: decimal, hex (`0x`) and octal (leading `0`) integers, floats,
 * the annotations `byte int16 uint16 int32 uint32 int64 uint64 double
 * boolean string`, `@TYPE` prefixes over those types and arrays of them
 * (`@as []`), `true`/`false`, strings in single or double quotes (escapes
 * `\n \t \r \a \b \f \v \uXXXX \UXXXXXXXX`, any other escaped character
 * stands for itself), bytestrings `b'…'`, and arrays `[…]` whose elements
 * unify to one type. Tuples, dictionaries, variants, maybes, handles, object
 * paths and signatures are refused with ERR_INVALID_ARGUMENT naming the
 * construct and its offset.
 */
import { CanopyError } from '../core/errors';
import { parseType, type GType } from './type';
import { Variant, type GValue } from './value';

export interface TextParseOptions {
  /** Longest accepted text in characters (default 64 KiB). */
  maxLength?: number;
  /** Deepest accepted array nesting (default 32). */
  maxDepth?: number;
}

type Node =
  | { k: 'int'; value: bigint; at: number }
  | { k: 'float'; value: number; at: number }
  | { k: 'bool'; value: boolean; at: number }
  | { k: 'str'; value: string; at: number }
  | { k: 'bytes'; value: Uint8Array; at: number }
  | { k: 'array'; items: Node[]; at: number }
  | { k: 'typed'; type: GType; node: Node; at: number };

/** What is known about a value's type before defaults apply. */
type Pat = { t: 'any' } | { t: 'num' } | { t: 'basic'; code: string } | { t: 'array'; elem: Pat };

const KEYWORDS = new Map(Object.entries({
  byte: 'y', int16: 'n', uint16: 'q', int32: 'i', uint32: 'u', int64: 'x', uint64: 't', double: 'd', boolean: 'b', string: 's',
}));
const REFUSED_KEYWORDS = new Set(['handle', 'objectpath', 'signature', 'just', 'nothing']);
const NUMERIC = new Set(['y', 'n', 'q', 'i', 'u', 'x', 't', 'd']);
const RANGES: Record<string, [bigint, bigint]> = {
  y: [0n, 0xffn], n: [-0x8000n, 0x7fffn], q: [0n, 0xffffn], i: [-0x80000000n, 0x7fffffffn],
  u: [0n, 0xffffffffn], x: [-(1n << 63n), (1n << 63n) - 1n], t: [0n, (1n << 64n) - 1n],
};
const SIMPLE_ESCAPES = new Map(Object.entries({ n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' }));

function fail(text: string, at: number, why: string): CanopyError {
  return new CanopyError('ERR_INVALID_ARGUMENT', `GVariant text ${JSON.stringify(text.slice(0, 80))}: ${why} (at offset ${at})`, { at, why });
}

/**
 * Parses one value in GVariant text format and returns it with its type.
 * Throws ERR_INVALID_ARGUMENT for malformed or unsupported text, an
 * integer out of range for its type, or an array whose type cannot be
 * inferred (`[]` needs `@as []`).
 */
export function parseVariantText(text: string, opts: TextParseOptions = {}): Variant {
  const maxLength = opts.maxLength ?? 64 * 1024;
  if (text.length > maxLength) throw fail(text, maxLength, `longer than ${maxLength} characters`);
  const p = new Parser(text, opts.maxDepth ?? 32);
  const node = p.value(0);
  p.skipSpace();
  if (p.pos !== text.length) throw fail(text, p.pos, 'expected the end of the input');
  const typeStr = finalize(text, pattern(text, node), node.at);
  return new Variant(typeStr, build(text, node, parseType(typeStr)));
}

class Parser {
  pos = 0;
  constructor(readonly text: string, readonly maxDepth: number) {}

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  value(depth: number): Node {
    if (depth > this.maxDepth) throw fail(this.text, this.pos, `nested deeper than ${this.maxDepth}`);
    this.skipSpace();
    const at = this.pos;
    const c = this.text[at];
    if (c === undefined) throw fail(this.text, at, 'expected a value');
    if (c === '[') return this.array(depth);
    if (c === "'" || c === '"') return { k: 'str', value: this.string(), at };
    if (c === '@') return this.annotated(depth);
    if (c === 'b' && (this.text[at + 1] === "'" || this.text[at + 1] === '"')) {
      this.pos++;
      return { k: 'bytes', value: this.bytestring(), at };
    }
    if (/[0-9+\-.]/.test(c)) return this.number();
    if (/[a-z]/i.test(c)) return this.keyword(depth);
    const what = c === '(' ? 'tuples' : c === '{' ? 'dictionaries' : c === '<' ? 'variants' : `${JSON.stringify(c)}`;
    throw fail(this.text, at, `${what} are not supported here (supported: numbers, booleans, strings, arrays, @TYPE and type keywords)`);
  }

  private word(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos, this.pos + 64));
    const w = m ? m[0] : '';
    this.pos += w.length;
    return w;
  }

  private keyword(depth: number): Node {
    const at = this.pos;
    const w = this.word();
    if (w === 'true' || w === 'false') return { k: 'bool', value: w === 'true', at };
    const code = KEYWORDS.get(w);
    if (code) return { k: 'typed', type: parseType(code), node: this.value(depth + 1), at };
    if (REFUSED_KEYWORDS.has(w)) throw fail(this.text, at, `"${w}" values are not supported`);
    throw fail(this.text, at, `unknown keyword ${JSON.stringify(w)}`);
  }

  private annotated(depth: number): Node {
    const at = this.pos;
    this.pos++;
    const m = /^[a-z(){}]+/.exec(this.text.slice(this.pos, this.pos + 256));
    const typeStr = m ? m[0] : '';
    if (!typeStr) throw fail(this.text, at, 'expected a type after @');
    let type: GType;
    try {
      type = parseType(typeStr);
    } catch {
      throw fail(this.text, at, `invalid type ${JSON.stringify(typeStr)}`);
    }
    if (!supportedType(type)) throw fail(this.text, at, `type ${typeStr} is not supported (basic numbers, b, s and arrays of them are)`);
    this.pos += typeStr.length;
    return { k: 'typed', type, node: this.value(depth + 1), at };
  }

  private number(): Node {
    const at = this.pos;
    const m = /^[+-]?(?:[eE][+-]|[0-9A-Za-z.])+/.exec(this.text.slice(this.pos, this.pos + 128));
    const tok = m ? m[0] : this.text[this.pos];
    this.pos += tok.length;
    const int = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(tok);
    if (int) {
      const sign = int[1] === '-' ? -1n : 1n;
      const digits = int[2];
      const value = /^0[xX]/.test(digits) ? BigInt(digits.toLowerCase())
        : digits.length > 1 && digits[0] === '0' ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
      return { k: 'int', value: sign * value, at };
    }
    if (/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(tok)) {
      const value = Number(tok);
      if (!Number.isFinite(value)) throw fail(this.text, at, `number ${tok} is out of range for a double`);
      return { k: 'float', value, at };
    }
    throw fail(this.text, at, `invalid number ${JSON.stringify(tok)}`);
  }

  private array(depth: number): Node {
    const at = this.pos;
    this.pos++;
    const items: Node[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return { k: 'array', items, at };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') { this.pos++; continue; }
      if (c === ']') { this.pos++; return { k: 'array', items, at }; }
      throw fail(this.text, this.pos, c === undefined ? 'unterminated array' : 'expected "," or "]"');
    }
  }

  private string(): string {
    const quote = this.text[this.pos];
    const at = this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) throw fail(this.text, at, 'unterminated string');
      this.pos++;
      if (c === quote) return out;
      if (c !== '\\') { out += c; continue; }
      const e = this.text[this.pos++];
      if (e === undefined) throw fail(this.text, at, 'unterminated string');
      if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = this.text.slice(this.pos, this.pos + n);
        const cp = /^[0-9a-fA-F]+$/.test(hex) && hex.length === n ? parseInt(hex, 16) : NaN;
        if (!(cp >= 1 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) throw fail(this.text, this.pos - 2, `invalid \\${e} escape`);
        out += String.fromCodePoint(cp);
        this.pos += n;
      } else out += SIMPLE_ESCAPES.get(e) ?? e;
    }
  }

  private bytestring(): Uint8Array {
    const quote = this.text[this.pos];
    const at = this.pos++;
    const bytes: number[] = [];
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) throw fail(this.text, at, 'unterminated bytestring');
      this.pos++;
      if (c === quote) break;
      if (c !== '\\') { for (const b of Buffer.from(c, 'utf8')) bytes.push(b); continue; }
      const oct = /^[0-7]{1,3}/.exec(this.text.slice(this.pos, this.pos + 3));
      if (oct) {
        const v = parseInt(oct[0], 8);
        if (v > 0xff) throw fail(this.text, this.pos, 'octal escape out of range');
        bytes.push(v);
        this.pos += oct[0].length;
        continue;
      }
      const e = this.text[this.pos++];
      if (e === undefined) throw fail(this.text, at, 'unterminated bytestring');
      bytes.push((SIMPLE_ESCAPES.get(e) ?? e).charCodeAt(0) & 0xff);
    }
    bytes.push(0);
    return Uint8Array.from(bytes);
  }
}

function supportedType(t: GType): boolean {
  if (t.kind === 'array') return supportedType(t.elem);
  return t.kind === 'basic' && (NUMERIC.has(t.code) || t.code === 'b' || t.code === 's');
}

function patFromType(t: GType): Pat {
  return t.kind === 'array' ? { t: 'array', elem: patFromType(t.elem) } : { t: 'basic', code: (t as { code: string }).code };
}

function describe(p: Pat): string {
  switch (p.t) {
    case 'any': return 'an empty array';
    case 'num': return 'a number';
    case 'basic': return p.code === 's' ? 'a string' : p.code === 'b' ? 'a boolean' : `type ${p.code}`;
    case 'array': return `an array of ${describe(p.elem)}`;
  }
}

/** The most specific pattern both `a` and `b` fit, or undefined. */
function unify(a: Pat, b: Pat): Pat | undefined {
  if (a.t === 'any') return b;
  if (b.t === 'any') return a;
  if (a.t === 'num' && b.t === 'num') return a;
  if (a.t === 'num' && b.t === 'basic') return NUMERIC.has(b.code) ? b : undefined;
  if (b.t === 'num' && a.t === 'basic') return NUMERIC.has(a.code) ? a : undefined;
  if (a.t === 'basic' && b.t === 'basic') return a.code === b.code ? a : undefined;
  if (a.t === 'array' && b.t === 'array') {
    const elem = unify(a.elem, b.elem);
    return elem && { t: 'array', elem };
  }
  return undefined;
}

function pattern(text: string, n: Node): Pat {
  switch (n.k) {
    case 'int': return { t: 'num' };
    case 'float': return { t: 'basic', code: 'd' };
    case 'bool': return { t: 'basic', code: 'b' };
    case 'str': return { t: 'basic', code: 's' };
    case 'bytes': return { t: 'array', elem: { t: 'basic', code: 'y' } };
    case 'array': {
      let elem: Pat = { t: 'any' };
      for (const item of n.items) {
        const p = pattern(text, item);
        const u = unify(elem, p);
        if (!u) throw fail(text, item.at, `array element is ${describe(p)} but earlier elements are ${describe(elem)}`);
        elem = u;
      }
      return { t: 'array', elem };
    }
    case 'typed': {
      const want = patFromType(n.type);
      const got = pattern(text, n.node);
      if (!unify(want, got)) throw fail(text, n.at, `${describe(got)} cannot have type ${n.type.str}`);
      return want;
    }
  }
}

function finalize(text: string, p: Pat, at: number): string {
  switch (p.t) {
    case 'any': throw fail(text, at, 'cannot infer the type of an empty array; annotate it, e.g. @as []');
    case 'num': return 'i';
    case 'basic': return p.code;
    case 'array': return 'a' + finalize(text, p.elem, at);
  }
}

function build(text: string, n: Node, t: GType): GValue {
  if (n.k === 'typed') return build(text, n.node, t);
  if (t.kind === 'array') {
    if (n.k === 'bytes') return n.value;
    const items = (n as { items: Node[] }).items.map((item) => build(text, item, t.elem));
    if (t.elem.kind === 'basic' && t.elem.code === 'y') return Uint8Array.from(items as number[]);
    return items;
  }
  const code = (t as { code: string }).code;
  switch (n.k) {
    case 'bool': case 'str': return n.value;
    case 'float': return n.value;
    case 'int': {
      if (code === 'd') return Number(n.value);
      const [min, max] = RANGES[code];
      if (n.value < min || n.value > max) throw fail(text, n.at, `number ${n.value} is out of range for type ${code}`);
      return code === 'x' || code === 't' ? n.value : Number(n.value);
    }
    default: throw fail(text, n.at, `value does not fit type ${t.str}`);
  }
}
