import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BusPayload } from '../src/core/bus/message.js';
import { SubscriptionTrie } from '../src/core/bus/subscriptions.js';
import { SenderLimit } from '../src/core/bus/rate-limit.js';
import { parseScope } from '../src/core/bus/scope.js';
import { MusterError } from '../src/errors.js';

describe('bus - scopes', () => {
  test('RSB syntax: root, components, a missing trailing slash is added', () => {
    assert.deepEqual(parseScope('/'), { text: '/', parts: [] });
    assert.deepEqual(parseScope('/a/b/'), { text: '/a/b/', parts: ['a', 'b'] });
    assert.deepEqual(parseScope('/a/b'), { text: '/a/b/', parts: ['a', 'b'] });
    assert.equal(parseScope('/Z-9_x/').text, '/Z-9_x/');
  });

  test('anything else is INVALID_SCOPE', () => {
    for (const bad of ['', 'a/b/', '//', '/a//b/', '/a b/', '/a/b//', '/ä/', '/a.b/', '/a/*/', 'x'.repeat(2000)]) {
      assert.throws(() => parseScope(bad), (e: unknown) => e instanceof MusterError && e.code === 'INVALID_SCOPE', bad);
    }
  });
});

describe('bus - subscription trie', () => {
  const r = (name: string) => ({ name });
  test('a subscriber to /a/ gets /a/ and below, never /ab/; each receiver once', () => {
    const trie = new SubscriptionTrie<{ name: string }>();
    const [a, ab, root, deep] = [r('a'), r('ab'), r('root'), r('deep')];
    trie.subscribe(a, parseScope('/a/'));
    trie.subscribe(a, parseScope('/a/b/'));
    trie.subscribe(ab, parseScope('/ab/'));
    trie.subscribe(root, parseScope('/'));
    trie.subscribe(deep, parseScope('/a/b/c/'));
    const names = (s: string) => trie.route(parseScope(s), null).map((x) => x.name).sort();
    assert.deepEqual(names('/a/'), ['a', 'root']);
    assert.deepEqual(names('/a/b/'), ['a', 'root']);
    assert.deepEqual(names('/a/b/c/d/'), ['a', 'deep', 'root']);
    assert.deepEqual(names('/ab/'), ['ab', 'root']);
    assert.deepEqual(names('/b/'), ['root']);
  });

  test('the sender is left out unless its subscription asks for echo; unsubscribe prunes', () => {
    const trie = new SubscriptionTrie<{ name: string }>();
    const [s, t] = [r('s'), r('t')];
    const quiet = trie.subscribe(s, parseScope('/x/'));
    trie.subscribe(t, parseScope('/x/'));
    assert.deepEqual(trie.route(parseScope('/x/'), s).map((x) => x.name), ['t']);
    trie.subscribe(s, parseScope('/x/y/'), true);
    assert.deepEqual(trie.route(parseScope('/x/y/'), s).map((x) => x.name).sort(), ['s', 't']);
    assert.equal(trie.unsubscribe(s, quiet.id), true);
    assert.equal(trie.unsubscribe(s, quiet.id), false);
    trie.removeReceiver(s);
    assert.equal(trie.size, 1);
    assert.deepEqual(trie.route(parseScope('/x/y/'), null).map((x) => x.name), ['t']);
  });
});

describe('bus - subscription trie, after changes', () => {
  test('a route sees subscriptions added and removed at a node it routed through before', () => {
    const trie = new SubscriptionTrie<{ name: string }>();
    const [a, b] = [{ name: 'a' }, { name: 'b' }];
    trie.subscribe(a, parseScope('/n/'));
    assert.deepEqual(trie.route(parseScope('/n/'), null).map((x) => x.name), ['a']);
    const sb = trie.subscribe(b, parseScope('/n/'));
    assert.deepEqual(trie.route(parseScope('/n/'), null).map((x) => x.name), ['a', 'b']);
    trie.unsubscribe(b, sb.id);
    assert.deepEqual(trie.route(parseScope('/n/'), null).map((x) => x.name), ['a']);
    trie.removeReceiver(a);
    assert.deepEqual(trie.route(parseScope('/n/'), null), []);
  });
});

describe('bus - payloads', () => {
  test('a payload left in its frame copies whole at every length and offset (by words, and through a view when long)', () => {
    const frame = Uint8Array.from({ length: 400 }, (_, i) => (i * 7 + 3) & 0xff);
    const view = new DataView(frame.buffer);
    for (let size = 0; size <= 300; size++) {
      for (const start of [0, 1, 3]) {
        const p = BusPayload.inFrame(view, start, start + size, true);
        const want = frame.subarray(start, start + size);
        const dst = new Uint8Array(size + 8).fill(0xee);
        p.copyTo(dst, new DataView(dst.buffer), 5);
        assert.deepEqual(dst.subarray(5, 5 + size), want, `size ${size} from ${start}`);
        assert.ok(dst.subarray(0, 5).every((x) => x === 0xee) && dst.subarray(5 + size).every((x) => x === 0xee), `size ${size}: nothing written around it`);
        assert.equal(p.size, size);
        assert.equal(p.base64, Buffer.from(want).toString('base64'));
      }
    }
    const json = Buffer.from('xx{"a":1}');
    assert.deepEqual(BusPayload.inFrame(new DataView(json.buffer, json.byteOffset, json.length), 2, 9, false).toJSONValue(), { a: 1 });
  });
});

describe('bus - rate limit', () => {
  test('a burst passes, the next is refused with a retry-after, tokens come back with time', () => {
    const lim = new SenderLimit({ messagesPerSec: 10, bytesPerSec: 0, burstSec: 1 }, 0);
    for (let i = 0; i < 10; i++) assert.equal(lim.take(1, 0), 0);
    const wait = lim.take(1, 0);
    assert.ok(wait > 0 && wait <= 100, String(wait));
    assert.equal(lim.take(1, 100), 0);
  });

  test('bytes per second limit too', () => {
    const lim = new SenderLimit({ messagesPerSec: 0, bytesPerSec: 1000, burstSec: 1 }, 0);
    assert.equal(lim.take(900, 0), 0);
    assert.ok(lim.take(200, 0) > 0);
    assert.equal(lim.take(200, 200), 0);
  });
});
