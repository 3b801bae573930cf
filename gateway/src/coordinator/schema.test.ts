/**
 * The coordinator's `operationEvents` source: each subscriber sees only the operations it may see,
 * and subscribers holding the same tokens share that question while it is in flight (10,000
 * dashboards of 100 users ask it 100 times per group, not 10,000), without any answer crossing
 * from one set of tokens to another.
 */
import { describe, expect, it } from 'vitest';
import type { CallerTokens, Coordinator } from './coordinator.js';
import { OperationEventBus, snapshotEvent } from './events.js';
import { buildCoordinatorSchema } from './schema.js';
import type { OperationRecord } from './store.js';

const operation = (id: string, protectionGroupId: string): OperationRecord => ({
  id,
  type: 'TEST_FAILOVER',
  status: 'RUNNING',
  protectionGroupId,
  protectionGroupName: protectionGroupId,
  sourceSite: 'boston',
  targetSite: 'seattle',
  params: {},
  recoveryPoint: null,
  members: [],
  error: null,
  requestedBy: null,
  cancelRequested: false,
  rollbackRequested: false,
  sequence: 1,
  createdAt: new Date(),
  startedAt: new Date(),
  finishedAt: null,
  owner: null,
  leaseUntil: null,
  steps: [],
});

/** A coordinator whose callers see only their own group: `tenant-a` sees pg-a, `tenant-b` pg-b. */
function fakeCoordinator() {
  const events = new OperationEventBus();
  const asked: string[] = [];
  const c = {
    events,
    engineStore: () => ({ getOperation: async () => null }),
    authenticate: async () => undefined,
    async operationVisible(ctx: CallerTokens, op: OperationRecord) {
      asked.push(`${ctx.defaultToken}:${op.protectionGroupId}`);
      await new Promise((r) => setTimeout(r, 20)); // a site round trip
      return op.protectionGroupId === `pg-${String(ctx.defaultToken).slice(-1)}`;
    },
  };
  return { c: c as unknown as Coordinator, events, asked };
}

const tokens = (token: string): CallerTokens => ({ defaultToken: token, siteTokens: {} });

async function firstEvent(source: AsyncIterable<unknown>, ms = 200): Promise<unknown> {
  const it = source[Symbol.asyncIterator]();
  const timeout = new Promise((r) => setTimeout(() => r('none'), ms));
  const got = await Promise.race([it.next().then((s) => s.value), timeout]);
  await it.return?.();
  return got;
}

describe('operationEvents visibility', () => {
  it('asks once per group for subscribers with the same tokens, and never shares across tokens', async () => {
    const { c, events, asked } = fakeCoordinator();
    const schema = buildCoordinatorSchema(c);
    const asA = await Promise.all(
      Array.from({ length: 50 }, () => schema.subscribe('operationEvents', {}, tokens('tenant-a'))),
    );
    const asB = await Promise.all(
      Array.from({ length: 50 }, () => schema.subscribe('operationEvents', {}, tokens('tenant-b'))),
    );
    const gotA = asA.map((s) => firstEvent(s));
    const gotB = asB.map((s) => firstEvent(s));
    events.publish(snapshotEvent(operation('op-1', 'pg-a'), 'started'));

    // A's 50 subscribers get A's event; B's 50 get nothing of it.
    expect((await Promise.all(gotA)).every((e) => (e as { sequence: number }).sequence === 1)).toBe(true);
    expect(await Promise.all(gotB)).toEqual(Array(50).fill('none'));
    // One question per set of tokens, not one per subscriber.
    expect(asked.sort()).toEqual(['tenant-a:pg-a', 'tenant-b:pg-a']);
  });
});
