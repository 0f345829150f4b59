import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveConfig } from '../src/config.js';
import { spawnHub, tempDir } from './support/hub.js';

describe('config - layers', () => {
  test('defaults < file < environment < flags', () => {
    const dir = tempDir();
    const file = join(dir, 'muster.json');
    writeFileSync(file, JSON.stringify({ port: 7100, hubName: 'from-file', maxMembers: 10, ttlMs: 5000 }));
    const c = resolveConfig({ file, env: { MUSTER_MAX_MEMBERS: '20', MUSTER_HUB_NAME: 'from-env' }, flags: { maxMembers: 30, port: undefined } });
    assert.equal(c.port, 7100, 'file over default');
    assert.equal(c.hubName, 'from-env', 'env over file');
    assert.equal(c.maxMembers, 30, 'flag over env');
    assert.equal(c.ttlMs, 5000);
    assert.equal(c.host, '127.0.0.1', 'loopback by default');
    rmSync(dir, { recursive: true, force: true });
  });

  test('object keys come from the environment as JSON; a plantimager port may be a number in a file', () => {
    const c = resolveConfig({ env: { MUSTER_BUS_RATE_LIMITS: '{"*":{"messagesPerSec":5,"bytesPerSec":0,"burstSec":1}}' } });
    assert.deepEqual(c.busRateLimits['*'], { messagesPerSec: 5, bytesPerSec: 0, burstSec: 1 });
    assert.throws(() => resolveConfig({ env: { MUSTER_BUS_RATE_LIMITS: '{oops' } }), /MUSTER_BUS_RATE_LIMITS must be JSON/);
    const dir = tempDir();
    const file = join(dir, 'muster.json');
    writeFileSync(file, JSON.stringify({ plantimager: 5555 }));
    assert.equal(resolveConfig({ file }).plantimager, '5555');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a bad value names the key', () => {
    assert.throws(() => resolveConfig({ env: { MUSTER_PORT: 'seventy' } }), /config\.port/);
    assert.throws(() => resolveConfig({ flags: { sync: 'sometimes' as 'full' } }), /config\.sync/);
  });

  test('muster hub refuses an invalid config file with a readable message', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"port": ');
    await assert.rejects(spawnHub(['--config', file, '--data', dir]), /not valid JSON/);
    writeFileSync(file, JSON.stringify({ colour: 'red' }));
    await assert.rejects(spawnHub(['--config', file, '--data', dir]), /config/);
    rmSync(dir, { recursive: true, force: true });
  });
});
