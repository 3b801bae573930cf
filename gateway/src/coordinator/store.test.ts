import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey } from '@protector/platform/db';
import { ProtectorError } from '@protector/schema';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperationEngine } from './engine.js';
import { type OperationEvent, OperationEventBus } from './events.js';
import { COORDINATOR_MIGRATIONS, CoordinatorStore, openCoordinatorDataSource } from './store.js';

/** The coordinator database of a single gateway (SQLite): leases never stand in a restart's way. */
describe('coordinator store on SQLite', () => {
  let dir: string;
  let ds: DataSource;
  let store: CoordinatorStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'protector-gw-store-'));
    ds = await openCoordinatorDataSource(`sqlite:///${join(dir, 'gateway.sqlite')}`);
    store = new CoordinatorStore(ds, generateSecretKey());
  });
  afterEach(async () => {
    await ds.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const newOperation = (lease?: { owner: string; ms: number }) =>
    store.createOperation({
      type: 'TEST_FAILOVER',
      protectionGroupId: 'g1',
      protectionGroupName: 'web',
      sourceSite: 'boston',
      targetSite: 'seattle',
      params: {},
      requestedBy: null,
      steps: [{ key: 'status:TEST_FAILING_OVER', name: 'setGroupStatus', site: null }],
      lease,
    });

  it('migrates, refuses a second active operation per group, numbers events, never announces them', async () => {
    expect(store.shared).toBe(false);
    expect(await ds.query('SELECT name FROM schema_migrations ORDER BY id')).toEqual(
      COORDINATOR_MIGRATIONS.map((m) => ({ name: new m().name })),
    );
    const op = await newOperation();
    await expect(newOperation()).rejects.toMatchObject({
      code: 'OPERATION_IN_PROGRESS',
      details: { operation: op.id },
    });
    const announced: number[] = [];
    const numbers = await Promise.all(
      [1, 2, 3].map(() =>
        store.nextSequence(op.id, (n) => {
          announced.push(n);
          return 'x';
        }),
      ),
    );
    expect(numbers.map((n) => n.sequence).sort()).toEqual([1, 2, 3]);
    expect(numbers.map((n) => n.status)).toEqual(['PENDING', 'PENDING', 'PENDING']);
    expect(announced).toEqual([]); // no NOTIFY on SQLite: the bus encoder is not even asked
  });

  it('lets the gateway claim its operations whatever lease a previous process left', async () => {
    const op = await newOperation({ owner: 'previous-process', ms: 60_000 });
    expect(op).toMatchObject({ owner: 'previous-process' });
    expect(await store.claimOperation(op.id, 'this-process', 1000)).toBe(true);
    await store.releaseOperation(op.id, 'someone-else');
    expect((await store.getOperation(op.id))?.owner).toBe('this-process');
    await store.releaseOperation(op.id, 'this-process');
    expect(await store.getOperation(op.id)).toMatchObject({ owner: null, leaseUntil: null });

    // A restarted gateway resumes at once an operation its previous process was running.
    await store.claimOperation(op.id, 'previous-process', 60_000);
    await store.updateOperation(op.id, { status: 'RUNNING', startedAt: new Date() });
    const bus = new OperationEventBus();
    const events: OperationEvent[] = [];
    const source = bus.subscribe();
    void (async () => {
      for await (const e of source) events.push(e);
    })();
    const logs: string[] = [];
    const engine = new OperationEngine({
      store,
      events: bus,
      log: (_, m) => logs.push(m),
      site: async (name) => {
        throw new ProtectorError('SITE_UNREACHABLE', `site ${name} is down (test)`);
      },
    });
    await engine.recover();
    await engine.settle(op.id);
    await engine.stop();
    expect(await store.getOperation(op.id)).toMatchObject({ status: 'FAILED', owner: null });
    expect(logs.join('\n')).toContain(
      `resuming operation ${op.id} (TEST_FAILOVER, RUNNING) left by gateway previous-process`,
    );
    expect(events.map((e) => e.kind)).toEqual(['STEP_STARTED', 'STEP_FINISHED', 'STATUS_CHANGED']);
    void source.return(undefined);
  });
});
