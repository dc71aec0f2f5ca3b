/**
 * A small reader of BitBake metadata (.bb, .bbappend, .bbclass, .conf, .inc), enough to
 * check meta-canopy's files without BitBake: assignments with every operator
 * (`= ?= ??= := += =+ .= =.`), overrides and `:append/:prepend/:remove`, variable
 * flags, `export`/`unset`, `inherit`, `require`/`include`, shell and python task
 * functions, python `def` blocks, `addtask`-style directives, line continuations and
 * comments. It does not expand or evaluate anything.
 *
 * Bounded: a file larger than {@link MAX_BYTES}, with more than {@link MAX_LINES}
 * lines, or with a function longer than {@link MAX_FUNCTION_LINES} lines is refused,
 * and so is anything it cannot read (an unterminated quote or function, a line that is
 * none of the above). Errors name the file and line.
 */

export const MAX_BYTES = 1 << 20;
export const MAX_LINES = 20000;
export const MAX_FUNCTION_LINES = 2000;

export type AssignOp = '=' | '?=' | '??=' | ':=' | '+=' | '=+' | '.=' | '=.';

export interface Assignment {
  kind: 'assign';
  line: number;
  /** The name as written, e.g. `FILES:${PN}` or `SRC_URI:append:qemuarm64`. */
  name: string;
  /** The variable without overrides: `FILES`. */
  base: string;
  /** Override and operation suffixes in order, e.g. `['${PN}']` or `['append', 'qemuarm64']`. */
  overrides: string[];
  /** The flag in `VAR[flag] = ...`, if any. */
  flag?: string;
  op: AssignOp;
  /** The value between the quotes, continuations joined (`\` + newline removed). */
  value: string;
  exported: boolean;
}

export interface Inherit { kind: 'inherit'; line: number; deferred: boolean; classes: string[] }
export interface Include { kind: 'include'; line: number; required: boolean; path: string }
export interface BbFunction {
  kind: 'function';
  line: number;
  name: string;
  lang: 'shell' | 'python';
  /** `fakeroot`, if the function is declared with it. */
  fakeroot: boolean;
  body: string;
}
export interface PythonDef { kind: 'def'; line: number; name: string; body: string }
export interface Directive { kind: 'directive'; line: number; word: string; args: string[] }
export interface Unset { kind: 'unset'; line: number; name: string; flag?: string }

export type Statement = Assignment | Inherit | Include | BbFunction | PythonDef | Directive | Unset;

const DIRECTIVES = new Set(['addtask', 'deltask', 'addhandler', 'EXPORT_FUNCTIONS', 'BBCLASSEXTEND_DIRECTIVE', 'addpylib']);
// A variable name: letters, digits and _-./+~ plus ${...} references; overrides after ':'.
const NAME = String.raw`(?:[A-Za-z0-9_\-./+~]|\$\{[^}\s]+\})+`;
const ASSIGN_RE = new RegExp(String.raw`^(export\s+)?(${NAME}(?::${NAME})*)(?:\[([A-Za-z0-9_\-.]+)\])?\s*(\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*(.*)$`);
const FUNC_RE = new RegExp(String.raw`^(fakeroot\s+)?(python\s+)?(fakeroot\s+)?(${NAME}(?::${NAME})*)?\s*\(\s*\)\s*\{\s*$`);
const DEF_RE = /^def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(.*\)\s*(->\s*[^:]+)?:\s*(#.*)?$/;

/** Thrown for anything the reader refuses. */
export class BitbakeSyntaxError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'BitbakeSyntaxError';
  }
}

/** Splits `SRC_URI:append:qemuarm64` into base and overrides, keeping `${...}` whole. */
export function splitOverrides(name: string): { base: string; overrides: string[] } {
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '$' && name[i + 1] === '{') depth++;
    if (c === '}' && depth > 0) depth--;
    if (c === ':' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return { base: parts[0], overrides: parts.slice(1) };
}

/**
 * Joins a physical line with the following ones while it ends with a backslash, as
 * BitBake does before it matches anything: the backslash goes, the next line is
 * appended as it is.
 */
function joinContinued(lines: string[], i: number): { text: string; used: number } {
  let text = lines[i];
  let used = 0;
  while (text.endsWith('\\')) {
    if (i + used + 1 >= lines.length) throw new BitbakeSyntaxError('', i + 1, 'line continuation at the end of the file');
    used++;
    text = text.slice(0, -1) + lines[i + used];
  }
  return { text, used };
}

/** Reads BitBake metadata text. `file` names it in errors. */
export function readBitbake(text: string, file = '<text>'): Statement[] {
  if (Buffer.byteLength(text) > MAX_BYTES) throw new BitbakeSyntaxError(file, 0, `larger than ${MAX_BYTES} bytes`);
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.length > MAX_LINES) throw new BitbakeSyntaxError(file, 0, `more than ${MAX_LINES} lines`);
  const out: Statement[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;

    const def = DEF_RE.exec(raw);
    if (def) {
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1].trim() === '' || /^\s/.test(lines[i + 1]))) {
        body.push(lines[++i]);
        if (body.length > MAX_FUNCTION_LINES) throw new BitbakeSyntaxError(file, lineNo, `def ${def[1]} is longer than ${MAX_FUNCTION_LINES} lines`);
      }
      if (!body.some((l) => l.trim() !== '')) throw new BitbakeSyntaxError(file, lineNo, `def ${def[1]} has no body`);
      out.push({ kind: 'def', line: lineNo, name: def[1], body: body.join('\n') });
      continue;
    }

    const fn = FUNC_RE.exec(trimmed);
    if (fn && raw === raw.trimStart()) {
      const body: string[] = [];
      let closed = false;
      while (++i < lines.length) {
        if (lines[i] === '}' || /^}\s*(#.*)?$/.test(lines[i])) {
          closed = true;
          break;
        }
        body.push(lines[i]);
        if (body.length > MAX_FUNCTION_LINES) throw new BitbakeSyntaxError(file, lineNo, `function longer than ${MAX_FUNCTION_LINES} lines`);
      }
      if (!closed) throw new BitbakeSyntaxError(file, lineNo, `function ${fn[4] ?? '(anonymous)'} has no closing } at the start of a line`);
      out.push({ kind: 'function', line: lineNo, name: fn[4] ?? '', lang: fn[2] ? 'python' : 'shell', fakeroot: Boolean(fn[1] || fn[3]), body: body.join('\n') });
      continue;
    }

    let joined: string;
    let used: number;
    try {
      ({ text: joined, used } = joinContinued(lines, i));
    } catch (e) {
      throw new BitbakeSyntaxError(file, lineNo, (e as Error).message);
    }
    const assign = ASSIGN_RE.exec(joined.trim());
    if (assign) {
      // Like BitBake: the value runs from the first quote to the same quote ending the line.
      const q = /^(["'])(.*)\1\s*$/s.exec(assign[5]);
      if (!q) throw new BitbakeSyntaxError(file, lineNo, `value must be quoted and the quote must end the line: ${assign[5].slice(0, 40)}`);
      const { base, overrides } = splitOverrides(assign[2]);
      const stmt: Assignment = {
        kind: 'assign', line: lineNo, name: assign[2], base, overrides, op: assign[4] as AssignOp,
        value: q[2], exported: Boolean(assign[1]),
      };
      if (assign[3] !== undefined) stmt.flag = assign[3];
      out.push(stmt);
      i += used;
      continue;
    }

    const words = joined.replace(/#.*$/, '').trim().split(/\s+/);
    const word = words[0];
    if (word === 'inherit' || word === 'inherit_defer') {
      if (words.length < 2) throw new BitbakeSyntaxError(file, lineNo, `${word} names no class`);
      out.push({ kind: 'inherit', line: lineNo, deferred: word === 'inherit_defer', classes: words.slice(1) });
    } else if (word === 'require' || word === 'include') {
      const path = joined.trim().slice(word.length).trim();
      if (path === '') throw new BitbakeSyntaxError(file, lineNo, `${word} names no file`);
      out.push({ kind: 'include', line: lineNo, required: word === 'require', path });
    } else if (word === 'unset') {
      const m = /^unset\s+([^\s[]+)(?:\[([^\]]+)\])?$/.exec(joined.trim());
      if (!m) throw new BitbakeSyntaxError(file, lineNo, `cannot read: ${joined.trim().slice(0, 60)}`);
      out.push(m[2] !== undefined ? { kind: 'unset', line: lineNo, name: m[1], flag: m[2] } : { kind: 'unset', line: lineNo, name: m[1] });
    } else if (DIRECTIVES.has(word)) {
      out.push({ kind: 'directive', line: lineNo, word, args: words.slice(1) });
    } else {
      throw new BitbakeSyntaxError(file, lineNo, `cannot read: ${trimmed.slice(0, 60)}`);
    }
    i += used;
  }
  return out;
}

/** Names of the variables `${NAME}` refers to in `text` (inline python `${@...}` is skipped). */
export function references(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{([A-Za-z0-9_\-]+)(?::[^}]*)?\}/g)) names.add(m[1]);
  return names;
}

/** Variable names inline python reads with `d.getVar('NAME')` or `bb.utils.contains('NAME', ...)`. */
export function pythonReads(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?:getVar|getVarFlag|contains|contains_any|filter)\(\s*['"]([A-Za-z0-9_\-]+)['"]/g)) names.add(m[1]);
  return names;
}
