/**
 * Caller-scoped parts of the coordinator's schema. `Site.health` and the `siteHealth` events show a
 * caller only its own groups' lag, RPO and issues. The `operationEvents` source: each subscriber sees only the operations it may see,
 * and subscribers holding the same tokens share that question while it is in flight (10,000
 * dashboards of 100 users ask it 100 times per group, not 10,000), without any answer crossing
 * from one set of tokens to another.
 */

import { EventHub } from '@protector/platform';
import type { Json } from '@protector/schema';
import { execute, graphql, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { CallerTokens, Coordinator, GroupView, SiteHealth } from './coordinator.js';
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

/**
 * Site health as each caller may see it: the site's own state from the health check, and lag, RPO and
 * issues from the caller's own groups (read with its tokens), never another tenant's.
 */
describe('Site.health', () => {
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
  /** A group replicating boston -> seattle whose newest point landed on seattle `m` minutes ago. */
  const view = (id: string, m: number | null, replicationType = 'ASYNC'): GroupView => {
    const group = {
      id,
      replicationType,
      secondarySite: { name: 'seattle' },
      policy: { rpoMinutes: 5 },
      members: [{ id: `${id}-m` }],
      metadataVersion: 1,
      lastReplicationAt: null,
    };
    return {
      id,
      group: group as unknown as GroupView['group'],
      reads: [
        { site: 'boston', replica: { ...group } as never, error: null },
        {
          site: 'seattle',
          replica: { ...group, lastReplicationAt: m === null ? null : minutesAgo(m) } as never,
          error: null,
        },
      ],
    };
  };
  const groupsOf: Record<string, GroupView[]> = {
    'tenant-a': [view('pg-a', 9)],
    'tenant-b': [view('pg-b', 1), view('pg-b2', null)],
  };
  const health = (linkState: string): SiteHealth => ({
    status: linkState === 'CONNECTED' ? 'ACTIVE' : 'DEGRADED',
    checkedAt: new Date(),
    latencyMs: 3,
    version: '1',
    storageDriver: 'MOCK',
    storageReachable: true,
    linkState,
    issues: [],
  });
  const coordinator = (linkState = 'CONNECTED') =>
    ({
      events: new OperationEventBus(),
      engineStore: () => ({ getOperation: async () => null, listOperations: async () => [] }),
      authenticate: async () => undefined,
      sites: () => [{ name: 'seattle', key: 'seattle' }],
      siteHealth: () => health(linkState),
      healthEvents: new EventHub(),
      listGroups: async (ctx: CallerTokens) => groupsOf[String(ctx.defaultToken)] ?? [],
    }) as unknown as Coordinator;
  const QUERY = `{ sites { health { maxReplicationLagSeconds rpoCompliance failoverReadiness
    protectionGroups { replicationLagSeconds rpoCompliance } issues { code message } } } }`;
  const ask = async (c: Coordinator, token: string) => {
    const res = await graphql({
      schema: buildCoordinatorSchema(c).schema,
      source: QUERY,
      contextValue: tokens(token),
    });
    expect(res.errors).toBeUndefined();
    return (res.data as { sites: { health: Json }[] }).sites[0]!.health;
  };

  it("shows each tenant its own groups' lag, RPO and issues only", async () => {
    const c = coordinator();
    const a = await ask(c, 'tenant-a');
    expect(a).toMatchObject({ maxReplicationLagSeconds: expect.any(Number), rpoCompliance: 'VIOLATED' });
    expect(Math.abs(Number(a.maxReplicationLagSeconds) - 540)).toBeLessThanOrEqual(2);
    expect((a.issues as Json[]).map((i) => i.code)).toEqual(['RPO_VIOLATED']);
    expect(String((a.issues as Json[])[0]!.message)).toMatch(/exceeds the RPO of 5 min/);

    // Tenant B's groups comply (one has no point yet): A's violation is not B's to see.
    const b = await ask(c, 'tenant-b');
    expect(b).toMatchObject({ rpoCompliance: 'COMPLIANT', issues: [] });
    expect(Math.abs(Number(b.maxReplicationLagSeconds) - 60)).toBeLessThanOrEqual(2);
    expect((b.protectionGroups as Json[]).map((g) => g.rpoCompliance)).toEqual(['COMPLIANT', 'UNKNOWN']);

    // A caller with no groups learns nothing of anyone's.
    expect(await ask(c, 'nobody')).toMatchObject({
      maxReplicationLagSeconds: null,
      rpoCompliance: 'UNKNOWN',
      protectionGroups: [],
      issues: [],
    });
  });

  it("gives each subscriber of siteHealth its own groups' health", async () => {
    const schema = buildCoordinatorSchema(coordinator());
    const document = parse(
      'subscription { siteHealth { site { name } status health { rpoCompliance issues { code } } } }',
    );
    const eventAs = async (token: string) => {
      // The first event is the site's current status; the gateway executes the selection on it.
      const source = await schema.subscribe('siteHealth', {}, tokens(token));
      const it = source[Symbol.asyncIterator]();
      const event = (await it.next()).value;
      await it.return?.();
      const res = await execute({
        schema: schema.schema,
        document,
        rootValue: { siteHealth: event },
        contextValue: tokens(token),
      });
      expect(res.errors).toBeUndefined();
      return (res.data as { siteHealth: Json }).siteHealth;
    };
    expect(await eventAs('tenant-a')).toMatchObject({
      site: { name: 'seattle' },
      status: 'ACTIVE',
      health: { rpoCompliance: 'VIOLATED', issues: [{ code: 'RPO_VIOLATED' }] },
    });
    expect(await eventAs('tenant-b')).toMatchObject({ health: { rpoCompliance: 'COMPLIANT', issues: [] } });
  });

  it('counts a sync group as not behind only while the replication link is connected', async () => {
    groupsOf['tenant-s'] = [view('pg-s', null, 'SYNC')];
    try {
      const up = await ask(coordinator('CONNECTED'), 'tenant-s');
      expect(up).toMatchObject({ maxReplicationLagSeconds: 0, rpoCompliance: 'COMPLIANT' });
      const down = await ask(coordinator('DISCONNECTED'), 'tenant-s');
      expect(down).toMatchObject({ maxReplicationLagSeconds: null, rpoCompliance: 'UNKNOWN' });
    } finally {
      delete groupsOf['tenant-s'];
    }
  });
});
