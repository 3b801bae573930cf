/**
 * The replication monitor on a real site database (SQLite) and the Mock storage driver's arrays: its
 * reads of the arrays follow what changed, not the number of groups.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey } from '@protector/platform/db';
import { ProtectorError } from '@protector/schema';
import type { StorageDriver } from '@protector/storage-drivers';
import { MockStorageDriver } from '@protector/storage-drivers/mock';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSiteDataSource, createSiteRepository, type SiteRepository } from '../db/index.js';
import { type GroupReplicationState, type SiteEvent, SiteEvents, startReplicationMonitor } from './events.js';

const A = 'mock-array-a';
const B = 'mock-array-b';

describe('replication monitor', () => {
  let dir: string;
  let ds: DataSource;
  let repo: SiteRepository;
  let driver: MockStorageDriver;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'protector-monitor-'));
    ds = await createSiteDataSource({ url: `sqlite://${join(dir, 'site.sqlite')}` });
    repo = createSiteRepository(ds, { secretKey: generateSecretKey() });
    driver = MockStorageDriver.create({ dataDir: dir, arrays: [A, B], transferMs: 0 });
    await driver.initialize();
  });
  afterEach(async () => {
    await driver.close();
    if (ds.isInitialized) await ds.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** A group's metadata on the site (`storageGroupName` null: never protected on the arrays). */
  async function metadata(id: string, i: number, storageGroupName: string | null) {
    await repo.applyProtectionGroupMetadata(
      {
        id,
        name: `g${i}`,
        projectId: 'p1',
        replicationType: 'async',
        currentPrimarySite: 'boston',
        secondarySite: 'seattle',
        storageGroupName,
        volumeType: 'replicated-ssd',
      },
      0,
    );
  }

  /** `n` async groups replicating boston (array a) -> seattle (array b), each with one volume. */
  async function groups(n: number, from = 0) {
    const ids: string[] = [];
    for (let i = from; i < from + n; i++) {
      const name = `pg-g${i}`;
      const id = randomUUID();
      await metadata(id, i, name);
      const ref = { name, mode: 'async' as const, sourceArray: A, targetArray: B };
      await driver.createVolumes(A, [{ name: `${name}-vol`, sizeBytes: 1024 * 1024 }]);
      await driver.ensureReplicationGroup(ref);
      await driver.addVolumes(ref, [`${name}-vol`]);
      ids.push(id);
    }
    return ids;
  }

  /** The driver, counting what the monitor asks of it. */
  function counted() {
    const calls: Record<string, number> = {};
    /** Most calls of each method in flight at once. */
    const most: Record<string, number> = {};
    const now: Record<string, number> = {};
    const proxy = new Proxy(driver as StorageDriver, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const k = String(prop);
          calls[k] = (calls[k] ?? 0) + 1;
          now[k] = (now[k] ?? 0) + 1;
          most[k] = Math.max(most[k] ?? 0, now[k]);
          return Promise.resolve(value.apply(target, args)).finally(() => {
            now[k]!--;
          });
        };
      },
    });
    return { proxy, calls, most };
  }

  /** The monitor of `site` (seattle: array b, the groups' target; boston: array a, their source). */
  function monitorOf(driver: StorageDriver, hub = new SiteEvents(), site: 'boston' | 'seattle' = 'seattle') {
    return startReplicationMonitor({
      repo,
      driver,
      events: hub,
      siteName: site,
      arrays: {
        localArray: site === 'seattle' ? B : A,
        peerArray: site === 'seattle' ? A : B,
        arrayTokens: () => undefined,
      },
      intervalMs: 3_600_000,
      concurrency: 4,
      log: () => undefined,
    });
  }

  /** Replicates one group now (boston -> seattle), then lets the monitor poll. */
  async function replicateAndPoll(monitor: { pollNow(): Promise<void> }, name: string) {
    const point = await driver.replicateNow({ name, mode: 'async', sourceArray: A, targetArray: B });
    await new Promise((r) => setTimeout(r, 20));
    await monitor.pollNow();
    return point;
  }

  /** What the monitor reports of one group (`groups()`, as the site's storage state reads it). */
  async function stateOf(monitor: { groups(): Promise<GroupReplicationState[]> }, id: string) {
    return (await monitor.groups()).find((g) => g.pg.id === id);
  }

  it('reads new groups together, then only what completed since, whatever the number of groups', async () => {
    const ids = await groups(30);
    // Replicated before the monitor started: history (no event), but its point and lastReplicationAt are read.
    const before = await driver.replicateNow({
      name: 'pg-g2',
      mode: 'async',
      sourceArray: A,
      targetArray: B,
    });
    const { proxy, calls } = counted();
    const events: SiteEvent[] = [];
    const hub = new SiteEvents();
    const stream = hub.subscribe();
    void (async () => {
      for await (const e of stream) events.push(e);
    })();
    const monitor = monitorOf(proxy, hub);
    try {
      await monitor.pollNow();
      // Where the array's completions stand, then every new group at once: no group read one by one.
      expect(calls.replicationStatus ?? 0).toBe(0);
      expect(calls.completedReplications).toBe(2);
      expect((await stateOf(monitor, ids[2]!))?.lastPoint?.name).toBe(before.name);
      expect((await repo.getProtectionGroup(ids[2]!))?.lastReplicationAt?.getTime()).toBe(
        before.createdAt.getTime(),
      );
      expect((await stateOf(monitor, ids[5]!))?.lastPoint).toBeNull();
      for (const k of Object.keys(calls)) delete calls[k];

      // Nothing changed: no group is read again, from the arrays or the database.
      const listings = vi.spyOn(repo, 'listProtectionGroupHeads');
      await monitor.pollNow();
      await monitor.pollNow();
      expect(calls.replicationStatus ?? 0).toBe(0);
      expect(calls.completedReplications).toBe(2);
      expect(listings).not.toHaveBeenCalled();

      // One group replicates: the next poll learns it, records it and reports it.
      const point = await replicateAndPoll(monitor, 'pg-g7');
      await new Promise((r) => setImmediate(r));
      expect(calls.replicationStatus ?? 0).toBe(0);
      const g7 = await stateOf(monitor, ids[7]!);
      expect(g7?.lastPoint?.name).toBe(point.name);
      expect(g7?.lagSeconds).toBeGreaterThanOrEqual(0);
      expect((await stateOf(monitor, ids[8]!))?.lastPoint).toBeNull();
      expect((await repo.getProtectionGroup(ids[7]!))?.lastReplicationAt?.getTime()).toBe(
        point.createdAt.getTime(),
      );
      expect(events.filter((e) => e.kind === 'REPLICATION_COMPLETED')).toMatchObject([
        { protectionGroupId: ids[7], recoveryPoint: { name: point.name, complete: true } },
      ]);
      // Seen once: polling again reports nothing new.
      await monitor.pollNow();
      expect(events.filter((e) => e.kind === 'REPLICATION_COMPLETED')).toHaveLength(1);

      // A new group is read once (with the others' listing, and its own), the others not.
      for (const k of Object.keys(calls)) delete calls[k];
      await groups(1, 30);
      await monitor.pollNow();
      await monitor.pollNow();
      expect(calls.replicationStatus ?? 0).toBe(0);
      expect(calls.completedReplications).toBe(3);
      // The groups were listed again once, when one was added (points landing are not a change).
      expect(listings).toHaveBeenCalledTimes(1);
    } finally {
      monitor.stop();
      await stream.return(undefined);
    }
  });

  it.each([
    'seattle',
    'boston',
  ] as const)("reports every group's state on %s from what it knows: no array request per group", async (site) => {
    const ids = await groups(30);
    const never = randomUUID();
    await metadata(never, 99, null);
    await repo.setReplicationPolicy(
      ids[3]!,
      {
        primaryArrayUrl: 'https://fa-a.example',
        secondaryArrayUrl: 'https://fa-b.example',
        replicationIntervalSeconds: 120,
        rpoMinutes: 7,
      },
      1,
    );
    const { proxy, calls } = counted();
    const monitor = monitorOf(proxy, new SiteEvents(), site);
    try {
      // Before the first poll: nothing known yet, and the arrays are not asked (a site that just
      // started with thousands of groups answers its health checks at once).
      const before = await monitor.groups();
      expect(before).toHaveLength(31);
      expect(calls).toEqual({});
      expect(before.every((g) => g.lastPoint === null && g.lagSeconds === null)).toBe(true);

      await monitor.pollNow();
      const point = await replicateAndPoll(monitor, 'pg-g3');
      for (const k of Object.keys(calls)) delete calls[k];

      // A health check after that: the arrays are not asked about any group.
      const state = await monitor.groups();
      expect(calls).toEqual({});
      expect(state.map((g) => g.pg.id).sort()).toEqual([...ids, never].sort());
      const g3 = state.find((g) => g.pg.id === ids[3]);
      expect(g3?.name).toBe('pg-g3');
      expect(g3?.policy).toEqual({ replicationIntervalSeconds: 120, rpoMinutes: 7 });
      expect(state.find((g) => g.pg.id === ids[4])?.policy).toBeNull();
      if (site === 'seattle') {
        // The target: the recovery point landed here.
        expect(g3?.lastPoint?.name).toBe(point.name);
        expect(g3?.lagSeconds).toBeGreaterThanOrEqual(0);
      } else {
        // The source: nothing lands here (its lag is the target's to report).
        expect(g3).toMatchObject({ lastPoint: null, lagSeconds: null });
      }
    } finally {
      monitor.stop();
    }
  });

  it('reads new groups one by one, a few at once, when reading them together fails', async () => {
    const ids = await groups(12);
    const { proxy, calls, most } = counted();
    const refusing = new Proxy(proxy, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'completedReplications') return value;
        return (...args: Parameters<StorageDriver['completedReplications']>) =>
          args[2]?.getTime() === 0
            ? Promise.reject(new ProtectorError('STORAGE_AUTH_FAILED', 'Array refused the API token.'))
            : value.apply(target, args);
      },
    });
    const logs: string[] = [];
    const monitor = startReplicationMonitor({
      repo,
      driver: refusing,
      events: new SiteEvents(),
      siteName: 'seattle',
      arrays: { localArray: B, peerArray: A, arrayTokens: () => undefined },
      intervalMs: 3_600_000,
      concurrency: 4,
      log: (_level, message) => logs.push(message),
    });
    try {
      await monitor.pollNow();
      expect(calls.replicationStatus).toBe(12);
      expect(most.replicationStatus).toBe(4);
      expect(logs).toEqual([
        expect.stringMatching(/reading new groups together: Array refused the API token.*one by one/),
      ]);
      // Each was read once: the next poll watches them together, none one by one.
      expect(ids).toHaveLength(12);
      delete calls.replicationStatus;
      await monitor.pollNow();
      expect(calls.replicationStatus ?? 0).toBe(0);
    } finally {
      monitor.stop();
    }
  });
});
