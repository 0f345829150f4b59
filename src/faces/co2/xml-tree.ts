/**
 * XML text to a small element tree, with the caps that keep hostile input cheap: element depth and
 * count are checked as the parser goes, and any DOCTYPE is refused outright (no DTD, so no entity
 * expansion and no external entities: only XML's five entities and character references exist).
 * saxes checks well-formedness; attributes, comments and processing instructions are ignored, as
 * XML-RPC has no use for them. Plain XML-RPC as clients write it is read by xml-fast.ts first.
 */
import { SaxesParser } from 'saxes';
import { parseXmlFast, type XmlElement, type XmlLimits } from './xml-fast.js';

export type { XmlElement, XmlLimits };

export type TreeResult =
  | { readonly ok: true; readonly root: XmlElement }
  | { readonly ok: false; readonly code: 'PARSE_ERROR' | 'INVALID_REQUEST' | 'INVALID_PARAMS' | 'PAYLOAD_TOO_LARGE'; readonly message: string };

/** Thrown from inside the parser's handlers to stop it at the first refusal. */
class Refusal extends Error {
  constructor(readonly code: 'INVALID_REQUEST' | 'INVALID_PARAMS' | 'PAYLOAD_TOO_LARGE', message: string) {
    super(message);
  }
}

export function parseXmlTree(text: string, limits: XmlLimits): TreeResult {
  // XML-RPC as clients write it takes the quick way; whatever it leaves (unusual forms, every error) saxes reads.
  const fast = parseXmlFast(text, limits);
  if (fast) return { ok: true, root: fast };
  return parseWithSaxes(text, limits);
}

/** The element tree through saxes (exported for the side-by-side test of the quick way). */
export function parseWithSaxes(text: string, limits: XmlLimits): TreeResult {
  const parser = new SaxesParser({ position: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let count = 0;
  parser.on('doctype', () => {
    throw new Refusal('INVALID_REQUEST', 'DOCTYPE is not allowed');
  });
  parser.on('opentag', (tag) => {
    if (++count > limits.maxElements) throw new Refusal('PAYLOAD_TOO_LARGE', `More than ${limits.maxElements} elements`);
    // Only values nest deeply in XML-RPC: the same code as the value depth cap.
    if (stack.length >= limits.maxDepth) throw new Refusal('INVALID_PARAMS', `Elements nested deeper than ${limits.maxDepth} levels`);
    const el: XmlElement = { name: tag.name, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const addText = (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, code: err.code, message: err.message };
    return { ok: false, code: 'PARSE_ERROR', message: `Malformed XML: ${firstLine(err)}` };
  }
  if (!root) return { ok: false, code: 'PARSE_ERROR', message: 'Malformed XML: no root element' };
  return { ok: true, root };
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 200);
}
