import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { MusterError } from '../src/errors.js';
import { Registry } from '../src/core/registry/registry.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { ADMIN_TOKEN, tempDir } from './support/hub.js';

const dir = tempDir('muster-core-');
let store: SqliteStore;
let registry: Registry;
before(async () => {
  store = new SqliteStore({ dataDir: dir, synchronous: 'normal' });
  registry = await Registry.open({ store, hubId: 'core', adminToken: ADMIN_TOKEN, maxMembers: 5000 });
});
after(async () => {
  registry.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const stored = (id: string, name: string) => ({ id, name, type: 't', address: '', meta: {}, liveness: { kind: 'ttl' as const, ttlMs: 60_000 }, tokenHash: id, registeredAt: Date.now() });

describe('registry - core rules', () => {
  test('a refused add leaves the members it would have evicted in place', async () => {
    await registry.add(registry.createMember(stored('a', 'dev-a')));
    await registry.add(registry.createMember(stored('b', 'dev-b')));
    const victim = registry.find('a')!;
    await assert.rejects(registry.add(registry.createMember(stored('c', 'dev-b')), undefined, [victim]), (e: unknown) => e instanceof MusterError && e.code === 'NAME_TAKEN');
    assert.equal(registry.find('dev-a')?.id, 'a', 'the would-be evicted member is still there');
    // Evicting the holder of the name frees it for the newcomer, in one step.
    await registry.add(registry.createMember(stored('d', 'dev-b')), undefined, [registry.find('b')!]);
    assert.equal(registry.find('dev-b')?.id, 'd');
    assert.equal(registry.find('b'), undefined);
  });

  test('a crowd of one name gets name, name-1, ... and a freed suffix is handed out again', async () => {
    const names: string[] = [];
    for (let i = 0; i < 1500; i++) names.push((await registry.register({ name: 'crowd', type: 'c' }, { token: ADMIN_TOKEN })).name);
    assert.deepEqual(names.slice(0, 3), ['crowd', 'crowd-1', 'crowd-2']);
    assert.equal(names[1499], 'crowd-1499');
    assert.equal(new Set(names).size, 1500);
    await registry.remove(registry.find('crowd-7')!, 'unregistered');
    await registry.remove(registry.find('crowd-900')!, 'unregistered');
    assert.equal((await registry.register({ name: 'crowd', type: 'c' })).name, 'crowd-7');
    assert.equal((await registry.register({ name: 'crowd', type: 'c' })).name, 'crowd-900');
    assert.equal((await registry.register({ name: 'crowd', type: 'c' })).name, 'crowd-1500');
  });

  test('after close, registrations answer SHUTTING_DOWN', async () => {
    const d2 = tempDir('muster-core2-');
    const s2 = new SqliteStore({ dataDir: d2 });
    const r2 = await Registry.open({ store: s2, hubId: 'x' });
    r2.close();
    await assert.rejects(r2.register({ type: 't' }), (e: unknown) => e instanceof MusterError && e.code === 'SHUTTING_DOWN');
    await assert.rejects(r2.add(r2.createMember(stored('z', 'z'))), (e: unknown) => e instanceof MusterError && e.code === 'SHUTTING_DOWN');
    await s2.close();
    rmSync(d2, { recursive: true, force: true });
  });
});
