// The Prefer request header (RFC 7240): preferences by lower-cased name, the first of each kept.

/** One preference: its value (undefined when it has none) and its parameters. */
export interface Preference {
  value: string | undefined;
  params: Map<string, string | undefined>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Splits on `separator` outside quoted strings. */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted && char === "\\" && i + 1 < text.length) {
      current += char + (text[i + 1] as string);
      i++;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === separator && !quoted) {
      parts.push(current);
      current = "";
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

function unquote(word: string): string {
  if (word.length >= 2 && word.startsWith('"') && word.endsWith('"')) {
    return word.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return word;
}

/** `name [= value]`, or undefined when the name is not a token. */
function nameValue(text: string): [string, string | undefined] | undefined {
  const at = text.indexOf("=");
  const name = (at === -1 ? text : text.slice(0, at)).trim();
  if (!TOKEN.test(name)) return undefined;
  const value = at === -1 ? undefined : unquote(text.slice(at + 1).trim());
  return [name.toLowerCase(), value === "" ? undefined : value];
}

/**
 * Parses Prefer header values (several headers arrive joined by commas). Malformed preferences are
 * skipped, never an error: a preference is only a wish. The first instance of a name wins.
 */
export function parsePrefer(header: string | null | undefined): Map<string, Preference> {
  const preferences = new Map<string, Preference>();
  if (header === null || header === undefined) return preferences;
  for (const item of splitOutsideQuotes(header, ",")) {
    const [head = "", ...rest] = splitOutsideQuotes(item, ";");
    const pair = nameValue(head);
    if (pair === undefined || preferences.has(pair[0])) continue;
    const params = new Map<string, string | undefined>();
    for (const param of rest) {
      const parsed = nameValue(param);
      if (parsed !== undefined && !params.has(parsed[0])) params.set(parsed[0], parsed[1]);
    }
    preferences.set(pair[0], { value: pair[1], params });
  }
  return preferences;
}

/** Whether the caller asked for an asynchronous answer (`Prefer: respond-async`). */
export function prefersAsync(header: string | null | undefined): boolean {
  return parsePrefer(header).has("respond-async");
}
