import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBenchHub, pinSelf } from './_hub-process.js';
import { pipelineAlone, procUse } from './_durable.js';
import { randomToken } from '../src/client/register-retry.js';

pinSelf(1);
const plain = (i: number, p: string) =>
  `{"jsonrpc":"2.0","id":${i},"method":"register","params":{"name":"${p}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":3600000}}}`;
const withToken = (i: number, p: string) =>
  `{"jsonrpc":"2.0","id":${i},"method":"register","params":{"name":"${p}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":3600000},"newToken":"${randomToken()}"}}`;
const hub = await spawnBenchHub({ dataDir: mkdtempSync(join(tmpdir(), 'ab-')), core: 0, sync: 'full' });
const window = Number(process.env.WINDOW ?? 64);
await pipelineAlone(hub.wsUrl, { frames: 1e6, perFrame: 1, window, maxMs: 3000, frame: (i) => plain(i, 'w') });
await pipelineAlone(hub.wsUrl, { frames: 1e6, perFrame: 1, window, maxMs: 2000, frame: (i) => withToken(i, 'wt') });
const out: Record<string, string[]> = { plain: [], token: [] };
for (let r = 0; r < 4; r++) {
  for (const [k, f] of [['plain', plain], ['token', withToken]] as const) {
    const a = procUse(hub.pid);
    const res = await pipelineAlone(hub.wsUrl, { frames: 1e6, perFrame: 1, window, maxMs: 1500, frame: (i) => f(i, `${k}${r}`) });
    const b = procUse(hub.pid);
    if (res.errors) throw new Error(res.firstError ?? 'error');
    out[k]!.push(`${res.perSecond}/s ${((b.main - a.main) * 1000 / res.requests).toFixed(1)}+${((b.others - a.others) * 1000 / res.requests).toFixed(1)}µs`);
  }
}
console.log(JSON.stringify(out, null, 1));
await hub.kill('SIGTERM');
