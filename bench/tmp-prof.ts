import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBenchHub, pinSelf } from './_hub-process.js';
import { pipelineAlone, procUse } from './_durable.js';

pinSelf(1);
const register = (i: number, p: string) =>
  `{"jsonrpc":"2.0","id":${i},"method":"register","params":{"name":"${p}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":3600000}}}`;
const prof = process.env.PROF === '1';
const hub = await spawnBenchHub({ dataDir: mkdtempSync(join(tmpdir(), 'prof-')), core: 0, sync: (process.env.SYNC as 'full') ?? 'full',
  nodeArgs: prof ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', '--cpu-prof-interval=200'] : [] });
const window = Number(process.env.WINDOW ?? 64);
await pipelineAlone(hub.wsUrl, { frames: 1e6, perFrame: 1, window, maxMs: 3000, frame: (i) => register(i, 'w') });
for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) {
  const a = procUse(hub.pid);
  const res = await pipelineAlone(hub.wsUrl, { frames: 1e6, perFrame: 1, window, maxMs: 3000, frame: (i) => register(i, `m${r}`) });
  const b = procUse(hub.pid);
  console.log(JSON.stringify({ rate: res.perSecond, mainUs: ((b.main - a.main) * 1000 / res.requests).toFixed(1), othersUs: ((b.others - a.others) * 1000 / res.requests).toFixed(1), errors: res.errors }));
}
await hub.kill('SIGTERM');
