/**
 * Hub-provided text made safe for a terminal. Anyone who can register writes text the CLI prints
 * (addresses, meta, lifecycle errors, bus payloads, error messages): raw control characters in it
 * could move the cursor, rewrite the screen or the window title (ESC, C1 CSI), and bidi controls
 * could reorder what the operator reads. They are shown escaped instead: `\x1b`, `\u202e`.
 */

/** C0, DEL and C1 (Cc), and the bidi controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI). */
const UNSAFE = /[\p{Cc}\p{Bidi_Control}]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const hex = (c: string, digits: number) => c.charCodeAt(0).toString(16).padStart(digits, '0');

/** The text with every unsafe character escaped (`\n`, `\x1b`, `\x9b`, `\u202e`); other text unchanged. */
export function visible(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? (c.charCodeAt(0) < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/**
 * JSON.stringify, with the unsafe characters it leaves raw (DEL, C1, bidi) written as `\uXXXX`.
 * Still valid JSON for the same value: outside strings JSON text is ASCII, so they are all inside strings.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, (c) => `\\u${hex(c, 4)}`);
}
