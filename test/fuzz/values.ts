/**
 * Hostile JSON values, described compactly (a spec) and turned into text only when sent, so a
 * case that holds 100,000 levels of nesting or a megabyte string stays small and prints as its
 * recipe. Ordinary values come from fast-check's JSON arbitrary.
 */
import fc from 'fast-check';

export type ValueSpec =
  | { readonly k: 'json'; readonly v: fc.JsonValue }
  | { readonly k: 'deep'; readonly shape: 'array' | 'object' | 'mixed'; readonly depth: number }
  | { readonly k: 'huge'; readonly what: 'string' | 'array' | 'object' | 'digits' | 'escapes'; readonly size: number }
  | { readonly k: 'edge'; readonly i: number };

/** Edge values as JSON text: number limits, wrong-typed lookalikes, unicode corners, prototype keys. */
export const EDGE_TEXTS: readonly string[] = [
  'null', 'true', 'false', '0', '-0', '-1', '0.5', '1e309', '-1e309', '1e-400', '9007199254740993', '-9007199254740993',
  '1.7976931348623157e308', '5e-324', '4294967295', '4294967296', '2147483648', '65535', '65536', '1e21', '123456789012345678901234567890',
  '""', '" "', '"\\u0000"', '"\\ud800"', '"\\udc00"', '"\\udbff\\udfff"', '"\\ud83d\\ude00"', '"\\ufeff"', '"\\uffff"', '"\\ufffe"',
  '"\\u2028\\u2029"', '"\u202eevil"', '"e\u0301"', '"\u{1d54f}"', '"\u{1f469}\u200d\u{1f4bb}"', '"\\\\"', '"\\""',
  '"__proto__"', '"constructor"', '"prototype"', '"toString"', '"hasOwnProperty"', '"valueOf"', '"NaN"', '"Infinity"',
  '"../../etc/passwd"', '"%00"', '"%"', '"/"', '"//"', '"/a//b/"', '"/a/b"', '"a/b"', '"a/b/c"', '"test-hub/x"', '"h1"', '"*"', '"-"', '"."', '".."',
  `"${'x'.repeat(64)}"`, `"${'x'.repeat(65)}"`, `"${'x'.repeat(129)}"`, `"${'x'.repeat(257)}"`,
  '{}', '[]', '[null]', '[[]]', '{"":""}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}',
  '{"a":1,"a":2}', '{"kind":"ttl","ttlMs":-1}', '{"kind":"session","graceMs":1e308}', '[1,"a",null,{},[]]',
];

const depthArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 64 }) },
  { weight: 4, arbitrary: fc.constantFrom(128, 1000, 2000, 4000, 4500, 5000, 8000, 10_000, 20_000, 50_000, 100_000) },
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 100_000 }) },
);

/** Sizes around the hub's limits: 64 KiB (plantimager), 1 MiB (a WebSocket message), 4 MiB (the close threshold). */
const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  { weight: 3, arbitrary: fc.constantFrom(65_535, 65_536, 65_537, 1_048_000, 1_048_576, 1_048_577) },
  { weight: 1, arbitrary: fc.constantFrom(2_000_000, 4_194_400) },
);

/** hugeWeight: integer weight of huge values against 52 for the others (default 4). */
export function valueSpec(opts: { hugeWeight?: number } = {}): fc.Arbitrary<ValueSpec> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v): ValueSpec => ({ k: 'json', v })) },
    { weight: 20, arbitrary: fc.nat({ max: EDGE_TEXTS.length - 1 }).map((i): ValueSpec => ({ k: 'edge', i })) },
    { weight: 12, arbitrary: fc.record({ shape: fc.constantFrom('array' as const, 'object' as const, 'mixed' as const), depth: depthArb }).map((d): ValueSpec => ({ k: 'deep', ...d })) },
    {
      weight: opts.hugeWeight ?? 4,
      arbitrary: fc.record({ what: fc.constantFrom('string' as const, 'array' as const, 'object' as const, 'digits' as const, 'escapes' as const), size: sizeArb })
        .map((h): ValueSpec => ({ k: 'huge', ...h })),
    },
  );
}

export function deepText(shape: 'array' | 'object' | 'mixed', depth: number): string {
  if (shape === 'array') return '['.repeat(depth) + ']'.repeat(depth);
  if (shape === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const half = Math.ceil(depth / 2);
  return '[{"a":'.repeat(half) + 'null' + '}]'.repeat(half);
}

export function valueText(s: ValueSpec): string {
  switch (s.k) {
    case 'json': return JSON.stringify(s.v);
    case 'edge': return EDGE_TEXTS[s.i % EDGE_TEXTS.length];
    case 'deep': return deepText(s.shape, s.depth);
    case 'huge':
      switch (s.what) {
        case 'string': return `"${'x'.repeat(s.size)}"`;
        case 'array': return s.size === 0 ? '[]' : `[${'0,'.repeat(s.size - 1)}0]`;
        case 'object': return `{${Array.from({ length: Math.min(s.size, 200_000) }, (_, i) => `"k${i}":0`).join(',')}}`;
        case 'digits': return '9'.repeat(Math.max(1, s.size));
        case 'escapes': return `"${'\\u0000'.repeat(Math.ceil(s.size / 6))}"`;
      }
  }
}

export function describeValue(s: ValueSpec): string {
  switch (s.k) {
    case 'json': { const t = JSON.stringify(s.v); return t.length > 80 ? `${t.slice(0, 80)}…` : t; }
    case 'edge': return EDGE_TEXTS[s.i % EDGE_TEXTS.length].slice(0, 80);
    case 'deep': return `deep ${s.shape} x${s.depth}`;
    case 'huge': return `huge ${s.what} of ${s.size}`;
  }
}

/** Keys worth adding to objects: prototype names, protocol field names, empty, long, control characters. */
export const keyArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', 'jsonrpc', 'id', 'method', 'params', 'result', 'error', 'data',
    'bytes', 'from', 'to', 'scope', 'token', 'name', 'liveness', '\u0000', 'a'.repeat(300), 'é', '\ud800'),
  fc.string({ maxLength: 12 }),
);
