/**
 * A cap on how deeply JSON may nest, checked on the text before it is parsed. Deep values are
 * cheap to send (a 9 KB frame holds 4,500 levels) and expensive to handle: JSON.stringify throws
 * past a few thousand levels and JSON.parse of a 1 MB frame of brackets blocks the event loop for
 * most of a second. Every face checks what it decodes with these, so nothing deeper than
 * MAX_JSON_DEPTH reaches the core.
 */

/** Arrays and objects nested deeper than this (counting a message's own envelope) are refused. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** True when JSON text nests arrays and objects deeper than `max`. One pass, no allocation; strings are skipped. */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  // Deeper than max needs more than max opening brackets.
  if (text.length <= max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Most of a frame is strings (ids, tokens, payloads): the native search jumps to their end.
      i = stringEnd(text, i);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}

/** The index of the quote that closes the string opened at `open` (text.length if none does). */
function stringEnd(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  while (q !== -1) {
    // A quote after an odd run of backslashes is escaped: the string goes on.
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return text.length;
}

/** jsonTooDeep over UTF-8 bytes: as latin1 each byte is one character, and the brackets, quotes and backslash are ASCII. */
export function jsonBytesTooDeep(bytes: Uint8Array, max = MAX_JSON_DEPTH): boolean {
  return bytes.byteLength > max && jsonTooDeep(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), max);
}

/**
 * The `id` member and whether a `method` member is present at the top level of a JSON object's
 * text, read without parsing the rest: a frame refused for its depth is still answered under
 * its id (or settles the hub request it answers).
 */
export function topLevelFields(text: string): { id: string | number | null; hasMethod: boolean } {
  let depth = 0;
  let id: string | number | null = null;
  let hasMethod = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      if (depth !== 1) continue;
      const key = text.slice(start + 1, i);
      const after = /^\s*:\s*/.exec(text.slice(i + 1, i + 17));
      if (!after) continue;
      if (key === 'method') hasMethod = true;
      else if (key === 'id') id = primitiveAt(text, i + 1 + after[0].length);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return { id, hasMethod };
}

/** A JSON string or number starting at `at` (and ending where a value may end), or null. */
function primitiveAt(text: string, at: number): string | number | null {
  const m = /^("(?:[^"\\]|\\.){0,128}"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(?:[,}]|$)/.exec(text.slice(at, at + 300));
  if (!m) return null;
  try {
    const v = JSON.parse(m[1]!) as unknown;
    return typeof v === 'string' || typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
}
