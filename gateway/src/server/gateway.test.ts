/**
 * The gateway against a stub coordinator (the real coordinator SDL, in-memory resolvers) and two REAL
 * site services started as child processes, plus a spy site and a site that never answers.
 */

import { mkdirSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { sendJson } from '@protector/platform/server';
import { coordinatorSubgraphSdl, ProtectorError } from '@protector/schema';
import { type GraphQLSchema, parse } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type GraphQLErrorShape,
  type SiteProcess,
  type SiteTokens,
  siteTokens,
  startSiteProcess,
  tempDir,
  writeSiteConfig,
} from '../../../subgraph-site/test-support/site-process.js';
import {
  contextFromHeaders,
  type GatewayContext,
  type GatewaySite,
  type RunningGateway,
  startGateway,
} from './index.js';
import { deferred, EventChannel, subscribe } from './test-helpers.js';

// ---------------------------------------------------------------------------------------------
// The stub coordinator: the real coordinator SDL with a few in-memory resolvers, and subscription
// sources the test drives event by event.

export interface StubOperation {
  id: string;
  status: string;
  percentComplete: number;
  protectionGroupId: string;
}

/** The stub coordinator: schema, registry, operations, and what it saw. */
export interface StubCoordinator {
  readonly schema: GraphQLSchema;
  readonly registry: GatewaySite[];
  readonly operations: Map<string, StubOperation>;
  /** Contexts the coordinator's resolvers were called with. */
  readonly contexts: GatewayContext[];
  /** One channel per operation id; created on first use. */
  channel(operationId: string): EventChannel<Record<string, unknown>>;
  /** Resolves on each coordinatorSubscribe call (renewed after each). */
  subscribed(): Promise<{ field: string; args: Record<string, unknown> }>;
  coordinatorSubscribe(
    field: string,
    args: Record<string, unknown>,
    ctx: GatewayContext,
  ): AsyncIterable<Record<string, unknown>>;
}

export function createStubCoordinator(): StubCoordinator {
  const registry: GatewaySite[] = [];
  const operations = new Map<string, StubOperation>();
  const contexts: GatewayContext[] = [];
  const channels = new Map<string, EventChannel<Record<string, unknown>>>();
  let nextSubscribe = deferred<{ field: string; args: Record<string, unknown> }>();

  const site = (s: GatewaySite) => ({
    name: s.name,
    key: s.key,
    url: s.url,
    authUrl: 'http://keystone.invalid/v3',
    status: 'ACTIVE',
    role: 'IDLE',
    registeredAt: '2025-01-01T00:00:00.000Z',
  });
  const protectionGroup = (id: string) => ({ id, name: `pg-${id}`, status: 'ACTIVE', metadataVersion: 1 });
  const operation = (id: string) => {
    const op = operations.get(id);
    return op ? { ...op, type: 'FAILOVER' } : null;
  };

  const resolvers = {
    Query: {
      sites: (_: unknown, __: unknown, ctx: GatewayContext) => {
        contexts.push(ctx);
        return registry.map(site);
      },
      site: (_: unknown, args: { name: string }) => {
        const s = registry.find((r) => r.name === args.name);
        return s ? site(s) : null;
      },
      protectionGroup: (_: unknown, args: { id?: string }, ctx: GatewayContext) => {
        contexts.push(ctx);
        if (args.id === 'missing') {
          throw new ProtectorError('NOT_FOUND', "Protection Group 'missing' does not exist.", {
            id: 'missing',
          });
        }
        return args.id ? protectionGroup(args.id) : null;
      },
      operation: (_: unknown, args: { id: string }, ctx: GatewayContext) => {
        contexts.push(ctx);
        return operation(args.id);
      },
    },
    ProtectionGroup: { __resolveReference: (ref: { id: string }) => protectionGroup(ref.id) },
    Site: {
      __resolveReference: (ref: { name: string }) => {
        const s = registry.find((r) => r.name === ref.name);
        return s ? site(s) : null;
      },
    },
    Operation: {
      __resolveReference: (ref: { id: string }) => operation(ref.id),
      protectionGroup: (op: StubOperation) => protectionGroup(op.protectionGroupId),
    },
    // A coordinator resolver on an event field: the gateway must use it for fields it takes from events.
    OperationEvent: {
      message: (event: { message?: string; sequence: number }) => event.message ?? `event ${event.sequence}`,
    },
  };

  const schema = buildSubgraphSchema([
    { typeDefs: parse(coordinatorSubgraphSdl), resolvers: resolvers as never },
  ]);
  const channel = (id: string) => {
    let c = channels.get(id);
    if (!c) {
      c = new EventChannel();
      channels.set(id, c);
    }
    return c;
  };

  return {
    schema,
    registry,
    operations,
    contexts,
    channel,
    subscribed: () => nextSubscribe.promise,
    coordinatorSubscribe(field, args) {
      const done = nextSubscribe;
      nextSubscribe = deferred();
      done.resolve({ field, args });
      if (field !== 'operationProgress') {
        throw new ProtectorError('BAD_USER_INPUT', `The stub coordinator has no events for ${field}.`);
      }
      const id = String(args['id']);
      if (!operations.has(id)) throw new ProtectorError('NOT_FOUND', `Operation '${id}' does not exist.`);
      return channel(id);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Real site services (child processes) and fake ones (a spy and a site that never answers).

const sitesDir = tempDir('protector-gw-test');
const mockDir = join(sitesDir.path, 'mock-storage');
let boston: SiteProcess;
let seattle: SiteProcess;
let bostonTokens: SiteTokens;
let seattleTokens: SiteTokens;

/** A fake site that records the headers it gets and answers every entity with a null replica. */
let spy: { url: string; headers: IncomingHttpHeaders[]; close(): Promise<void> };
/** Accepts connections and never answers. */
let hang: { url: string; close(): Promise<void> };

async function startSpy(): Promise<typeof spy> {
  const headers: IncomingHttpHeaders[] = [];
  const server = createHttpServer((req, res) => {
    headers.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { _entities: [{ spy: null }] } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    headers,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function startHang(): Promise<typeof hang> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const coordinator = createStubCoordinator();
let gw: RunningGateway;
const logs: string[] = [];
const TIMEOUT_MS = 1500;

const siteEntry = (name: string, url: string): GatewaySite => ({ name, key: name, url });

beforeAll(async () => {
  mkdirSync(mockDir, { recursive: true });
  const [b, s] = await Promise.all([
    startSiteProcess(
      writeSiteConfig({ name: 'boston', dir: sitesDir.path, mockDir, arrays: ['gw-array-a', 'gw-array-b'] }),
    ),
    startSiteProcess(
      writeSiteConfig({ name: 'seattle', dir: sitesDir.path, mockDir, arrays: ['gw-array-b', 'gw-array-a'] }),
    ),
  ]);
  boston = b;
  seattle = s;
  [bostonTokens, seattleTokens] = await Promise.all([
    siteTokens(boston.keystoneUrl),
    siteTokens(seattle.keystoneUrl),
  ]);
  [spy, hang] = await Promise.all([startSpy(), startHang()]);
  // Only boston is registered at start: the recompose test registers seattle.
  coordinator.registry.push(siteEntry('boston', boston.url));
  gw = await startGateway({
    port: 0,
    coordinatorSchema: coordinator.schema,
    coordinatorSubscribe: (field, args, ctx) => coordinator.coordinatorSubscribe(field, args, ctx),
    sites: () => coordinator.registry,
    subgraphTimeoutMs: TIMEOUT_MS,
    routes: { '/hello/*': (_req, res) => sendJson(res, 200, { hello: true }) },
    log: (level, message) => logs.push(`${level} ${message}`),
  });
}, 90_000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([boston?.kill(), seattle?.kill(), spy?.close(), hang?.close()]);
  sitesDir.cleanup();
});

/** POSTs to the gateway with the given headers. */
async function post(
  query: string,
  headers: Record<string, string>,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; data: Record<string, unknown> | null; errors: GraphQLErrorShape[] }> {
  const res = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, unknown> | null; errors?: GraphQLErrorShape[] };
  return { status: res.status, data: body.data ?? null, errors: body.errors ?? [] };
}

const ownTokens = () => ({
  'X-Site-Token-boston': bostonTokens.tenant,
  'X-Site-Token-seattle': seattleTokens.tenant,
});

async function register(site: GatewaySite): Promise<void> {
  coordinator.registry.push(site);
  await gw.recompose();
}

async function unregister(key: string): Promise<void> {
  const i = coordinator.registry.findIndex((s) => s.key === key);
  if (i >= 0) coordinator.registry.splice(i, 1);
  await gw.recompose();
}

describe('gateway over the coordinator and real sites', () => {
  it('serves /healthz, /readyz and extra routes beside /graphql', async () => {
    expect((await fetch(gw.url.replace('/graphql', '/healthz'))).status).toBe(200);
    const ready = await fetch(gw.url.replace('/graphql', '/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', sites: ['boston'] });
    const prefixed = await fetch(gw.url.replace('/graphql', '/hello/a/b.js'));
    expect(await prefixed.json()).toEqual({ hello: true });
  });

  it('recomposes without restart when a site is registered', async () => {
    const before = await post('{ seattle { key } }', ownTokens());
    expect(before.errors[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    await register(siteEntry('seattle', seattle.url));

    const after = await post('{ seattle { key name } }', ownTokens());
    expect(after.errors).toEqual([]);
    expect(after.data).toEqual({ seattle: { key: 'seattle', name: 'seattle' } });
    expect(gw.siteKeys()).toEqual(['boston', 'seattle']);
  });

  it('answers a query across the coordinator and both sites, each site with its own token', async () => {
    const r = await post(
      `{ sites { name key }
         boston { key name }
         seattle { key name }
         protectionGroup(id: "pg-1") { id name b: boston { id } seattle { id } } }`,
      ownTokens(),
    );
    expect(r.errors).toEqual([]);
    expect(r.data).toEqual({
      sites: [
        { name: 'boston', key: 'boston' },
        { name: 'seattle', key: 'seattle' },
      ],
      boston: { key: 'boston', name: 'boston' },
      seattle: { key: 'seattle', name: 'seattle' },
      // Neither site holds a replica of this group: null, and no error.
      protectionGroup: { id: 'pg-1', name: 'pg-pg-1', b: null, seattle: null },
    });
    // The coordinator ran in-process with the request's context.
    expect(coordinator.contexts.at(-1)?.siteTokens).toEqual({
      boston: bostonTokens.tenant,
      seattle: seattleTokens.tenant,
    });
  });

  it('uses the default token (Authorization) for a site without its own', async () => {
    const r = await post('{ boston { key } seattle { key } }', {
      Authorization: `Bearer ${bostonTokens.tenant}`,
      'X-Site-Token-seattle': seattleTokens.tenant,
    });
    expect(r.errors).toEqual([]);
    expect(r.data).toEqual({ boston: { key: 'boston' }, seattle: { key: 'seattle' } });
  });

  it('a wrong token for one site gives UNAUTHENTICATED naming that site; the other site answers', async () => {
    // Seattle's token is no good at boston: each site checks tokens with its own Keystone.
    const r = await post('{ seattle { key name } protectionGroup(id: "pg-1") { id boston { id } } }', {
      'X-Site-Token-boston': seattleTokens.tenant,
      'X-Site-Token-seattle': seattleTokens.tenant,
    });
    expect(r.data).toEqual({
      seattle: { key: 'seattle', name: 'seattle' },
      protectionGroup: { id: 'pg-1', boston: null },
    });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({
      path: ['protectionGroup', 'boston'],
      extensions: { code: 'UNAUTHENTICATED', site: 'boston', retryable: false },
    });
    expect(r.errors[0]!.message).toMatch(/^Site 'boston': /);
    expect(r.errors[0]!.extensions).not.toHaveProperty('serviceName');
  });

  it("sends a site only its own token, never another site's nor the default", async () => {
    await register(siteEntry('spy', spy.url));
    try {
      spy.headers.length = 0;
      const r = await post('{ protectionGroup(id: "pg-1") { id spy { id } } }', {
        ...ownTokens(),
        'X-Site-Token-spy': 'token-for-spy',
        Authorization: 'Bearer default-token',
        'X-Request-Id': 'req-spy-1',
      });
      expect(r.errors).toEqual([]);
      expect(r.data).toEqual({ protectionGroup: { id: 'pg-1', spy: null } });
      expect(spy.headers).toHaveLength(1);
      const got = spy.headers[0]!;
      expect(got['x-auth-token']).toBe('token-for-spy');
      expect(got['authorization']).toBeUndefined();
      expect(got['x-site-token-boston']).toBeUndefined();
      expect(got['x-request-id']).toBe('req-spy-1');
      expect(JSON.stringify(got)).not.toContain(bostonTokens.tenant);

      // No site token for spy: the default goes, alone.
      spy.headers.length = 0;
      await post('{ protectionGroup(id: "pg-1") { spy { id } } }', { Authorization: 'Bearer default-token' });
      expect(spy.headers[0]?.['x-auth-token']).toBe('default-token');
    } finally {
      await unregister('spy');
    }
  });

  it('keeps the registry code of a coordinator error', async () => {
    const r = await post('{ protectionGroup(id: "missing") { id } }', ownTokens());
    expect(r.data).toEqual({ protectionGroup: null });
    expect(r.errors).toEqual([
      {
        message: "Protection Group 'missing' does not exist.",
        path: ['protectionGroup'],
        extensions: { code: 'NOT_FOUND', retryable: false, id: 'missing' },
      },
    ]);
  });

  it('times out a site that accepts connections but never answers, and still answers the rest', async () => {
    await register(siteEntry('hang', hang.url));
    try {
      const started = Date.now();
      const r = await post('{ seattle { key } protectionGroup(id: "pg-1") { id hang { id } } }', ownTokens());
      // It waited for the subgraph timeout (no sooner), then answered: a hang would fail the test's own timeout.
      expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(r.data).toEqual({ seattle: { key: 'seattle' }, protectionGroup: { id: 'pg-1', hang: null } });
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({
        message: `Site 'hang' is unreachable: no answer within ${TIMEOUT_MS} ms`,
        extensions: { code: 'SITE_UNREACHABLE', site: 'hang', retryable: true },
      });
    } finally {
      await unregister('hang');
    }
  });

  it('execute() runs an operation through the same gateway', async () => {
    const r = await gw.execute(
      'query($id: ID) { protectionGroup(id: $id) { id boston { id } } seattle { key } }',
      { id: 'pg-2' },
      contextFromHeaders(ownTokens()),
    );
    expect(r).toEqual({
      data: { protectionGroup: { id: 'pg-2', boston: null }, seattle: { key: 'seattle' } },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Subscriptions

const wsUrl = () => gw.url.replace(/^http/, 'ws');

function connect(connectionParams: Record<string, unknown>): Client {
  return createClient({
    url: wsUrl(),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
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
    coordinator.operations.set('op-1', {
      id: 'op-1',
      status: 'RUNNING',
      percentComplete: 10,
      protectionGroupId: 'pg-7',
    });
    const client = connect({ siteTokens: { boston: bostonTokens.tenant, seattle: seattleTokens.tenant } });
    try {
      const subscribed = coordinator.subscribed();
      const sub = subscribe(client, progressQuery, { id: 'op-1', withGroup: true });
      expect(await subscribed).toEqual({ field: 'operationProgress', args: { id: 'op-1' } });
      const channel = coordinator.channel('op-1');

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
      coordinator.operations.set('op-1', {
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
    coordinator.operations.set('op-2', {
      id: 'op-2',
      status: 'RUNNING',
      percentComplete: 50,
      protectionGroupId: 'pg-8',
    });
    // Boston gets seattle's token (wrong there); seattle gets its own.
    const client = connect({ siteTokens: { seattle: seattleTokens.tenant }, token: seattleTokens.tenant });
    try {
      const subscribed = coordinator.subscribed();
      const sub = subscribe(client, progressQuery, { id: 'op-2', withGroup: true });
      await subscribed;
      coordinator.channel('op-2').push({
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
      await coordinator.channel('op-2').returned.promise;
    } finally {
      await client.dispose();
    }
  });

  it('takes key-only selections from the event without refetching', async () => {
    coordinator.operations.set('op-3', {
      id: 'op-3',
      status: 'RUNNING',
      percentComplete: 0,
      protectionGroupId: 'pg-9',
    });
    const client = connect({ token: bostonTokens.tenant });
    try {
      const subscribed = coordinator.subscribed();
      const sub = subscribe(
        client,
        'subscription { operationProgress(id: "op-3") { sequence operation { id __typename } } }',
      );
      await subscribed;
      const before = coordinator.contexts.length;
      coordinator
        .channel('op-3')
        .push({ sequence: 7, status: 'RUNNING', percentComplete: 0, operation: { id: 'op-3' } });
      expect(await sub.next()).toEqual({
        data: { operationProgress: { sequence: 7, operation: { id: 'op-3', __typename: 'Operation' } } },
      });
      expect(coordinator.contexts.length).toBe(before);
      coordinator.channel('op-3').end();
      await sub.completed;
    } finally {
      await client.dispose();
    }
  });

  it('answers an invalid document with the protocol error message', async () => {
    const client = connect({ token: bostonTokens.tenant });
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
    const client = connect({ token: bostonTokens.tenant });
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
    const client = connect({ siteTokens: { seattle: seattleTokens.tenant } });
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
});

// ---------------------------------------------------------------------------------------------
// Last: a site dies.

describe('a site that dies', () => {
  it("gives the other site's data plus SITE_UNREACHABLE naming the dead site, without waiting for the timeout", async () => {
    await boston.kill();
    const r = await post(
      '{ seattle { key name } protectionGroup(id: "pg-1") { id boston { id } seattle { id } } }',
      ownTokens(),
    );
    expect(r.status).toBe(200);
    expect(r.data).toEqual({
      seattle: { key: 'seattle', name: 'seattle' },
      protectionGroup: { id: 'pg-1', boston: null, seattle: null },
    });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({
      path: ['protectionGroup', 'boston'],
      extensions: { code: 'SITE_UNREACHABLE', site: 'boston', retryable: true },
    });
    expect(r.errors[0]!.message).toMatch(/^Site 'boston' is unreachable: /);
    // Refused at once, not left to the subgraph timeout.
    expect(r.errors[0]!.message).not.toMatch(/timed out|timeout/i);
    // The gateway still composes and serves with boston down (no introspection of sites).
    await gw.recompose();
    expect((await post('{ seattle { key } }', ownTokens())).data).toEqual({ seattle: { key: 'seattle' } });
  });
});
