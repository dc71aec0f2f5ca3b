/**
 * `os-release` as ostree reads it for boot-entry titles: `KEY=value` lines,
 * `#` comments skipped, values unquoted the way GLib's `g_shell_unquote`
 * does (single quotes literal; in double quotes `\` escapes only `$ \` " \`
 * and newline; outside quotes `\` escapes any character). A line whose
 * value does not unquote (an open quote) is skipped. Pure.
 */

/** Largest os-release read. */
export const MAX_OS_RELEASE = 64 * 1024;

/** Unquotes like g_shell_unquote; undefined when a quote is not closed. */
export function shellUnquote(s: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return undefined;
      out += s.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const d = s[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < s.length && '$`"\\\n'.includes(s[i + 1])) {
          if (s[i + 1] !== '\n') out += s[i + 1];
          i += 2;
        } else {
          out += d;
          i++;
        }
      }
      if (!closed) return undefined;
    } else if (c === '\\') {
      if (i + 1 < s.length) {
        if (s[i + 1] !== '\n') out += s[i + 1];
        i += 2;
      } else {
        out += c;
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Parses os-release text into a map (later keys win). */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.slice(0, MAX_OS_RELEASE).split('\n')) {
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const v = shellUnquote(line.slice(eq + 1));
    if (v !== undefined) out.set(line.slice(0, eq), v);
  }
  return out;
}

/** The name ostree puts in a boot entry's title: PRETTY_NAME, else ID; undefined when neither is set. */
export function osReleaseTitle(text: string): string | undefined {
  const m = parseOsRelease(text);
  return m.get('PRETTY_NAME') ?? m.get('ID');
}
