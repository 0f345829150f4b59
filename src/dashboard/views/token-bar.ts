/**
 * The token field: without one the page reads what the hub lets anyone read; with the admin
 * token (or a controller's) it can drive components and use the bus. Kept in sessionStorage:
 * it lasts as long as the tab.
 */
import { useState } from 'preact/hooks';
import { useConnection, useConnectionState } from '../hooks.js';
import { html } from '../html.js';

export function TokenBar() {
  const conn = useConnection();
  const state = useConnectionState();
  const [text, setText] = useState('');
  if (state.token) {
    return html`<div class="token">
      <span class=${'role ' + (state.admin ? 'admin' : 'member')} data-role=${state.admin ? 'admin' : 'token'}>${state.admin ? 'admin' : 'token (not admin)'}</span>
      <button type="button" name="forget-token" onClick=${() => conn.setToken(null)}>Forget token</button>
    </div>`;
  }
  return html`<form class="token" onSubmit=${(e: Event) => { e.preventDefault(); if (text.trim()) conn.setToken(text.trim()); setText(''); }}>
    <span class="role" data-role="read-only">read-only</span>
    <input type="password" name="token" autocomplete="off" placeholder="admin token" value=${text} onInput=${(e: Event) => setText((e.target as HTMLInputElement).value)} />
    <button type="submit">Use token</button>
  </form>`;
}
