/** The dashboard's entry: one connection to the hub that served the page, and the app over it. */
import { render } from 'preact';
import { App } from './app.js';
import { HubConnection } from './connection.js';
import { html } from './html.js';

const connection = new HubConnection(location.origin);
connection.start();
const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} connection=${connection} />`, root);
}
