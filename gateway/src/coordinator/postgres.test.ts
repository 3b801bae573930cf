import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Clock, ManualClock } from '@protector/platform';
import { generateSecretKey } from '@protector/platform/db';
import { ProtectorError } from '@protector/schema';
import { needs, startTestPostgres, type TestPostgres, testPostgres } from '@protector/test-kit';
import type { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { loadGatewayConfig } from '../config/index.js';
import { startProtectorGateway } from '../main.js';
import { OperationEngine } from './engine.js';
import { PostgresEventFanout } from './event-fanout.js';
import { type OperationEvent, OperationEventBus } from './events.js';
import type { Replica } from './replicas.js';
import type { SiteClient } from './site-client.js';
import {
  COORDINATOR_MIGRATIONS,
  CoordinatorStore,
  openCoordinatorDataSource,
  SITES_CHANGED_CHANNEL,
} from './store.js';

/**
 * Several gateways on one PostgreSQL 15 coordinator database (started in a temporary directory on a
 * free loopback port, removed afterwards): one active operation per group across gateways, events
 * of every gateway on every gateway's bus, and one gateway running an operation at a time.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Collects what a bus delivers, as the subscriptions would see it. */
function record(bus: OperationEventBus) {
  const events: OperationEvent[] = [];
  const source = bus.subscribe();
  void (async () => {
    for await (const e of source) events.push(e);
  })();
  return { events, stop: () => void source.return(undefined) };
}

const group = (id: string) => ({ id, name: `group-${id}` }) as unknown as Replica;

const newOperation = (store: CoordinatorStore, protectionGroupId: string) =>
  store.createOperation({
    type: 'SYNC',
    protectionGroupId,
    protectionGroupName: `group-${protectionGroupId}`,
    sourceSite: 'boston',
    targetSite: 'seattle',
    params: {},
    requestedBy: null,
    steps: [{ key: 'sync', name: 'syncMetadata', site: null }],
  });

needs(testPostgres).describe('coordinator database shared by several gateways (PostgreSQL 15)', () => {
  let cluster: TestPostgres;
  const key = generateSecretKey();
  const open: DataSource[] = [];
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  let url: string;

  const gatewayDb = async (clock?: Clock) => {
    const ds = await openCoordinatorDataSource(url);
    open.push(ds);
    return new CoordinatorStore(ds, key, clock);
  };

  /** A gateway's operation machinery: store (own connection pool), bus, fan-out and engine. */
  async function gateway(
    name: string,
    opts: {
      leaseMs?: number;
      site?: (name: string) => Promise<SiteClient>;
      fanout?: boolean;
      /** The time of the gateway's leases and sweeps (default: the system clock). */
      clock?: Clock;
    } = {},
  ) {
    const store = await gatewayDb(opts.clock);
    const bus = new OperationEventBus();
    const logs: string[] = [];
    const log = (level: string, message: string) => logs.push(`${level} ${message}`);
    let reloads = 0;
    const fanout = new PostgresEventFanout({
      url,
      bus,
      store,
      origin: name,
      log,
      minBackoffMs: 50,
      onSitesChanged: async () => {
        reloads++;
      },
    });
    if (opts.fanout !== false) {
      await fanout.start();
      cleanups.push(() => fanout.stop());
    }
    const engine = new OperationEngine({
      store,
      events: bus,
      owner: name,
      leaseMs: opts.leaseMs ?? 30_000,
      clock: opts.clock,
      log,
      site:
        opts.site ??
        (async (site) => {
          throw new ProtectorError('SITE_UNREACHABLE', `site ${site} is down (test)`);
        }),
    });
    cleanups.push(() => engine.stop());
    return { store, bus, fanout, engine, logs, registryReloads: () => reloads };
  }

  beforeAll(async () => {
    cluster = await startTestPostgres();
    url = cluster.url;
  }, 120_000);
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    for (const ds of open) if (ds.isInitialized) await ds.destroy();
    await cluster?.stop();
  });

  it('migrates on PostgreSQL (also two gateways starting together) to exactly the entities', async () => {
    const fresh = await cluster.createDatabase('fresh');
    const [a, b] = await Promise.all([openCoordinatorDataSource(fresh), openCoordinatorDataSource(fresh)]);
    try {
      expect(await a!.query('SELECT name FROM schema_migrations ORDER BY id')).toEqual(
        COORDINATOR_MIGRATIONS.map((m) => ({ name: new m().name })),
      );
      const pending = await a!.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      expect(await b!.showMigrations()).toBe(false);
    } finally {
      await a!.destroy();
      await b!.destroy();
    }
  });

  it('lets exactly one of two gateways start an operation on a group; the other gets OPERATION_IN_PROGRESS', async () => {
    const one = await gatewayDb();
    const two = await gatewayDb();
    await one.registerSite({
      name: 'boston',
      key: 'key',
      description: null,
      url: 'http://b',
      authUrl: 'http://k',
    });
    expect((await two.getSite('boston'))?.key).toBe('key');
    for (let round = 0; round < 15; round++) {
      const results = await Promise.allSettled([newOperation(one, 'pg-race'), newOperation(two, 'pg-race')]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'OPERATION_IN_PROGRESS' });
      const op = (won[0] as PromiseFulfilledResult<{ id: string }>).value;
      // A third attempt after the race sees the winner.
      await expect(newOperation(two, 'pg-race')).rejects.toMatchObject({
        code: 'OPERATION_IN_PROGRESS',
        details: { operation: op.id },
      });
      await one.updateOperation(op.id, { status: 'CANCELLED' });
    }
    const ops = await two.listOperations({
      protectionGroupId: 'pg-race',
      types: ['SYNC'],
      statuses: ['CANCELLED'],
      since: new Date(0),
    });
    expect(ops).toHaveLength(15);
    expect(await two.listOperations({ protectionGroupId: 'pg-race', active: true })).toEqual([]);

    // Event numbers stay unique when two gateways number events of one operation at once.
    const op = await newOperation(one, 'pg-seq');
    const numbers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => (await (i % 2 ? one : two).nextSequence(op.id)).sequence),
    );
    expect([...numbers].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('delivers the events of an operation to every gateway in sequence order, once, never a status back', async () => {
    const a = await gateway('gw-a');
    const b = await gateway('gw-b');
    const onA = record(a.bus);
    const onB = record(b.bus);
    const start = (id: string) =>
      a.engine.start({
        type: 'TEST_FAILOVER',
        group: group(id),
        sites: { source: 'boston', target: 'seattle' },
        params: {},
        requestedBy: null,
      });
    const op = await start('pg-events');
    await a.engine.settle(op.id);
    expect((await a.store.getOperation(op.id))?.status).toBe('FAILED');
    // Cancelled from the other gateway: its events reach the first one.
    await b.engine.cancel(op.id, false);
    await b.engine.settle(op.id);
    const final = await b.store.getOperation(op.id);
    expect(final?.status).toBe('CANCELLED');
    // Notifications arrive in commit order on each gateway's one LISTEN connection: once a later
    // operation's first event arrived on both, every event of the first one has arrived too.
    const marker = await start('pg-events-marker');
    await a.engine.settle(marker.id);
    const created = (events: OperationEvent[]) => events.some((e) => e.operationId === marker.id);
    await until('the next operation on both gateways', () => created(onA.events) && created(onB.events));
    onA.stop();
    onB.stop();

    const mine = (events: OperationEvent[]) => events.filter((e) => e.operationId === op.id);
    const all = Array.from({ length: final!.sequence }, (_, i) => i + 1);
    // Each gateway got each event once, in sequence order, its own included.
    expect(mine(onA.events).map((e) => e.sequence)).toEqual(all);
    expect(mine(onB.events).map((e) => e.sequence)).toEqual(all);
    const seen = mine(onB.events);
    expect(seen.map((e) => [e.kind, e.status])).toEqual([
      ['CREATED', 'PENDING'],
      ['STATUS_CHANGED', 'RUNNING'],
      ['STEP_STARTED', 'RUNNING'],
      ['STEP_FINISHED', 'RUNNING'],
      ['STATUS_CHANGED', 'FAILED'],
      // The request is announced before the run that settles it, with the status it was made in.
      ['STATUS_CHANGED', 'FAILED'],
      ['STATUS_CHANGED', 'CANCELLING'],
      ['STATUS_CHANGED', 'CANCELLED'],
    ]);
    expect(seen[5]?.message).toBe('Cancellation requested.');
    // The receiving gateway read the operation from the journal.
    expect(seen[3]?.operation.steps[0]).toMatchObject({ status: 'FAILED', name: 'setGroupStatus' });
    expect(seen[3]?.message).toMatch(/setGroupStatus failed: site \w+ is down \(test\)/);
    // The same event on both gateways.
    const strip = ({ operation: _, ...e }: OperationEvent) => e;
    expect(mine(onA.events).map(strip)).toEqual(mine(onB.events).map(strip));
  });

  it('numbers each event with the status the journal had then, whatever the caller last read', async () => {
    const a = await gateway('gw-a4');
    const b = await gateway('gw-b4');
    const onB = record(b.bus);
    const op = await newOperation(a.store, 'pg-stale');
    // A reads the operation, then B moves it on; an event A emits afterwards carries B's status.
    const stale = (await a.store.getOperation(op.id))!;
    await b.store.updateOperation(op.id, { status: 'CANCELLED' });
    const { sequence, status } = await a.store.nextSequence(op.id);
    expect(stale.status).toBe('PENDING');
    expect(status).toBe('CANCELLED');
    expect(sequence).toBe(stale.sequence + 1);
    onB.stop();
  });

  it('reconnects a dropped LISTEN connection and catches up on what it missed', async () => {
    const a = await gateway('gw-a2');
    const b = await gateway('gw-b2');
    const onA = record(a.bus);
    const pid = a.fanout.listenerPid;
    expect(pid).toBeTypeOf('number');
    await open[0]!.query('SELECT pg_terminate_backend($1)', [pid]);
    // While gateway A's connection is down, B runs an operation to its end.
    const op = await b.engine.start({
      type: 'TEST_FAILOVER',
      group: group('pg-reconnect'),
      sites: { source: 'boston', target: 'seattle' },
      params: {},
      requestedBy: null,
    });
    await b.engine.settle(op.id);
    await until('the reconnection', () =>
      a.logs.some((l) => l.includes('connection to the database is back')),
    );
    expect(a.logs.some((l) => l.includes('dropped'))).toBe(true);
    expect(a.fanout.listenerPid).not.toBe(pid);
    await until('the registry reload after the reconnection', () => a.registryReloads() === 1);
    // A progress subscriber on A still sees the end: live, or as a catch-up of the current state
    // (which may be read between the status change and its event, so it can come before the last one).
    const last = (await a.store.getOperation(op.id))!;
    const seen = await until('the end of the operation on A', () =>
      onA.events.find((e) => e.operationId === op.id && e.sequence === last.sequence),
    );
    expect(seen.status).toBe('FAILED');
    // Later events flow live again.
    await b.engine.cancel(op.id, false);
    await until('the cancellation on A', () =>
      onA.events.find((e) => e.operationId === op.id && e.status === 'CANCELLED'),
    );
    const seqs = onA.events.filter((e) => e.operationId === op.id).map((e) => e.sequence);
    expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
    onA.stop();
  });

  it('lets one gateway run an operation; another resumes it once the lease of a dead gateway ran out', async () => {
    // Leases, renewals and sweeps run on a clock the test moves on: no waiting for a lease to run out.
    // Leases last 300 ms: renewed every 100 ms, sweeps every 150 ms.
    const clock = new ManualClock();
    // Should the test fail half-way, the cleanup wakes a step still waiting on the clock.
    const parked = new AbortController();
    let calls = 0;
    const site = async (name: string): Promise<SiteClient> => {
      // Once per run of this operation (a run reads the group on both sites; the sweep also
      // resumes operations other tests left behind, on other sites: those fail at once).
      if (name === 'lease-source') calls++;
      // This operation's step takes 500 ms of the clock, outlasting the lease it started with.
      if (name.startsWith('lease-')) await clock.sleep(500, parked.signal).catch(() => undefined);
      throw new ProtectorError('SITE_UNREACHABLE', `site ${name} is down (test)`);
    };
    const b = await gateway('gw-b3', { leaseMs: 300, site, fanout: false, clock });
    const c = await gateway('gw-c3', { leaseMs: 300, site, fanout: false, clock });
    cleanups.push(() => parked.abort()); // before the engines stop (cleanups run last first)
    const store = b.store;
    const start = clock.now();
    // A gateway died while running this operation: its lease (owner gw-dead) runs for 1 s more.
    const op = await store.createOperation({
      type: 'TEST_FAILOVER',
      protectionGroupId: 'pg-lease',
      protectionGroupName: 'group-pg-lease',
      sourceSite: 'lease-source',
      targetSite: 'lease-target',
      params: {},
      requestedBy: null,
      steps: [{ key: 'status:TEST_FAILING_OVER', name: 'setGroupStatus', site: null }],
      lease: { owner: 'gw-dead', ms: 1000 },
    });
    await store.updateOperation(op.id, { status: 'RUNNING', startedAt: new Date(start) });
    // Both look for abandoned operations at once, and keep looking: the lease is still held.
    await Promise.all([b.engine.recover(), c.engine.recover()]);
    expect(calls).toBe(0);
    expect(await store.getOperation(op.id)).toMatchObject({ status: 'RUNNING', owner: 'gw-dead' });
    await clock.advance(900); // six sweeps by each gateway, the last at 900 ms
    expect(calls).toBe(0);
    expect(await store.getOperation(op.id)).toMatchObject({ status: 'RUNNING', owner: 'gw-dead' });
    // Once it ran out (the sweeps at 1050 ms), exactly one of them takes the operation over and runs it.
    await clock.advance(150);
    await until('the operation to be resumed', () => calls === 1);
    expect((await store.getOperation(op.id))?.owner).not.toBe('gw-dead');
    // The step runs past the lease it was claimed with (until 1350 ms): a renewal every 100 ms
    // extends it, and the other gateway's sweeps (at 1200, 1350 and 1500 ms) leave the operation be.
    for (let renewal = 1; renewal <= 4; renewal++) {
      await clock.advance(100);
      const now = clock.now();
      await until(`renewal ${renewal} of the lease`, async () => {
        const o = await store.getOperation(op.id);
        return (o?.leaseUntil?.getTime() ?? 0) >= now + 300;
      });
    }
    await clock.advance(100); // at 1550 ms, the step's 500 ms are over: it fails
    await until('the operation to fail', async () => {
      const o = await store.getOperation(op.id);
      return o?.status === 'FAILED' && o;
    });
    // Whatever either gateway started has finished; a sweep by each now finds nothing to do.
    await Promise.all([b.engine.settle(op.id), c.engine.settle(op.id)]);
    await Promise.all([b.engine.recover(), c.engine.recover()]);
    await Promise.all([b.engine.settle(op.id), c.engine.settle(op.id)]);
    const failed = (await store.getOperation(op.id))!;
    expect(calls).toBe(1);
    expect(failed.steps[0]).toMatchObject({ status: 'FAILED', attempt: 1 });
    expect(failed.owner).toBeNull(); // released when the run stopped
    const resumers = [b, c].filter((g) => g.logs.some((l) => l.includes('left by gateway gw-dead')));
    expect(resumers).toHaveLength(1);
  });

  it('runs two protector-gateway instances on one database: both start, share events, stop', async () => {
    const db = await cluster.createDatabase('gateways');
    const state = await mkdtemp(join(tmpdir(), 'protector-gw-state-'));
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const encryptionKey = randomBytes(32).toString('hex'); // every gateway needs the same key
    const logs: string[] = [];
    const start = (n: number) =>
      startProtectorGateway(
        loadGatewayConfig({
          text: [
            `[DEFAULT]\nstate_path = ${state}/${n}`,
            '[api]\nbind_host = 127.0.0.1\nbind_port = 0\nplayground = false',
            `[database]\nconnection = ${db}\nencryption_key = ${encryptionKey}`,
            '[gateway]\nhealth_interval = 3600',
          ].join('\n'),
          env: {},
        }),
        { log: (level, message) => logs.push(`${n} ${level} ${message}`) },
      );
    const [one, two] = await Promise.all([start(1), start(2)]);
    try {
      expect(one.coordinator.engine.owner).not.toBe(two.coordinator.engine.owner);
      const onTwo = record(two.coordinator.events);
      // No site is registered: the first step fails at once, which is all this needs.
      const op = await one.coordinator.engine.start({
        type: 'TEST_FAILOVER',
        group: group('pg-gateways'),
        sites: { source: 'boston', target: 'seattle' },
        params: {},
        requestedBy: null,
      });
      await one.coordinator.engine.settle(op.id);
      await until('the failure on the second gateway', () =>
        onTwo.events.find((e) => e.operationId === op.id && e.status === 'FAILED'),
      );
      expect(onTwo.events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5]);
      onTwo.stop();

      // A site registered through one gateway appears on the other (registry reloaded, recomposed).
      const store = one.coordinator.engineStore();
      await store.registerSite({
        name: 'boston',
        key: 'boston',
        description: null,
        url: 'http://127.0.0.1:9/graphql',
        authUrl: 'http://127.0.0.1:9/v3',
      });
      await store.notify(SITES_CHANGED_CHANNEL, one.coordinator.engine.owner);
      await until('the site on the second gateway', () => two.coordinator.sites().length === 1);
      expect(one.coordinator.sites()).toEqual([]); // the announcing gateway ignores its own notice
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
    expect(logs.filter((l) => / (ERROR|WARNING) /.test(l))).toEqual([]);
  });

  it('refuses a second runner while the lease is renewed, and hands over after the run', async () => {
    // A clock that stands still: the 400 ms leases cannot run out between the claims, however slow the machine.
    const clock = new ManualClock();
    const one = await gatewayDb(clock);
    const two = await gatewayDb(clock);
    const op = await newOperation(one, 'pg-claim');
    const claims = await Promise.all([
      one.claimOperation(op.id, 'gw-1', 400),
      two.claimOperation(op.id, 'gw-2', 400),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    const [winner, loser] = claims[0] ? ['gw-1', 'gw-2'] : ['gw-2', 'gw-1'];
    expect(await one.claimOperation(op.id, winner!, 400)).toBe(true); // renewal
    expect(await two.claimOperation(op.id, loser!, 400)).toBe(false);
    await one.releaseOperation(op.id, loser!); // not the owner: no effect
    expect((await two.getOperation(op.id))?.owner).toBe(winner);
    await two.releaseOperation(op.id, winner!);
    expect(await two.claimOperation(op.id, loser!, 400)).toBe(true);
  });
});
