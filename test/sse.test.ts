import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHub, type TestHub } from './support/hub.js';

let h: TestHub;
before(async () => { h = await startHub({ eventRetention: 20 }); });
after(async () => { await h.stop(); });

async function register(name: string, type = 'sse'): Promise<{ id: string; token: string }> {
  const res = await fetch(h.url + '/v1/members', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, type }) });
  return res.json() as Promise<{ id: string; token: string }>;
}

/** Reads SSE frames from a response until `count` events arrived or the time is up. */
async function readEvents(res: Response, count: number, timeoutMs = 3000): Promise<{ id: string; event: string; data: any }[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: { id: string; event: string; data: any }[] = [];
  let buf = '';
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), deadline - Date.now()))]);
    if (!chunk || chunk.done) break;
    buf += decoder.decode(chunk.value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f: Record<string, string> = {};
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(': ');
        f[line.slice(0, c)] = line.slice(c + 2);
      }
      if (f.data) events.push({ id: f.id!, event: f.event!, data: JSON.parse(f.data) });
    }
  }
  await reader.cancel();
  return events;
}

describe('sse - GET /v1/events', () => {
  test('replays after since, then streams live, with revision ids', async () => {
    const start = ((await (await fetch(h.url + '/v1/info')).json()) as any).revision;
    await register('s-1');
    const ctl = new AbortController();
    const res = await fetch(`${h.url}/v1/events?since=${start}&type=sse`, { signal: ctl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reading = readEvents(res, 2);
    await register('s-2');
    await register('other', 'not-sse');
    const events = await reading;
    assert.deepEqual(events.map((e) => `${e.event}:${e.data.member.name}`), ['added:s-1', 'added:s-2']);
    assert.equal(events[0]!.id, String(events[0]!.data.revision));
    ctl.abort();
  });

  test('an unfiltered replay names every event as it was', async () => {
    // Replayed events are read from the log's JSON (their objects are let go once delivered).
    const start = ((await (await fetch(h.url + '/v1/info')).json()) as any).revision;
    const a = await register('s-named');
    await fetch(`${h.url}/v1/members/${a.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${a.token}` }, body: JSON.stringify({ address: 'b:2' }) });
    await fetch(`${h.url}/v1/members/${a.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${a.token}` } });
    const events = await readEvents(await fetch(`${h.url}/v1/events?since=${start}`), 3);
    assert.deepEqual(events.map((e) => `${e.event}:${e.data.type}:${e.data.member.name}`), ['added:added:s-named', 'updated:updated:s-named', 'removed:removed:s-named']);
  });

  test('Last-Event-ID resumes where the client left off', async () => {
    const a = await register('s-3');
    const first = await fetch(`${h.url}/v1/events?name=s-3`, { headers: {} });
    const reading = readEvents(first, 1);
    await fetch(`${h.url}/v1/members/${a.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${a.token}` }, body: JSON.stringify({ address: 'a:1' }) });
    const [seen] = await reading;
    await fetch(`${h.url}/v1/members/${a.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${a.token}` } });
    const again = await fetch(`${h.url}/v1/events?name=s-3`, { headers: { 'last-event-id': seen!.id } });
    const rest = await readEvents(again, 1);
    assert.equal(rest[0]!.event, 'removed');
    assert.equal(rest[0]!.data.reason, 'unregistered');
  });

  test('a since older than the log answers 410 COMPACTED', async () => {
    for (let i = 0; i < 25; i++) await register(`fill-${i}`);
    const res = await fetch(`${h.url}/v1/events?since=1`);
    assert.equal(res.status, 410);
    const body = await res.json() as any;
    assert.equal(body.error.code, 'COMPACTED');
  });

  test('bad filters answer INVALID_PARAMS', async () => {
    const res = await fetch(`${h.url}/v1/events?types=nonsense`);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.code, 'INVALID_PARAMS');
    const bad = await fetch(`${h.url}/v1/events?since=abc`);
    assert.equal(bad.status, 400);
  });
});
