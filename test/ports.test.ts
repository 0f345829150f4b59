/**
 * One Connection port for every face: a face written here (as a legacy face would be) binds its
 * members to connections of its own, and they share one bus with WebSocket members. broadcast,
 * send and request reach them; they publish, send and ask the WebSocket members in turn; the
 * face encodes each message its own way, once per message.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BusPayload, type MessageCodec } from '../src/core/bus/message.js';
import { parseScope } from '../src/core/bus/scope.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../src/core/ports.js';
import { PeerError } from '../src/errors.js';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

/** The test face's wire format: one line of text per message. */
let encodings = 0;
const LINE: MessageCodec<string> = {
  name: 'test-line',
  encode(m) {
    encodings++;
    return `${m.kind} ${m.from}${m.scope ? ` ${m.scope}` : ''} ${m.payload.isBytes ? m.payload.base64 : m.payload.jsonText}`;
  },
};

/** A connection of the test face: keeps what it is handed, answers requests by echoing. */
class LineConnection implements Connection {
  readonly id = randomUUID();
  readonly face = 'test-line';
  readonly lines: string[] = [];
  readonly others: Outbound[] = [];
  open = true;
  #listeners: ((reason: string) => void)[] = [];
  constructor(readonly capacity = 100) {}
  get backlog(): Backlog {
    return { messages: this.lines.length, bytes: 0 };
  }
  deliver(out: Outbound): boolean {
    if (!this.open) return false;
    if (out.type !== 'bus') { this.others.push(out); return true; }
    if (this.lines.length >= this.capacity) return false;
    this.lines.push(out.encoded(LINE));
    return true;
  }
  async request(req: BusRequest): Promise<BusPayload> {
    // The member's own error answer: a PeerError, as the port says (the face's transport failures would be MusterErrors).
    if (req.method === 'fail') throw new PeerError({ code: -32000, message: 'not now' });
    return BusPayload.of({ echoed: req.payload.toJSONValue(), from: req.from, method: req.method });
  }
  close(reason: string): void {
    this.open = false;
    for (const l of this.#listeners) l(reason);
  }
  onClose(listener: (reason: string) => void): void {
    this.#listeners.push(listener);
  }
}

let h: TestHub;
let ws: RpcPeer;
let other: RpcPeer;
let line: LineConnection;

const until = async (what: () => boolean, label: string) => {
  const deadline = Date.now() + 3000;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`not seen: ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const busMessages = (p: RpcPeer) => p.notifications.filter((n) => n.method === 'bus.message').map((n) => n.params);

before(async () => {
  h = await startHub();
  line = new LineConnection();
  // The test face registers its member the way every face does: through the core, on its connection.
  await h.hub.registry.register({ name: 'liner', type: 'line-device', liveness: 'session' }, { connection: line });
  ws = await RpcPeer.connect(h.wsUrl);
  await ws.ok('register', { name: 'ws-member', type: 'svc', liveness: 'session' });
  other = await RpcPeer.connect(h.wsUrl);
  await other.ok('register', { name: 'ws-other', type: 'svc', liveness: 'session' });
});
after(async () => {
  await ws.close();
  await other.close();
  await h.stop();
});

describe('ports - a face of our own shares the bus with WebSocket members', () => {
  test('broadcast and send from a WebSocket member reach the face, encoded its way', async () => {
    const b = await ws.ok('bus.broadcast', { data: { hello: 'all' } });
    assert.ok(b.delivered >= 2);
    await ws.ok('bus.send', { to: 'liner', data: 42 });
    assert.deepEqual(line.lines, ['broadcast ws-member {"hello":"all"}', 'send ws-member 42']);
  });

  test('a subscription of the face receives WebSocket publications', async () => {
    h.hub.bus.subscribe(line, parseScope('/shared/'), false);
    await ws.ok('bus.publish', { scope: '/shared/a/', data: 'x' });
    assert.equal(line.lines.at(-1), 'publish ws-member /shared/a/ "x"');
  });

  test('a request from a WebSocket member reaches the face; its error is MEMBER_ERROR', async () => {
    assert.deepEqual(await ws.ok('bus.request', { to: 'liner', method: 'ping', params: { n: 1 } }), { echoed: { n: 1 }, from: 'ws-member', method: 'ping' });
    const r = await ws.call('bus.request', { to: 'liner', method: 'fail' });
    assert.equal(r.error?.data?.code, 'MEMBER_ERROR');
    assert.equal(r.error?.message, 'not now');
  });

  test('the face member publishes, sends and asks WebSocket members through the same core', async () => {
    await other.ok('bus.subscribe', { scope: '/from-line/' });
    const sender = h.hub.bus.senderOf({ connection: line });
    assert.equal(sender.name, 'liner');
    h.hub.bus.publish(sender, parseScope('/from-line/'), BusPayload.of({ t: 1 }), {});
    h.hub.bus.send(sender, 'ws-member', BusPayload.of('direct'), {});
    await until(() => busMessages(other).some((m) => m.from === 'liner' && m.scope === '/from-line/'), 'publication at ws-other');
    await until(() => busMessages(ws).some((m) => m.from === 'liner' && m.kind === 'send' && m.data === 'direct'), 'send at ws-member');
    const asked = h.hub.bus.request(sender, 'ws-other', 'sum', BusPayload.of([1, 2]), 2000);
    const handle = await other.waitFor((n) => n.method === 'bus.handle');
    other.ws.send(JSON.stringify({ jsonrpc: '2.0', id: (handle as unknown as { id: string }).id, result: 3 }));
    assert.equal((await asked).toJSONValue(), 3);
  });

  test('one encoding per codec: many receivers of one face cost one encode', async () => {
    const more = [new LineConnection(), new LineConnection(), new LineConnection()];
    for (const [i, c] of more.entries()) {
      await h.hub.registry.register({ name: `liner-${i}`, type: 'line-device', liveness: 'session' }, { connection: c });
      h.hub.bus.subscribe(c, parseScope('/fan/'), false);
    }
    encodings = 0;
    await ws.ok('bus.publish', { scope: '/fan/', data: 'once' });
    assert.deepEqual(more.map((c) => c.lines.at(-1)), Array(3).fill('publish ws-member /fan/ "once"'));
    assert.equal(encodings, 1);
  });

  test('a connection that does not take a message is counted as a drop for it, not for others', async () => {
    const full = new LineConnection(0);
    await h.hub.registry.register({ name: 'full-liner', type: 'line-device', liveness: 'session' }, { connection: full });
    const dropped = h.hub.bus.totals.dropped;
    const r = await ws.ok('bus.send', { to: 'full-liner', data: 1 });
    assert.equal(r.delivered, 0);
    assert.equal(h.hub.bus.totals.dropped, dropped + 1);
    assert.equal((await ws.ok('get', { name: 'full-liner' })).stats.traffic.dropped, 1);
  });

  test('watches and lifecycle commands reach the face as domain messages', async () => {
    const { watch } = h.hub.watches.open(line, { name: 'late-comer' }, undefined);
    await h.hub.registry.register({ name: 'late-comer', type: 't' });
    await until(() => line.others.some((o) => o.type === 'event' && o.watch === watch), 'an event for the face');
  });

  test('closing the face connection ends its session members like any other', async () => {
    const c = new LineConnection();
    await h.hub.registry.register({ name: 'short-lived', type: 'line-device', liveness: { kind: 'session', graceMs: 0 } }, { connection: c });
    c.close('face stopped');
    h.hub.registry.connectionClosed(c);
    await until(() => h.hub.registry.find('short-lived') === undefined, 'the member gone');
  });
});
