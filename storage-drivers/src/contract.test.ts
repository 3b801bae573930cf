/**
 * One contract suite over both drivers (STYLE.md, Tests): the mock in process, and the pure driver over
 * real HTTPS against fa-sim. Both must keep the same rules and fail the same way. Array time, retry
 * backoff and the simulators' tick run on a ManualClock: the tests advance it instead of sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@protector/platform';
import { isProtectorError, type Json } from '@protector/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlashArrayStore } from './array/store.js';
import { startFlashArraySimulator } from './fa-sim/server.js';
import { MockStorageDriver } from './mock/mock-driver.js';
import { PureStorageDriver, type PureStorageDriverOptions } from './pure/pure-driver.js';
import type { RecoveryPoint, ReplicationGroupRef, StorageDriver } from './types.js';

const TRANSFER_MS = 150;
const FAST_RETRY = { maxRetries: 3, baseDelayMs: 2, maxDelayMs: 10 };
/** Small pages, so every list the driver reads follows continuation tokens. */
const PAGE_SIZE = 2;
const MiB = 1024 * 1024;

interface Harness {
  clock: ManualClock;
  driver: StorageDriver;
  sim: FlashArrayStore;
  a: string;
  b: string;
  logs: string[];
  /** Pure only: end every array session. */
  expireSessions: (() => void) | null;
  /** A driver for the same arrays logging in with a wrong token (pure), or null. */
  badTokenDriver: (() => StorageDriver) | null;
  /** Another driver for the same arrays, not initialized (a restarted site's). */
  fresh: () => StorageDriver;
  /** Pure only: the options the harness's driver was made with. */
  pureOptions: PureStorageDriverOptions | null;
  stop(): Promise<void>;
}

const harnesses: Record<'mock' | 'pure', (dir: string, clock: ManualClock) => Promise<Harness>> = {
  async mock(dir, clock) {
    const logs: string[] = [];
    const make = () =>
      MockStorageDriver.create({
        dataDir: dir,
        arrays: ['mock-array-a', 'mock-array-b'],
        transferMs: TRANSFER_MS,
        retry: FAST_RETRY,
        pageSize: PAGE_SIZE,
        log: (level, logger, msg) => logs.push(`${level} ${logger} [-] ${msg}`),
        clock,
      });
    const driver = make();
    await driver.initialize();
    return {
      clock,
      driver,
      sim: driver.simulator,
      a: 'mock-array-a',
      b: 'mock-array-b',
      logs,
      expireSessions: null,
      badTokenDriver: null,
      fresh: make,
      pureOptions: null,
      stop: () => driver.close(),
    };
  },
  async pure(dir, clock) {
    const logs: string[] = [];
    const fa = await startFlashArraySimulator({
      dataDir: dir,
      arrays: [
        { name: 'fa-a', port: 0 },
        { name: 'fa-b', port: 0 },
      ],
      apiToken: ['T-contract', 'T-policy'],
      transferMs: TRANSFER_MS,
      clock,
    });
    const options = (token: string): PureStorageDriverOptions => ({
      primaryArrayUrl: fa.arrays[0]!.url,
      primaryArrayApiToken: token,
      secondaryArrayUrl: fa.arrays[1]!.url,
      secondaryArrayApiToken: token,
      caBundle: fa.certFile!,
      retry: FAST_RETRY,
      pageSize: PAGE_SIZE,
      timeoutMs: 5000,
      log: (level, logger, msg) => logs.push(`${level} ${logger} [-] ${msg}`),
      clock,
    });
    const make = (token: string) => new PureStorageDriver(options(token));
    const driver = make('T-contract');
    await driver.initialize();
    return {
      clock,
      driver,
      sim: fa.store,
      a: 'fa-a',
      b: 'fa-b',
      logs,
      expireSessions: fa.expireSessions,
      badTokenDriver: () => make('T-wrong'),
      fresh: () => make('T-contract'),
      pureOptions: options('T-contract'),
      stop: async () => {
        await driver.close();
        await fa.stop();
      },
    };
  },
};

/** What a volume holds (origin serial, write count): sim-only data, read from the simulator. */
function held(h: Harness, array: string, name: string): { origin: string | null; version: number } {
  const [entry] = h.sim.content(array, [name]);
  if (!entry) throw new Error(`no volume ${name} on ${array}`);
  return entry;
}

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).not.toBeNull();
  if (!isProtectorError(err)) throw err;
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
}

/** Moves array time on in 20 ms steps until the recovery point has replicated. */
async function waitForComplete(h: Harness, ref: ReplicationGroupRef, name: string): Promise<RecoveryPoint> {
  for (let i = 0; i < 200; i++) {
    const point = (await h.driver.listRecoveryPoints(ref)).find((p) => p.name === name);
    if (point?.complete) return point;
    await h.clock.advance(20);
  }
  throw new Error(`recovery point ${name} never completed`);
}

/**
 * Settles `op`, moving the clock on while it is pending so the driver's retry backoff (which waits
 * on the clock) passes. Yields to the event loop between steps, so the pure driver's HTTP gets through.
 */
async function whileRetrying<T>(clock: ManualClock, op: Promise<T>): Promise<T> {
  let pending = true;
  op.then(
    () => {
      pending = false;
    },
    () => {
      pending = false;
    },
  );
  while (pending) {
    await clock.advance(FAST_RETRY.maxDelayMs);
    await new Promise((r) => setImmediate(r));
  }
  return op;
}

describe.each(['mock', 'pure'] as const)('StorageDriver contract: %s', (kind) => {
  let dir: string;
  let h: Harness;
  let ref: ReplicationGroupRef;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), `protector-${kind}-`));
    h = await harnesses[kind](dir, new ManualClock());
    ref = { name: 'pg-web', mode: 'async', sourceArray: h.a, targetArray: h.b };
  });

  afterEach(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two volumes in an async group replicating a -> b. */
  async function protectedGroup() {
    await h.driver.createVolumes(h.a, [
      { name: 'web-1-root', sizeBytes: 8 * MiB },
      { name: 'web-1-data', sizeBytes: 16 * MiB },
    ]);
    await h.driver.ensureReplicationGroup(ref);
    return h.driver.addVolumes(ref, ['web-1-root', 'web-1-data']);
  }

  it('initializes with the product log line and knows both arrays', () => {
    const line =
      kind === 'mock'
        ? `MockStorageDriver initialized: data_dir=${dir}`
        : /PureStorageDriver initialized: primary=127\.0\.0\.1 secondary=127\.0\.0\.1/;
    expect(h.logs.some((l) => (typeof line === 'string' ? l.includes(line) : line.test(l)))).toBe(true);
    if (kind === 'mock') {
      expect(h.logs).toContain(
        'WARNING protector.engine.storage.mock [-] Mock storage driver active — not suitable for production use',
      );
    }
    expect(h.driver.arrays().map((a) => [a.name, a.role])).toEqual([
      [h.a, 'primary'],
      [h.b, 'secondary'],
    ]);
  });

  it('validates reachability, auth and the replication link', async () => {
    const ok = await h.driver.validate();
    expect(ok).toMatchObject({ ok: true, link: 'connected', problems: [] });
    h.sim.setLink(h.a, h.b, 'disconnected');
    const down = await h.driver.validate();
    expect(down.ok).toBe(false);
    expect(down.link).toBe('disconnected');
    expect(down.problems.join()).toMatch(/Replication link .* is disconnected/);
  });

  it('starts with an array down, addresses it by the identity last seen, and identifies it when it answers', async () => {
    const seen = h.driver
      .arrays()
      .map(({ endpoint, name, id, version }) => ({ endpoint, name, id, version }));
    const back = { name: 'pg-back', mode: 'async' as const, sourceArray: h.b, targetArray: h.a };
    await h.driver.createVolumes(h.b, [{ name: 'db-1', sizeBytes: MiB }]);
    await h.driver.ensureReplicationGroup(back);
    await h.driver.addVolumes(back, ['db-1']);
    const point = await h.driver.replicateNow(back);
    await waitForComplete(h, back, point.name);
    h.sim.setFaults(h.b, { down: true });

    const remembered: string[][] = [];
    const restarted = h.fresh();
    await whileRetrying(
      h.clock,
      restarted.initialize({ known: seen, remember: (ids) => remembered.push(ids.map((i) => i.name)) }),
    );
    expect(restarted.arrays()).toMatchObject([
      { name: h.a, available: true, error: null },
      { name: h.b, available: false, error: expect.stringMatching(/unreachable/) },
    ]);
    expect(restarted.arrays()[1]!.error).toMatch(
      kind === 'pure' ? /\[storage\] secondary_array_url/ : /down/,
    );
    expect(
      h.logs.some((l) => l.startsWith('WARNING') && /secondary array .* unavailable at start-up/.test(l)),
    ).toBe(true);
    // What needs only the surviving array works: its recovery points of the lost array's group.
    const points = await restarted.listRecoveryPoints(back);
    expect(points.find((p) => p.name === point.name)?.complete).toBe(true);
    await restarted.materialize(back, point.name, [{ sourceVolume: 'db-1', targetVolume: 'r-db-1' }]);
    const v = await whileRetrying(h.clock, restarted.validate());
    expect(v.arrays[1]).toMatchObject({ array: h.b, reachable: false, authenticated: false });

    // Never seen before: the pure driver cannot name it until it answers; the mock knows it by configuration.
    const unseen = h.fresh();
    await whileRetrying(h.clock, unseen.initialize());
    expect(unseen.arrays()[1]!.name).toBe(kind === 'pure' ? 'unidentified-secondary-array' : h.b);

    h.sim.setFaults(h.b, { down: false });
    expect((await restarted.reconnect()).map((a) => a.name)).toEqual([h.b]);
    expect((await unseen.reconnect()).map((a) => a.name)).toEqual([h.b]);
    expect(unseen.arrays()[1]).toMatchObject({ name: h.b, available: true, error: null });
    expect(await unseen.getVolumes(h.b, ['db-1'])).toHaveLength(1);
    expect(remembered.at(-1)).toEqual([h.a, h.b]);
    await restarted.close();
    await unseen.close();
  });

  it("calls a group's arrays with the group's own API tokens when its ref carries them", async () => {
    await protectedGroup();
    const withTokens = (token: string): ReplicationGroupRef => ({
      ...ref,
      apiTokens: { [h.a]: token, [h.b]: token },
    });
    expect((await h.driver.getReplicationGroup(withTokens('T-policy')))?.volumes).toHaveLength(2);
    const wrong = h.driver.getReplicationGroup(withTokens('T-revoked'));
    if (kind === 'pure') await expectCode(wrong, 'STORAGE_AUTH_FAILED', /Invalid api-token/);
    // The mock driver has no tokens: a policy's are ignored, as the product documentation says.
    else expect((await wrong)?.volumes).toHaveLength(2);
    // The driver's own ([storage]) token is unaffected.
    expect((await h.driver.getReplicationGroup(ref))?.volumes).toHaveLength(2);
  });

  it('renames a group (pure_pg_name): its replicas and recovery points follow, a repeat is done, a taken name is refused', async () => {
    await protectedGroup();
    const point = await h.driver.replicateNow(ref, { suffix: 'before' });
    await waitForComplete(h, ref, point.name);
    const renamed = { ...ref, name: 'pg-db-cluster' };
    expect(await h.driver.renameReplicationGroup(ref, 'pg-db-cluster')).toMatchObject({
      name: 'pg-db-cluster',
      targetName: `${h.a}:pg-db-cluster`,
      volumes: ['web-1-data', 'web-1-root'],
    });
    expect(await h.driver.getReplicationGroup(ref)).toBeNull();
    const points = await h.driver.listRecoveryPoints(renamed);
    expect(points.map((p) => p.name)).toEqual([`${h.a}:pg-db-cluster.before`]);
    const [copy] = await h.driver.materialize(renamed, points[0]!.name, [
      { sourceVolume: 'web-1-root', targetVolume: 'r-web-1-root' },
    ]);
    expect(copy).toMatchObject({ name: 'r-web-1-root', array: h.b });
    // A repeat (after a crash) finds the rename done; a name the array uses is refused.
    expect((await h.driver.renameReplicationGroup(ref, 'pg-db-cluster')).name).toBe('pg-db-cluster');
    await h.driver.ensureReplicationGroup({ ...ref, name: 'pg-other' });
    await expectCode(
      h.driver.renameReplicationGroup(renamed, 'pg-other'),
      'ALREADY_EXISTS',
      /already has a protection group named 'pg-other'/,
    );
    await expectCode(h.driver.renameReplicationGroup(renamed, 'bad name!'), 'INVALID_NAME');

    // A pod is renamed while empty; with volumes it is refused, because its volumes would be renamed.
    const pod: ReplicationGroupRef = { name: 'pod-a', mode: 'sync', sourceArray: h.a, targetArray: h.b };
    await h.driver.ensureReplicationGroup(pod);
    expect((await h.driver.renameReplicationGroup(pod, 'pod-db')).name).toBe('pod-db');
    const podDb = { ...pod, name: 'pod-db' };
    await h.driver.createVolumes(h.a, [{ name: 'db-1', sizeBytes: MiB }]);
    await h.driver.addVolumes(podDb, ['db-1']);
    await expectCode(
      h.driver.renameReplicationGroup(podDb, 'pod-x'),
      'INVALID_STATE',
      /renaming a pod renames its volumes/,
    );
  });

  it('creates, reads, destroys and eradicates volumes', async () => {
    const [v] = await h.driver.createVolumes(h.a, [{ name: 'vol-1', sizeBytes: 4 * MiB }]);
    expect(v).toMatchObject({ name: 'vol-1', array: h.a, sizeBytes: 4 * MiB, destroyed: false });
    await expectCode(
      h.driver.createVolumes(h.a, [{ name: 'vol-1', sizeBytes: 4 * MiB }]),
      'ALREADY_EXISTS',
      /already exists/,
    );
    await h.driver.destroyVolumes(h.a, ['vol-1']);
    expect((await h.driver.getVolumes(h.a, ['vol-1']))[0]!.destroyed).toBe(true);
    // A destroyed volume still holds its name until eradicated, as on an array.
    await expectCode(h.driver.createVolumes(h.a, [{ name: 'vol-1', sizeBytes: 4 * MiB }]), 'ALREADY_EXISTS');
    await h.driver.destroyVolumes(h.a, ['vol-1', 'never-existed'], { eradicate: true });
    await expectCode(h.driver.getVolumes(h.a, ['vol-1']), 'NOT_FOUND', /Volume 'vol-1' does not exist/);
    await h.driver.createVolumes(h.a, [{ name: 'vol-1', sizeBytes: 4 * MiB }]);
  });

  it('renames a volume as Cinder manage does; its group membership follows, a repeat is done, a taken name is refused', async () => {
    await protectedGroup();
    const renamed = await h.driver.renameVolume(h.a, 'web-1-root', 'volume-1234-cinder');
    expect(renamed).toMatchObject({ name: 'volume-1234-cinder', array: h.a, sizeBytes: 8 * MiB });
    expect([...(await h.driver.getReplicationGroup(ref))!.volumes].sort()).toEqual([
      'volume-1234-cinder',
      'web-1-data',
    ]);
    await expectCode(h.driver.getVolumes(h.a, ['web-1-root']), 'NOT_FOUND');
    // A repeat after a crash finds the rename done.
    expect((await h.driver.renameVolume(h.a, 'web-1-root', 'volume-1234-cinder')).name).toBe(
      'volume-1234-cinder',
    );
    await expectCode(h.driver.renameVolume(h.a, 'web-1-data', 'volume-1234-cinder'), 'ALREADY_EXISTS');
    await expectCode(h.driver.renameVolume(h.a, 'web-1-data', 'bad name!'), 'INVALID_NAME');
    expect((await h.driver.getVolumes(h.a, ['web-1-data']))[0]!.name).toBe('web-1-data');
  });

  it('refuses names that break FlashArray rules and sizes not a multiple of 512, changing nothing', async () => {
    for (const bad of ['bad_name', '-lead', 'trail-', '12345', 'x'.repeat(64), '']) {
      await expectCode(
        h.driver.createVolumes(h.a, [{ name: bad, sizeBytes: MiB }]),
        'INVALID_NAME',
        /1-63 characters/,
      );
    }
    await expectCode(
      h.driver.createVolumes(h.a, [{ name: 'odd', sizeBytes: 1000 }]),
      'INVALID_SIZE',
      /multiple of 512/,
    );
    await expectCode(h.driver.createVolumes(h.a, [{ name: 'neg', sizeBytes: -512 }]), 'INVALID_SIZE');
    await expectCode(h.driver.ensureReplicationGroup({ ...ref, name: 'pg_bad' }), 'INVALID_NAME');
    await expectCode(h.driver.getVolumes(h.a, ['odd']), 'NOT_FOUND');
  });

  it('manages an async group: idempotent ensure, members, schedule and retention', async () => {
    const group = await protectedGroup();
    expect(group).toMatchObject({
      name: 'pg-web',
      targetName: `${h.a}:pg-web`,
      volumes: ['web-1-data', 'web-1-root'],
    });
    const again = await h.driver.ensureReplicationGroup(ref);
    expect(again.volumes).toHaveLength(2);
    await h.driver.addVolumes(ref, ['web-1-root']); // already a member: no-op
    const sched = await h.driver.setSchedule(ref, {
      enabled: true,
      intervalSeconds: 120,
      retention: { allForSeconds: 3600, perDay: 2, days: 3 },
    });
    expect(sched.schedule).toEqual({
      enabled: true,
      intervalSeconds: 120,
      retention: { allForSeconds: 3600, perDay: 2, days: 3 },
    });
    const fewer = await h.driver.removeVolumes(ref, ['web-1-data']);
    expect(fewer.volumes).toEqual(['web-1-root']);
    await expectCode(h.driver.addVolumes(ref, ['no-such-vol']), 'NOT_FOUND');
    await h.driver.deleteReplicationGroup(ref);
    expect(await h.driver.getReplicationGroup(ref)).toBeNull();
    expect(await h.driver.getVolumes(h.a, ['web-1-root'])).toHaveLength(1);
  });

  it('replicates now, refuses an incomplete point, then materializes the data it captured', async () => {
    await protectedGroup();
    h.sim.simulateWrite(h.a, 'web-1-root');
    h.sim.simulateWrite(h.a, 'web-1-root');
    h.sim.simulateWrite(h.a, 'web-1-data');
    h.sim.setFaults(h.a, { slowFactor: 20 }); // keep the transfer running while we try
    const point = await h.driver.replicateNow(ref, { suffix: 'p1' });
    expect(point).toMatchObject({ name: `${h.a}:pg-web.p1`, complete: false });
    expect(point.volumes.slice().sort()).toEqual(['web-1-data', 'web-1-root']);
    await expectCode(
      h.driver.materialize(ref, point.name, [{ sourceVolume: 'web-1-root', targetVolume: 'dr-web-1-root' }]),
      'RECOVERY_POINT_INCOMPLETE',
      /still replicating/,
    );
    expect((await h.driver.getVolumes(h.b, [])).length).toBe(0);
    h.sim.setFaults(h.a, { slowFactor: 1 });
    const done = await waitForComplete(h, ref, point.name);
    expect(done.progress).toBe(1);
    // Writes after the point are not in it: loss is bounded by the last replicated point.
    h.sim.simulateWrite(h.a, 'web-1-root');
    const vols = await h.driver.materialize(ref, point.name, [
      { sourceVolume: 'web-1-root', targetVolume: 'dr-web-1-root' },
      { sourceVolume: 'web-1-data', targetVolume: 'dr-web-1-data' },
    ]);
    const [srcRoot] = await h.driver.getVolumes(h.a, ['web-1-root']);
    expect(held(h, h.a, 'web-1-root').version).toBe(3);
    expect(
      vols.map((v) => [v.name, v.array, held(h, v.array, v.name).origin, held(h, v.array, v.name).version]),
    ).toEqual([
      ['dr-web-1-root', h.b, srcRoot!.serial, 2],
      ['dr-web-1-data', h.b, (await h.driver.getVolumes(h.a, ['web-1-data']))[0]!.serial, 1],
    ]);
    // Repeating the same materialize (after a crash) returns the same volumes.
    const again = await h.driver.materialize(ref, point.name, [
      { sourceVolume: 'web-1-root', targetVolume: 'dr-web-1-root' },
    ]);
    expect(again[0]!.serial).toBe(vols[0]!.serial);
    // A final replication loses nothing.
    const last = await h.driver.replicateNow(ref, { suffix: 'final' });
    await waitForComplete(h, ref, last.name);
    const [latest] = await h.driver.materialize(
      ref,
      last.name,
      [{ sourceVolume: 'web-1-root', targetVolume: 'dr-web-1-root' }],
      { overwrite: true },
    );
    expect(held(h, h.b, latest!.name)).toMatchObject({ origin: srcRoot!.serial, version: 3 });
    await expectCode(h.driver.materialize(ref, `${h.a}:pg-web.nope`, []), 'NOT_FOUND');
    await expectCode(
      h.driver.materialize(ref, last.name, [{ sourceVolume: 'not-in-group', targetVolume: 'x1' }]),
      'NOT_FOUND',
      /holds no snapshot/,
    );
  });

  it('lists recovery points newest first and reports replication status and lag', async () => {
    await protectedGroup();
    const p1 = await h.driver.replicateNow(ref, { suffix: 's1' });
    await waitForComplete(h, ref, p1.name);
    await h.clock.advance(5);
    const p2 = await h.driver.replicateNow(ref, { suffix: 's2' });
    const points = await h.driver.listRecoveryPoints(ref);
    expect(points.map((p) => p.name)).toEqual([p2.name, p1.name]);
    const status = await h.driver.replicationStatus(ref);
    expect(status.link).toBe('connected');
    expect(status.lastPoint?.name).toBe(points.find((p) => p.complete)!.name);
    expect(status.lagSeconds).toBeGreaterThanOrEqual(0);
    // With the link down a running transfer stalls and new replication is refused.
    h.sim.setLink(h.a, h.b, 'disconnected');
    const p3Err = h.driver.replicateNow(ref, { suffix: 's3' });
    await expectCode(p3Err, 'REPLICATION_LINK_DOWN', /disconnected/);
    expect((await h.driver.replicationStatus(ref)).link).toBe('disconnected');
  });

  it('reports what completed replication since a time, for many groups in one listing', async () => {
    const refs = ['pg-a', 'pg-b', 'pg-c'].map((name): ReplicationGroupRef => ({ ...ref, name }));
    await h.driver.createVolumes(
      h.a,
      refs.map((r) => ({ name: `${r.name}-vol`, sizeBytes: MiB })),
    );
    for (const r of refs) {
      await h.driver.ensureReplicationGroup(r);
      await h.driver.addVolumes(r, [`${r.name}-vol`]);
    }
    const before = await h.driver.replicateNow(refs[0]!, { suffix: 'old' });
    await waitForComplete(h, refs[0]!, before.name);
    // Without a time, only where the array's completions stand.
    const start = await h.driver.completedReplications(h.b, refs, null);
    expect(start.completed.size).toBe(0);
    expect(start.until).not.toBeNull();
    await h.clock.advance(1000);
    const b1 = await h.driver.replicateNow(refs[1]!, { suffix: 'b1' });
    await waitForComplete(h, refs[1]!, b1.name);
    await h.clock.advance(1000);
    const b2 = await h.driver.replicateNow(refs[1]!, { suffix: 'b2' });
    await waitForComplete(h, refs[1]!, b2.name);
    const running = await h.driver.replicateNow(refs[2]!, { suffix: 'c1' });
    const seen = await h.driver.completedReplications(h.b, refs, start.until);
    // The newest of what completed, per group (at `since` itself too: nothing completing in the same
    // millisecond is missed; callers know that point already); a transfer still running is not there.
    expect([...seen.completed.keys()].sort()).toEqual(['pg-a', 'pg-b']);
    expect(seen.completed.get('pg-a')!.point).toBe(before.name);
    expect(seen.completed.get('pg-b')).toMatchObject({ group: 'pg-b', point: b2.name });
    expect(seen.completed.get('pg-b')!.createdAt.getTime()).toBe(b2.createdAt.getTime());
    expect(seen.until!.getTime()).toBeGreaterThan(start.until!.getTime());
    await waitForComplete(h, refs[2]!, running.name);
    const next = await h.driver.completedReplications(h.b, refs, seen.until);
    expect([...next.completed.keys()].sort()).toEqual(['pg-b', 'pg-c']);
    expect(next.completed.get('pg-c')!.point).toBe(running.name);
    expect(next.completed.get('pg-b')!.point).toBe(b2.name);
    // Only groups replicating to that array, async.
    await expectCode(
      h.driver.completedReplications(h.a, refs, null),
      'BAD_USER_INPUT',
      /async groups replicating to/,
    );
  });

  it('takes scheduled snapshots at the configured interval', async () => {
    await protectedGroup();
    await h.driver.setSchedule(ref, {
      enabled: true,
      intervalSeconds: 1,
      retention: { allForSeconds: 60, perDay: 1, days: 1 },
    });
    let points: RecoveryPoint[] = [];
    for (let i = 0; i < 100 && !points.some((p) => p.complete); i++) {
      await h.clock.advance(50);
      points = await h.driver.listRecoveryPoints(ref);
    }
    expect(points.some((p) => p.complete)).toBe(true);
  });

  it('reverses replication after a failover and replicates back', async () => {
    await protectedGroup();
    h.sim.simulateWrite(h.a, 'web-1-root');
    const p = await h.driver.replicateNow(ref, { suffix: 'fo' });
    await waitForComplete(h, ref, p.name);
    await h.driver.materialize(ref, p.name, [{ sourceVolume: 'web-1-root', targetVolume: 'web-1-root-b' }]);
    h.sim.simulateWrite(h.b, 'web-1-root-b'); // the workload runs on b now
    const reversed = await h.driver.reverseReplication(ref, ['web-1-root-b']);
    expect(reversed).toMatchObject({ sourceArray: h.b, targetArray: h.a, volumes: ['web-1-root-b'] });
    expect((await h.driver.getReplicationGroup(ref))!.schedule.enabled).toBe(false);
    const back = await h.driver.replicateNow(reversed, { suffix: 'fb' });
    await waitForComplete(h, reversed, back.name);
    const [restored] = await h.driver.materialize(
      reversed,
      back.name,
      [{ sourceVolume: 'web-1-root-b', targetVolume: 'web-1-root' }],
      { overwrite: true },
    );
    expect(held(h, h.a, restored!.name).version).toBe(2);
  });

  it('stretches, mirrors, promotes and demotes sync pods; refuses an unstretched pod', async () => {
    const podRef: ReplicationGroupRef = { name: 'pod-db', mode: 'sync', sourceArray: h.a, targetArray: h.b };
    await h.driver.createVolumes(h.a, [{ name: 'db-1', sizeBytes: MiB }]);
    const pod = await h.driver.ensureReplicationGroup(podRef);
    expect(pod.podArrays.map((p) => [p.array, p.status])).toEqual([
      [h.a, 'online'],
      [h.b, 'online'],
    ]);
    const withVol = await h.driver.addVolumes(podRef, ['db-1']);
    expect(withVol.volumes).toEqual(['pod-db::db-1']);
    h.sim.simulateWrite(h.a, 'pod-db::db-1');
    expect(held(h, h.b, 'pod-db::db-1').version).toBe(1);
    const demoted = await h.driver.demote(podRef, h.a);
    expect(demoted.podArrays.find((p) => p.array === h.a)?.promotionStatus).toBe('demoted');
    expect(() => h.sim.simulateWrite(h.a, 'pod-db::db-1')).toThrow(/not writable/);
    await h.driver.promote(podRef, h.a);
    // The array changes promotion asynchronously: 'promoting' in its answer, 'promoted' once done.
    const patched = h.sim.handle(h.b, {
      method: 'PATCH',
      path: '/pods',
      query: { names: 'pod-db' },
      body: { requested_promotion_state: 'demoted' },
    });
    // REST 2.26 has no 'demoting': the pod reads promoted, with the demotion requested, until it is done.
    expect((patched.body as { items: Json[] }).items[0]).toMatchObject({
      promotion_status: 'promoted',
      requested_promotion_state: 'demoted',
    });
    const back = await h.driver.promote(podRef, h.b);
    expect(back.podArrays.map((p) => p.promotionStatus)).toEqual(['promoted', 'promoted']);
    const point = await h.driver.replicateNow(podRef, { suffix: 'snap1' });
    expect(point.complete).toBe(true);
    const [copy] = await h.driver.materialize(podRef, point.name, [
      { sourceVolume: 'pod-db::db-1', targetVolume: 'db-1-test' },
    ]);
    expect(copy).toMatchObject({ array: h.b });
    expect(held(h, h.b, copy!.name).version).toBe(1);
    // ActiveCluster stretches a pod only over a sync-replication connection; the driver reads its type.
    const asyncOnly: ReplicationGroupRef = {
      name: 'pod-async',
      mode: 'sync',
      sourceArray: h.a,
      targetArray: h.b,
    };
    h.sim.setLinkType(h.a, h.b, 'async-replication');
    await expectCode(
      h.driver.ensureReplicationGroup(asyncOnly),
      'INVALID_STATE',
      /needs a sync-replication array connection/,
    );
    expect(await h.driver.getReplicationGroup(asyncOnly)).toBeNull(); // nothing was created
    h.sim.setLinkType(h.a, h.b, 'sync-replication');
    // A pod that lives on one array only cannot change promotion state.
    const lone: ReplicationGroupRef = { name: 'pod-lone', mode: 'sync', sourceArray: h.a, targetArray: h.b };
    h.sim.setLink(h.a, h.b, 'disconnected');
    await expectCode(h.driver.ensureReplicationGroup(lone), 'REPLICATION_LINK_DOWN', /not connected/);
    await expectCode(h.driver.promote(lone, h.a), 'POD_NOT_STRETCHED', /not stretched/);
    await expectCode(h.driver.promote(ref, h.a), 'INVALID_STATE', /only sync/);
  });

  it('reports an array that is down as unreachable, and recovers when it returns', async () => {
    h.sim.setFaults(h.b, { down: true });
    await expectCode(
      whileRetrying(h.clock, h.driver.createVolumes(h.b, [{ name: 'v-down', sizeBytes: MiB }])),
      'STORAGE_UNREACHABLE',
      /unreachable/,
    );
    const v = await whileRetrying(h.clock, h.driver.validate());
    expect(v.ok).toBe(false);
    expect(v.arrays.find((a) => a.role === 'secondary')).toMatchObject({
      reachable: false,
      authenticated: false,
    });
    h.sim.setFaults(h.b, { down: false });
    await h.driver.createVolumes(h.b, [{ name: 'v-down', sizeBytes: MiB }]);
  });

  it('retries rate-limited requests with backoff and gives up with STORAGE_RATE_LIMITED', async () => {
    h.sim.setFaults(h.a, { rateLimit: 2 });
    await whileRetrying(h.clock, h.driver.createVolumes(h.a, [{ name: 'after-429', sizeBytes: MiB }]));
    expect(h.sim.faults(h.a).rateLimit).toBe(0);
    h.sim.setFaults(h.a, { rateLimit: 50 });
    await expectCode(
      whileRetrying(h.clock, h.driver.getVolumes(h.a, ['after-429'])),
      'STORAGE_RATE_LIMITED',
      /rate limiting/,
    );
    h.sim.setFaults(h.a, { rateLimit: 0 });
  });

  it.runIf(kind === 'pure')(
    "takes [storage] local_array: the same two arrays configured on both sites, this site's own first",
    async () => {
      const siteB = new PureStorageDriver({
        ...h.pureOptions!,
        localArray: 'secondary',
        secondaryArrayApiToken: 'T-revoked',
      });
      await whileRetrying(h.clock, siteB.initialize());
      expect(siteB.arrays().map((a) => [a.role, a.name, a.available])).toEqual([
        ['primary', 'unidentified-primary-array', false],
        ['secondary', h.a, true],
      ]);
      // The fix names the option that holds the bad token: site B's own array is [storage] secondary_*,
      // and its endpoint is the secondary URL.
      expect(siteB.arrays()[0]!.error).toMatch(/\[storage\] secondary_array_api_token/);
      expect(siteB.arrays()[0]!.endpoint).toBe(new URL(h.pureOptions!.secondaryArrayUrl).origin);
      await siteB.close();
    },
  );

  // Sessions and API tokens are the Pure driver's alone: for 'mock' this is skipped by design, not
  // for want of anything on the machine (so not through needs(), and nothing is printed).
  it.runIf(kind === 'pure')(
    'logs in again when the session expires, and reports a bad API token',
    async () => {
      await h.driver.createVolumes(h.a, [{ name: 'before-expiry', sizeBytes: MiB }]);
      h.expireSessions!();
      expect(await h.driver.getVolumes(h.a, ['before-expiry'])).toHaveLength(1);
      const bad = h.badTokenDriver!();
      // A refused token does not stop the driver: the arrays are unavailable, with the reason and the fix.
      await bad.initialize();
      for (const a of bad.arrays()) {
        expect(a.available).toBe(false);
        expect(a.error).toMatch(
          new RegExp(`Invalid api-token.*\\[storage\\] ${a.role}_array_api_token has expired`),
        );
      }
      await expectCode(
        bad.getVolumes(bad.arrays()[0]!.name, ['x']),
        'STORAGE_AUTH_FAILED',
        /Invalid api-token/,
      );
      const v = await bad.validate();
      expect(v.arrays.every((a) => a.reachable && !a.authenticated)).toBe(true);
      await bad.close();
    },
  );
});
