/** A JSON config editor: the text is checked as you type, and only a JSON object can be sent. */
import { html } from '../html.js';

export type Checked = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly error: string };

export function checkConfig(text: string): Checked {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'a config is a JSON object: {"key": value, …}' };
  return { ok: true, value: value as Record<string, unknown> };
}

export function ConfigEditor(props: { text: string; onText: (t: string) => void }) {
  const checked = checkConfig(props.text);
  return html`<div class="config-editor">
    <textarea name="config" rows="6" spellcheck="false" aria-invalid=${checked.ok ? 'false' : 'true'}
      onInput=${(e: Event) => props.onText((e.target as HTMLTextAreaElement).value)}>${props.text}</textarea>
    <div class=${checked.ok ? 'valid' : 'invalid'} data-check>${checked.ok ? '✓ valid config' : checked.error}</div>
  </div>`;
}
