/** The depth cap read from JSON text before parsing: strings (escapes, brackets inside them) never count. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonTooDeep } from '../src/schemas/json-depth.js';

/** The nesting depth of a parsed value: what the text scan must agree with. */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + children.reduce((m: number, c) => Math.max(m, depthOf(c)), 0);
}

// Strings that end in backslashes, hold escaped quotes and brackets: a scan that ends a string at the
// wrong quote miscounts the brackets that follow.
const TRICKY = ['\\', '\\\\', '"', '\\"', '[[[', ']]]', '{"a":[', 'x\\"]}', '"\\\\"[', ''];

function randomValue(depth: number, rnd: () => number): unknown {
  if (depth === 0 || rnd() < 0.2) return rnd() < 0.5 ? TRICKY[Math.floor(rnd() * TRICKY.length)] : Math.floor(rnd() * 100);
  const n = 1 + Math.floor(rnd() * 3);
  if (rnd() < 0.5) return Array.from({ length: n }, () => randomValue(depth - 1, rnd));
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${TRICKY[i % TRICKY.length]}${i}`, randomValue(depth - 1, rnd)]));
}

test('jsonTooDeep agrees with the parsed depth, whatever the strings hold', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 2_000; i++) {
    const text = JSON.stringify(randomValue(1 + Math.floor(rnd() * 9), rnd));
    const depth = depthOf(JSON.parse(text));
    for (const max of [1, 2, 4, 8]) assert.equal(jsonTooDeep(text, max), depth > max, `${text} at max ${max}`);
  }
});

test('a frame of brackets past the cap is refused, the same brackets inside a string are not', () => {
  const brackets = '['.repeat(100) + ']'.repeat(100);
  assert.equal(jsonTooDeep(brackets, 64), true);
  assert.equal(jsonTooDeep(JSON.stringify({ s: brackets }), 64), false);
  assert.equal(jsonTooDeep(JSON.stringify({ s: `\\"${brackets}` }), 64), false);
  // An unterminated string cannot hide brackets from JSON.parse, which refuses it anyway.
  assert.equal(jsonTooDeep(`["${brackets}`, 64), false);
});
