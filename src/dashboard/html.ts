/** Markup as tagged templates (htm bound to Preact): no JSX step, the same virtual DOM. */
import { html as bound } from 'htm/preact';
import type { VNode } from 'preact';

export const html = bound as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
