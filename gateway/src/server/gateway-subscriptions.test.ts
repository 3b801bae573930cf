/**
 * Subscriptions through the gateway: events of the stub coordinator resolved across the sites with
 * the subscriber's tokens, errors, and queries over the socket. The environment is `setupGatewayEnv`.
 */

import { deferred, type GraphQLErrorShape, subscribe, waitFor } from '@protector/test-kit';
import { type Client, createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { keystoneToken } from '../../../subgraph-site/test-support/site-process.js';
import { setupGatewayEnv } from './test-helpers.js';

const env = setupGatewayEnv(['boston', 'seattle']);

const wsUrl = () => env.gw.url.replace(/^http/, 'ws');

function connect(connectionParams: Record<string, unknown>): Client {
  return createClient({
    url: wsUrl(),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
}

/** A RUNNING operation of group pg-7 in the stub coordinator, and the hub its events go out on. */
function runningOperation(id: string) {
  env.coordinator.operations.set(id, {
    id,
    status: 'RUNNING',
    percentComplete: 10,
    protectionGroupId: 'pg-7',
  });
  return env.coordinator.broadcast(id);
}

/** Subscribes each client in turn, each once the coordinator has its subscription. */
async function subscribeInTurn(clients: readonly Client[], query: string) {
  const subs = [];
  for (const client of clients) {
    const subscribed = env.coordinator.subscribed();
    subs.push(subscribe(client, query));
    await subscribed;
  }
  return subs;
}

describe('subscriptions through the gateway', () => {
  const progressQuery = /* GraphQL */ `
    subscription Progress($id: ID!, $withGroup: Boolean!) {
      progress: operationProgress(id: $id) {
        sequence
        status
        message
        ...OperationPart
      }
    }
    fragment OperationPart on OperationEvent {
      op: operation {
        id
        st: status
        percentComplete
        ... on Operation {
          protectionGroup @include(if: $withGroup) { id name b: boston { id } seattle { id } }
        }
      }
    }`;

  it("resolves each event across subgraphs with the subscriber's tokens, and completes when the source ends", async () => {
    env.coordinator.operations.set('op-1', {
      id: 'op-1',
      status: 'RUNNING',
      percentComplete: 10,
      protectionGroupId: 'pg-7',
    });
    const client = connect({
      siteTokens: { boston: env.bostonTokens.tenant, seattle: env.seattleTokens.tenant },
    });
    try {
      const subscribed = env.coordinator.subscribed();
      const sub = subscribe(client, progressQuery, { id: 'op-1', withGroup: true });
      expect(await subscribed).toEqual({ field: 'operationProgress', args: { id: 'op-1' } });
      const channel = env.coordinator.channel('op-1');

      channel.push({
        sequence: 1,
        kind: 'STEP_STARTED',
        status: 'RUNNING',
        percentComplete: 10,
        operation: { id: 'op-1' },
      });
      expect(await sub.next()).toEqual({
        data: {
          progress: {
            sequence: 1,
            status: 'RUNNING',
            message: 'event 1',
            op: {
              id: 'op-1',
              st: 'RUNNING',
              percentComplete: 10,
              protectionGroup: { id: 'pg-7', name: 'pg-pg-7', b: null, seattle: null },
            },
          },
        },
      });

      // Each event is refetched: the operation's state now, not the state at subscribe time.
      env.coordinator.operations.set('op-1', {
        id: 'op-1',
        status: 'SUCCEEDED',
        percentComplete: 100,
        protectionGroupId: 'pg-7',
      });
      channel.push({
        sequence: 2,
        kind: 'STATUS_CHANGED',
        status: 'SUCCEEDED',
        percentComplete: 100,
        operation: { id: 'op-1' },
        message: 'done',
      });
      const second = await sub.next();
      expect(second.errors).toBeUndefined();
      expect(second.data?.['progress']).toMatchObject({
        sequence: 2,
        message: 'done',
        op: { st: 'SUCCEEDED', percentComplete: 100 },
      });

      channel.end();
      await sub.completed;
      expect(sub.results).toHaveLength(2);
    } finally {
      await client.dispose();
    }
  });

  it('puts a site error of a refetched field at its path in the event', async () => {
    env.coordinator.operations.set('op-2', {
      id: 'op-2',
      status: 'RUNNING',
      percentComplete: 50,
      protectionGroupId: 'pg-8',
    });
    // Boston gets seattle's token (wrong there); seattle gets its own.
    const client = connect({
      siteTokens: { seattle: env.seattleTokens.tenant },
      token: env.seattleTokens.tenant,
    });
    try {
      const subscribed = env.coordinator.subscribed();
      const sub = subscribe(client, progressQuery, { id: 'op-2', withGroup: true });
      await subscribed;
      env.coordinator.channel('op-2').push({
        sequence: 1,
        kind: 'CREATED',
        status: 'RUNNING',
        percentComplete: 50,
        operation: { id: 'op-2' },
      });
      const event = await sub.next();
      expect(event.data?.['progress']).toMatchObject({
        op: { st: 'RUNNING', protectionGroup: { id: 'pg-8', b: null, seattle: null } },
      });
      expect(event.errors).toHaveLength(1);
      expect(event.errors?.[0]).toMatchObject({
        path: ['progress', 'op', 'protectionGroup', 'b'],
        extensions: { code: 'UNAUTHENTICATED', site: 'boston' },
      });
      // The subscriber leaves: the coordinator's source is ended at once.
      sub.dispose();
      await env.coordinator.channel('op-2').returned.promise;
    } finally {
      await client.dispose();
    }
  });

  it('takes key-only selections from the event without refetching', async () => {
    env.coordinator.operations.set('op-3', {
      id: 'op-3',
      status: 'RUNNING',
      percentComplete: 0,
      protectionGroupId: 'pg-9',
    });
    const client = connect({ token: env.bostonTokens.tenant });
    try {
      const subscribed = env.coordinator.subscribed();
      const sub = subscribe(
        client,
        'subscription { operationProgress(id: "op-3") { sequence operation { id __typename } } }',
      );
      await subscribed;
      const before = env.coordinator.contexts.length;
      env.coordinator
        .channel('op-3')
        .push({ sequence: 7, status: 'RUNNING', percentComplete: 0, operation: { id: 'op-3' } });
      expect(await sub.next()).toEqual({
        data: { operationProgress: { sequence: 7, operation: { id: 'op-3', __typename: 'Operation' } } },
      });
      expect(env.coordinator.contexts.length).toBe(before);
      env.coordinator.channel('op-3').end();
      await sub.completed;
    } finally {
      await client.dispose();
    }
  });

  it('refetches an event entity once for every subscriber with the same selection and tokens', async () => {
    const hub = runningOperation('op-many');
    const query =
      'subscription { operationProgress(id: "op-many") { sequence message operation { status protectionGroup { id b: boston { id } } } } }';
    const clients = Array.from({ length: 6 }, (_, i) =>
      connect({ token: i < 5 ? env.bostonTokens.tenant : env.bostonTokens.admin }),
    );
    try {
      const subs = await subscribeInTurn(clients, query);
      const before = env.coordinator.contexts.length;
      const resolved = env.coordinator.resolutions.message;
      hub.publish({ sequence: 1, status: 'RUNNING', percentComplete: 10, operation: { id: 'op-many' } });
      const events = await Promise.all(subs.map((s) => s.next()));
      for (const e of events) {
        expect(e).toMatchObject({
          data: {
            operationProgress: {
              sequence: 1,
              operation: { status: 'RUNNING', protectionGroup: { id: 'pg-7' } },
            },
          },
        });
      }
      // Five subscribers with one token share one execution of the event (and so one refetch); the
      // sixth (another token) has its own.
      expect(env.coordinator.contexts.length - before).toBe(2);
      expect(env.coordinator.resolutions.message - resolved).toBe(2);
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });

  it('answers an invalid document with the protocol error message', async () => {
    const client = connect({ token: env.bostonTokens.tenant });
    try {
      const sub = subscribe(client, 'subscription { operationProgress(id: "op-1") { nope } }');
      const errors = (await sub.failed) as GraphQLErrorShape[];
      expect(errors[0]?.message).toMatch(/Cannot query field "nope" on type "OperationEvent"/);
      // A field of a site not in the supergraph is refused the same way (validated against the current schema).
      const sub2 = subscribe(
        client,
        'subscription { operationProgress(id: "op-1") { operation { id denver { id } } } }',
      );
      expect(((await sub2.failed) as GraphQLErrorShape[])[0]?.message).toMatch(/Cannot query field "denver"/);
    } finally {
      await client.dispose();
    }
  });

  it('passes a coordinator error of the source as a result with its code', async () => {
    const client = connect({ token: env.bostonTokens.tenant });
    try {
      const sub = subscribe(client, 'subscription { operationProgress(id: "nope") { sequence } }');
      const result = await sub.next();
      expect(result.errors?.[0]).toMatchObject({
        message: "Operation 'nope' does not exist.",
        extensions: { code: 'NOT_FOUND' },
      });
      await sub.completed;
    } finally {
      await client.dispose();
    }
  });

  it('closes a connection without any token with 4403 Forbidden', async () => {
    const ws = new WebSocket(wsUrl(), 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { siteTokens: {} } })));
    expect(await closed).toBe(4403);
  });

  it('runs queries sent over the socket through the gateway', async () => {
    const client = connect({ siteTokens: { seattle: env.seattleTokens.tenant } });
    try {
      const sub = subscribe(client, '{ seattle { key } sites { name } }');
      expect(await sub.next()).toEqual({
        data: { seattle: { key: 'seattle' }, sites: [{ name: 'boston' }, { name: 'seattle' }] },
      });
      await sub.completed;
    } finally {
      await client.dispose();
    }
  });

  it('gives subscribers with the same selection and tokens one shared stream: one source, one check, one execution per event', async () => {
    const query =
      'subscription Events($pg: ID) { operationEvents(protectionGroup: $pg) { sequence kind message } }';
    const tenant = { siteTokens: { boston: env.bostonTokens.tenant, seattle: env.seattleTokens.tenant } };
    const admin = { siteTokens: { boston: env.bostonTokens.admin, seattle: env.seattleTokens.admin } };
    const c = env.coordinator;
    const hub = c.broadcast('group:pg-1');
    const sources = () => c.subscribeCalls['operationEvents'] ?? 0;
    const [sourcesBefore, admittedBefore] = [sources(), c.admitted.length];
    const clients = [tenant, tenant, tenant, tenant, admin, admin].map((tokens) => connect(tokens));
    const event = (sequence: number) => ({ sequence, kind: 'STEP_STARTED', operation: { id: 'op-x' } });
    /** Publishes event `sequence`, and waits until each of `subs` has it as its latest result. */
    const delivered = async (subs: ReturnType<typeof subscribe>[], sequence: number) => {
      hub.publish(event(sequence));
      const latest = (sub: ReturnType<typeof subscribe>) =>
        (sub.results.at(-1)?.data?.['operationEvents'] as { sequence?: number } | undefined)?.sequence;
      await waitFor(`event ${sequence} at every subscriber`, () =>
        subs.every((sub) => latest(sub) === sequence),
      );
    };
    try {
      const subs = clients.map((client) => subscribe(client, query, { pg: 'pg-1' }));
      // Events until every subscriber has one (the protocol does not acknowledge a subscription).
      let warmUp = 0;
      while (subs.some((sub) => sub.results.length === 0)) {
        hub.publish(event(--warmUp));
        await new Promise((r) => setTimeout(r, 20));
      }
      // One source and one check per tenant's tokens, whatever the number of its subscribers; each
      // tenant's own tokens were checked.
      expect(sources() - sourcesBefore).toBe(2);
      const checked = c.admitted.slice(admittedBefore).map((ctx) => ctx.siteTokens['boston']);
      expect(checked.sort()).toEqual([env.bostonTokens.tenant, env.bostonTokens.admin].sort());
      expect(hub.size).toBe(2);

      const messages = c.resolutions.message;
      await delivered(subs, 1);
      expect(subs[0]!.results.at(-1)).toEqual({
        data: { operationEvents: { sequence: 1, kind: 'STEP_STARTED', message: 'event 1' } },
      });
      expect(c.resolutions.message - messages).toBe(2); // once per stream, not per subscriber

      // Refused: the caller may not see the group; it gets the coordinator's error and no events.
      const refused = subscribe(clients[0]!, query, { pg: 'missing' });
      expect((await refused.next()).errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
      await refused.completed;

      // A stream lives while it has subscribers: three of the tenant's left, its fourth still gets events.
      for (const sub of subs.slice(0, 3)) sub.dispose();
      await delivered(subs.slice(3), 2);
      expect(hub.size).toBe(2);
      // With its last subscriber gone, a stream stops listening; the next subscriber opens a new one.
      subs[3]!.dispose();
      await waitFor("the tenant's stream closed", () => hub.size === 1);
      const again = subscribe(clients[1]!, query, { pg: 'pg-1' });
      await waitFor('a new stream', () => hub.size === 2);
      expect(sources() - sourcesBefore).toBe(4); // two, the refused one's, and this one
      again.dispose();
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it("executes an event once for subscribers whose different tokens act as one user, project and roles; another user's apart", async () => {
    const query =
      'subscription Events($pg: ID) { operationEvents(protectionGroup: $pg) { sequence kind message } }';
    const tokensOf = async (user: string) => {
      const boston = (await keystoneToken(env.boston.keystoneUrl, user, user, user)).token;
      const seattle = (await keystoneToken(env.seattle.keystoneUrl, user, user, user)).token;
      // The gateway has checked them (as it does each subscriber's at connection_init).
      await env.keystones.boston!.validate(boston);
      await env.keystones.seattle!.validate(seattle);
      return { siteTokens: { boston, seattle } };
    };
    const params = [
      await tokensOf('demo'),
      await tokensOf('demo'),
      await tokensOf('demo'),
      await tokensOf('admin'),
    ];
    const c = env.coordinator;
    const hub = c.broadcast('group:pg-2');
    const sourcesBefore = c.subscribeCalls['operationEvents'] ?? 0;
    const clients = params.map((p) => connect(p));
    try {
      const subs = clients.map((client) => subscribe(client, query, { pg: 'pg-2' }));
      let warmUp = 0;
      while (subs.some((sub) => sub.results.length === 0)) {
        hub.publish({ sequence: --warmUp, kind: 'STEP_STARTED', operation: { id: 'op-y' } });
        await new Promise((r) => setTimeout(r, 20));
      }
      // A stream per set of tokens (each checks its own tokens at every event)...
      expect((c.subscribeCalls['operationEvents'] ?? 0) - sourcesBefore).toBe(4);
      // ... and one execution of an event per caller: demo's three streams share one.
      const messages = c.resolutions.message;
      hub.publish({ sequence: 1, kind: 'STEP_STARTED', operation: { id: 'op-y' } });
      const latest = (sub: ReturnType<typeof subscribe>) =>
        (sub.results.at(-1)?.data?.['operationEvents'] as { sequence?: number } | undefined)?.sequence;
      await waitFor('event 1 at every subscriber', () => subs.every((sub) => latest(sub) === 1));
      for (const sub of subs)
        expect(sub.results.at(-1)).toEqual({
          data: { operationEvents: { sequence: 1, kind: 'STEP_STARTED', message: 'event 1' } },
        });
      expect(c.resolutions.message - messages).toBe(2);
      for (const sub of subs) sub.dispose();
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it("a subscriber gets its own execution when the same user's token its event was executed with has been revoked", async () => {
    const hub = runningOperation('op-revoked');
    const query =
      'subscription { operationProgress(id: "op-revoked") { sequence message operation { protectionGroup { id b: boston { id } } } } }';
    const demo = async () => {
      const token = (await keystoneToken(env.boston.keystoneUrl, 'demo', 'demo', 'demo')).token;
      await env.keystones.boston!.validate(token);
      return token;
    };
    const [revoked, valid] = [await demo(), await demo()];
    // The first subscriber's execution is the one shared.
    const clients = [revoked, valid].map((token) => connect({ siteTokens: { boston: token } }));
    try {
      const subs = await subscribeInTurn(clients, query);
      const ks = env.boston.keystoneUrl.replace(/\/+$/, '');
      const del = await fetch(`${ks}/auth/tokens`, {
        method: 'DELETE',
        headers: { 'x-auth-token': env.bostonTokens.admin, 'x-subject-token': revoked },
      });
      expect(del.status).toBe(204);
      const resolved = env.coordinator.resolutions.message;
      hub.publish({ sequence: 1, status: 'RUNNING', percentComplete: 10, operation: { id: 'op-revoked' } });
      const [mine, theirs] = await Promise.all(subs.map((sub) => sub.next()));
      expect(mine!.errors?.[0]).toMatchObject({
        path: ['operationProgress', 'operation', 'protectionGroup', 'b'],
        extensions: { code: 'UNAUTHENTICATED' },
      });
      expect(theirs!.errors).toBeUndefined();
      expect(theirs!.data).toEqual({
        operationProgress: {
          sequence: 1,
          message: 'event 1',
          operation: { protectionGroup: { id: 'pg-7', b: null } },
        },
      });
      expect(env.coordinator.resolutions.message - resolved).toBe(2);
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });

  it('gives a shared subscriber nothing of its stream before its check passes, and completes it when the stream ends', async () => {
    const query = 'subscription Events($pg: ID) { operationEvents(protectionGroup: $pg) { sequence kind } }';
    const c = env.coordinator;
    const tokens = { siteTokens: { boston: env.bostonTokens.tenant, seattle: env.seattleTokens.tenant } };
    const [one, two] = [connect(tokens), connect(tokens)];
    const gate = deferred();
    try {
      // A check that ends in a refusal while the stream already has events: none reaches the caller.
      const hub = c.broadcast('group:missing');
      c.admissionGate = gate.promise;
      const admitted = c.admitted.length;
      const refused = subscribe(one, query, { pg: 'missing' });
      await waitFor('the check under way', () => c.admitted.length > admitted);
      // The stub's source for 'missing' refuses at once; a stream of another group shows the wait.
      const waiting = subscribe(two, query, { pg: 'pg-ends' });
      await waitFor('its check under way too', () => c.admitted.length > admitted + 1);
      const ends = c.broadcast('group:pg-ends');
      await waitFor('the stream listening', () => ends.size === 1);
      ends.publish({ sequence: 1, kind: 'STEP_STARTED', operation: { id: 'op-y' } });
      await new Promise((r) => setTimeout(r, 100));
      expect(waiting.results).toEqual([]); // held until its check passes
      c.admissionGate = null;
      gate.resolve();
      expect((await refused.next()).errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
      await refused.completed;
      expect(refused.results).toHaveLength(1);
      expect(hub.size).toBe(0);
      // Admitted: what waited comes first, then live events; the stream's end completes it.
      expect(await waiting.next()).toEqual({
        data: { operationEvents: { sequence: 1, kind: 'STEP_STARTED' } },
      });
      ends.publish({ sequence: 2, kind: 'STEP_FINISHED', operation: { id: 'op-y' } });
      expect(await waiting.next()).toEqual({
        data: { operationEvents: { sequence: 2, kind: 'STEP_FINISHED' } },
      });
      ends.end();
      await waiting.completed;
    } finally {
      c.admissionGate = null;
      gate.resolve();
      await Promise.all([one.dispose(), two.dispose()]);
    }
  });
});
