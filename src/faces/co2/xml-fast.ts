/**
 * The quick way to the element tree (xml-tree.ts) for XML as XML-RPC clients write it: an
 * optional `<?xml version='1.0' ...?>` declaration, then elements without attributes, text with
 * XML's five entities and character references. Anything else (comments, CDATA, processing
 * instructions, DOCTYPE, attributes, a carriage return in text, characters XML forbids, any
 * malformation, a limit reached) returns null, and saxes reads the text instead, so every
 * refusal and every unusual form keeps saxes' answer. Where this answers, it builds the tree
 * saxes would (tested side by side in test/co2-codec.test.ts).
 */

/** An element of the tree (both readers build it). */
export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  /** Character data directly inside this element (CDATA included). */
  text: string;
}

export interface XmlLimits {
  maxDepth: number;
  maxElements: number;
}

const DECLARATION = /^<\?xml version=(["'])1\.0\1(?: encoding=(["'])[A-Za-z][A-Za-z0-9._-]*\2)?(?: standalone=(["'])(?:yes|no)\3)?[ \t\r\n]*\?>/;
/**
 * What plain text may not hold: entities (decoded below), a carriage return (line ends are
 * normalised), characters XML forbids, `]]>`, and a surrogate without its pair (saxes refuses a
 * lone low one and keeps a lone high one, so it decides both). A surrogate is special only so
 * that its pair is checked.
 */
const SPECIAL = /[&\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|\]\]>/;
const FORBIDDEN = /[\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|\]\]>|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SPACE = /^[ \t\r\n]*$/;
const ENTITY = /&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));/y;
const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function parseXmlFast(text: string, limits: XmlLimits): XmlElement | null {
  let i = 0;
  if (text.startsWith('<?xml')) {
    const m = DECLARATION.exec(text);
    if (!m) return null;
    i = m[0].length;
  }
  const n = text.length;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let count = 0;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const end = lt < 0 ? n : lt;
    if (end > i) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (!SPACE.test(text.slice(i, end))) return null;
      } else {
        const t = plainText(text.slice(i, end));
        if (t === null) return null;
        top.text += t;
      }
    }
    if (lt < 0) break;
    if (text.charCodeAt(lt + 1) === 47) { // </name>
      const top = stack.pop();
      if (top === undefined || !text.startsWith(top.name, lt + 2)) return null;
      i = lt + 2 + top.name.length;
      if (text.charCodeAt(i) !== 62) return null;
      i++;
      continue;
    }
    const nameEnd = scanName(text, lt + 1);
    if (nameEnd < 0) return null; // <!...>, <?...?>, or not a name
    let j = nameEnd;
    const empty = text.charCodeAt(j) === 47;
    if (empty) j++;
    if (text.charCodeAt(j) !== 62) return null; // attributes, or malformed
    if ((root !== null && stack.length === 0) || ++count > limits.maxElements || stack.length >= limits.maxDepth) return null;
    const el: XmlElement = { name: text.slice(lt + 1, nameEnd), children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    if (!empty) stack.push(el);
    i = j + 1;
  }
  return stack.length === 0 ? root : null;
}

/** Where an ASCII element name starting at `at` ends; -1 when there is none. */
function scanName(text: string, at: number): number {
  let c = text.charCodeAt(at);
  if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95)) return -1;
  let i = at + 1;
  for (;;) {
    c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 58) || c === 95 || c === 45 || c === 46) i++;
    else return i;
  }
}

/** Text with its entities decoded; null for anything saxes should judge. */
function plainText(s: string): string | null {
  if (!SPECIAL.test(s)) return s;
  if (FORBIDDEN.test(s)) return null;
  let out = '';
  let from = 0;
  for (let amp = s.indexOf('&'); amp >= 0; amp = s.indexOf('&', from)) {
    ENTITY.lastIndex = amp;
    const m = ENTITY.exec(s);
    if (!m) return null;
    let c: string;
    if (m[1] !== undefined) {
      c = NAMED[m[1]]!;
    } else {
      const cp = m[2] !== undefined ? Number(m[2]) : parseInt(m[3]!, 16);
      if (!isXmlChar(cp)) return null;
      c = String.fromCodePoint(cp);
    }
    out += s.slice(from, amp) + c;
    from = ENTITY.lastIndex;
  }
  return out + s.slice(from);
}

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}
