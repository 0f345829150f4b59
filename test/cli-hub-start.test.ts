/** `muster hub` as a person starts it: what it prints, its flags, and what it says about bad ones. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { runMuster as muster } from './support/cli.js';
import { spawnHub, tempDir } from './support/hub.js';

describe('cli hub start', () => {
  test('cli hub start - prints where it listens, where its data is and the /v1/info URL', async () => {
    const data = tempDir();
    const p = await spawnHub(['--data', data]);
    try {
      const lines = p.stdout().split('\n');
      assert.equal(lines[0], `muster hub listening on ${p.url}`);
      assert.ok(lines.includes(`  data:      ${resolve(data)} (SQLite)`), p.stdout());
      assert.ok(lines.includes(`  info:      ${p.url}/v1/info`), p.stdout());
      const info = (await (await fetch(`${p.url}/v1/info`)).json()) as { hubId: string };
      assert.equal(typeof info.hubId, 'string');
    } finally {
      await p.kill();
      rmSync(data, { recursive: true, force: true });
    }
  });

  test('cli hub start - a hub restarted on its data says it loads the store, then how many members it loaded and in how long', async () => {
    const data = tempDir();
    let p = await spawnHub(['--data', data]);
    try {
      for (let i = 0; i < 30; i++) {
        const r = await fetch(`${p.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'loaded', name: `m-${i}` }) });
        assert.equal(r.status, 201);
      }
      await p.kill();
      p = await spawnHub(['--data', data, '--log-level', 'info']);
      // Log lines are written asynchronously: they may follow the listening line by a moment.
      for (let t = 0; t < 100 && !p.stdout().includes('store loaded'); t++) await new Promise((r) => setTimeout(r, 50));
      const logged = p.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; members?: number; ms?: number });
      assert.ok(logged.some((l) => l.msg === 'loading the store'), p.stdout());
      const loaded = logged.find((l) => l.msg.startsWith('store loaded'));
      assert.equal(loaded?.msg, 'store loaded: 30 members', p.stdout());
      assert.equal(typeof loaded?.ms, 'number');
    } finally {
      await p.kill();
      rmSync(data, { recursive: true, force: true });
    }
  });

  test('cli hub start - a bad --sync or --log-level names the flag and the values it takes, exit 1', async () => {
    const sync = await muster(['hub', '--sync', 'fast', '--port', '0']);
    assert.equal(sync.code, 1);
    assert.match(sync.stderr, /--sync/);
    assert.match(sync.stderr, /full, normal/);
    const level = await muster(['hub', '--log-level', 'loud', '--port', '0']);
    assert.equal(level.code, 1);
    assert.match(level.stderr, /--log-level.*\n?.*fatal, error, warn, info, debug, trace, silent/);
  });

  test('cli hub start - --tls-cert without --tls-key is refused with exit 1', async () => {
    const r = await muster(['hub', '--tls-cert', 'cert.pem', '--port', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--tls-cert and --tls-key go together/);
  });

  test('cli hub start - --tls-cert and --tls-key serve HTTPS', async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const p = await spawnHub(['--data', join(dir, 'data'), '--tls-cert', cert, '--tls-key', key]);
    try {
      assert.match(p.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((done, fail) => {
        request(`${p.url}/healthz`, { ca: readFileSync(cert) }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => { text += d.toString(); });
          res.on('end', () => done(text));
        }).on('error', fail).end();
      });
      assert.deepEqual(JSON.parse(body), { ok: true });
    } finally {
      await p.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
