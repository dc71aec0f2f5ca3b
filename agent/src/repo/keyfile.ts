/**
 * GLib key files (INI): the format of a repository's `config` and of
 * deployment `.origin` files. Parsing keeps groups, keys and comments in
 * order so a rewrite changes only what was set.
 */
import { CanopyError } from '../core/errors';

type Line = { kind: 'raw'; text: string } | { kind: 'entry'; key: string; value: string };

interface Group {
  name: string;
  lines: Line[];
}

export class KeyFile {
  private readonly head: Line[] = [];
  private readonly groups: Group[] = [];

  /** Parses key-file text. Throws ERR_CONFIG_INVALID with the line number. */
  static parse(text: string, what = 'key file'): KeyFile {
    const kf = new KeyFile();
    let current: Group | undefined;
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/\r$/, '');
      const t = line.trim();
      if (t === '' || t.startsWith('#')) {
        (current ? current.lines : kf.head).push({ kind: 'raw', text: line });
        return;
      }
      if (t.startsWith('[')) {
        if (!t.endsWith(']') || t.length < 3) throw new CanopyError('ERR_CONFIG_INVALID', `${what}:${i + 1}: malformed group header`, { line: i + 1 });
        current = kf.group(t.slice(1, -1), true)!;
        return;
      }
      const eq = line.indexOf('=');
      if (eq <= 0 || !current) throw new CanopyError('ERR_CONFIG_INVALID', `${what}:${i + 1}: expected key=value inside a [group]`, { line: i + 1 });
      current.lines.push({ kind: 'entry', key: line.slice(0, eq).trim(), value: unescapeValue(line.slice(eq + 1).trimStart()) });
    });
    // Drop the trailing empty line that a final newline produces.
    const last = kf.groups.at(-1)?.lines ?? kf.head;
    while (last.length && last.at(-1)!.kind === 'raw' && (last.at(-1) as { text: string }).text === '') last.pop();
    return kf;
  }

  private group(name: string, create: boolean): Group | undefined {
    let g = this.groups.find((x) => x.name === name);
    if (!g && create) {
      g = { name, lines: [] };
      this.groups.push(g);
    }
    return g;
  }

  groupNames(): string[] {
    return this.groups.map((g) => g.name);
  }

  hasGroup(name: string): boolean {
    return this.group(name, false) !== undefined;
  }

  keys(group: string): string[] {
    return (this.group(group, false)?.lines ?? []).flatMap((l) => (l.kind === 'entry' ? [l.key] : []));
  }

  get(group: string, key: string): string | undefined {
    const lines = this.group(group, false)?.lines ?? [];
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i];
      if (l.kind === 'entry' && l.key === key) return l.value;
    }
    return undefined;
  }

  /** A boolean as GLib reads it (`true`/`false`, also `1`/`0`), or `dflt`. */
  getBoolean(group: string, key: string, dflt: boolean): boolean {
    const v = this.get(group, key);
    if (v === undefined) return dflt;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new CanopyError('ERR_CONFIG_INVALID', `[${group}] ${key}=${v} is not a boolean`, { group, key });
  }

  set(group: string, key: string, value: string): void {
    const g = this.group(group, true)!;
    const existing = g.lines.find((l) => l.kind === 'entry' && l.key === key);
    if (existing && existing.kind === 'entry') existing.value = value;
    else {
      // Insert after the last entry, before trailing blank lines.
      let at = g.lines.length;
      while (at > 0 && g.lines[at - 1].kind === 'raw') at--;
      g.lines.splice(at, 0, { kind: 'entry', key, value });
    }
  }

  remove(group: string, key?: string): void {
    const idx = this.groups.findIndex((g) => g.name === group);
    if (idx < 0) return;
    if (key === undefined) this.groups.splice(idx, 1);
    else this.groups[idx].lines = this.groups[idx].lines.filter((l) => !(l.kind === 'entry' && l.key === key));
  }

  toString(): string {
    const out: string[] = [];
    const emit = (l: Line): void => { out.push(l.kind === 'raw' ? l.text : `${l.key}=${escapeValue(l.value)}`); };
    this.head.forEach(emit);
    this.groups.forEach((g, i) => {
      if (i > 0 && out.length && out.at(-1) !== '') out.push('');
      out.push(`[${g.name}]`);
      g.lines.forEach(emit);
    });
    return out.join('\n') + '\n';
  }
}

function unescapeValue(v: string): string {
  return v.replace(/\\([sntr\\])/g, (_, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' })[c]!);
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/^ /, '\\s');
}
