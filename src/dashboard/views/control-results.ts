/** Configure and stop through the SDK's controller, and their answers as the operator reads them. */
import { controller, type MusterClient } from '../../client/index.js';
import { errorText } from '../format.js';
import { html } from '../html.js';

export interface Outcome {
  readonly name: string;
  readonly command: 'configure' | 'stop';
  /** OK, ERROR, FINISHED OK / FINISHED ERROR, or the hub's refusal code. */
  readonly answer: string;
  readonly good: boolean;
  readonly text: string;
}

export async function configureOne(client: MusterClient, name: string, config: Record<string, unknown>): Promise<Outcome> {
  try {
    const r = await controller(client).configure(name, config);
    return { name, command: 'configure', answer: r.ok ? 'OK' : 'ERROR', good: r.ok, text: r.ok ? `now ${r.state}` : (r.error ?? '') };
  } catch (err) {
    return refused(name, 'configure', err);
  }
}

export async function stopOne(client: MusterClient, name: string): Promise<Outcome> {
  try {
    const r = await controller(client).stop(name);
    return { name, command: 'stop', answer: `FINISHED ${r.outcome}`, good: r.outcome === 'OK', text: r.details.join('; ') };
  } catch (err) {
    return refused(name, 'stop', err);
  }
}

/** The hub or the component refused the command (UNAUTHORIZED, INVALID_STATE, TIMEOUT, ...). */
export function refused(name: string, command: Outcome['command'], err: unknown): Outcome {
  const code = (err as { code?: unknown }).code;
  return { name, command, answer: typeof code === 'string' ? code : 'ERROR', good: false, text: errorText(err) };
}

export function Outcomes(props: { outcomes: readonly Outcome[] }) {
  if (!props.outcomes.length) return html``;
  return html`<table class="outcomes" aria-live="polite"><thead><tr><th>member</th><th>command</th><th>answer</th><th></th></tr></thead><tbody>
    ${props.outcomes.map((o) => html`<tr data-outcome=${o.name} class=${o.good ? 'good' : 'bad'}><td>${o.name}</td><td>${o.command}</td><td><b>${o.answer}</b></td><td>${o.text}</td></tr>`)}
  </tbody></table>`;
}
