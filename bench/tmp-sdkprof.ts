import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { spawnBenchHub, pinSelf } from './_hub-process.js';
import { procUse } from './_durable.js';
import { connect as sdkConnect } from '../src/client/index.js';

pinSelf(1);
const hub = await spawnBenchHub({ dataDir: mkdtempSync(join(tmpdir(), 'prof-')), core: 0, sync: 'full' });
const workers = Number(process.env.WINDOW ?? 64);
async function phase(prefix: string, ms: number) {
  const client = await sdkConnect({ url: hub.wsUrl, reconnect: false });
  const a = procUse(hub.pid); const c0 = process.cpuUsage();
  let done = 0; const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; performance.now() - t0 < ms; i++) {
      await client.register({ name: `${prefix}-${w}-${i}`, type: 'bench', liveness: { kind: 'ttl', ttlMs: 3_600_000 } });
      done++;
    }
  }));
  const sec = (performance.now() - t0) / 1000; const b = procUse(hub.pid); const c = process.cpuUsage(c0);
  await client.close();
  return { rate: Math.round(done / sec), hubMainUs: +((b.main - a.main) * 1000 / done).toFixed(1), hubOthersUs: +((b.others - a.others) * 1000 / done).toFixed(1), sdkUs: +((c.user + c.system) / done).toFixed(1) };
}
await phase('w', 3000);
const s = new Session(); s.connect();
if (process.env.PROF === '1') { await s.post('Profiler.enable'); await s.post('Profiler.setSamplingInterval', { interval: 200 }); await s.post('Profiler.start'); }
for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) console.log(JSON.stringify(await phase(`m${r}`, 3000)));
if (process.env.PROF === '1') { const { profile } = await s.post('Profiler.stop'); writeFileSync('/tmp/prof/sdk.cpuprofile', JSON.stringify(profile)); }
await hub.kill('SIGTERM');
