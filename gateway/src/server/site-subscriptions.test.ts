/**
 * Site subscriptions relayed through the gateway (ARCHITECTURE §5): two REAL site services (child
 * processes over one mock array pair whose replication link the test flips), a fake site (graphql-ws
 * in-process: it records what it is sent and counts its sockets), and a site that is down.
 */

import { mkdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { coordinatorSubgraphSdl, ProtectorError, siteSubgraphSdl } from '@protector/schema';
import { FlashArrayStore } from '@protector/storage-drivers/mock';
import {
  EventChannel,
  type GraphQLErrorShape,
  subscribe,
  tempDir,
  waitFor,
  within,
} from '@protector/test-kit';
import { GraphQLError, parse } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  type SiteProcess,
  type SiteTokens,
  siteTokens,
  startSiteProcess,
  writeSiteConfig,
} from '../../../subgraph-site/test-support/site-process.js';
import { type GatewaySite, type RunningGateway, startGateway } from './index.js';
import { stubSiteJson } from './test-helpers.js';

// ---------------------------------------------------------------------------------------------
// The stub coordinator: just enough to resolve `Site` and `ProtectionGroup` refetched per event.

function stubCoordinatorSchema(registry: readonly GatewaySite[]) {
  const site = (name: string) => {
    const s = registry.find((r) => r.name === name);
    return s ? stubSiteJson(s) : null;
  };
  const protectionGroup = (id: string) => ({ id, name: `pg-${id}`, status: 'ACTIVE', metadataVersion: 1 });
  const resolvers = {
    Query: {
      site: (_: unknown, args: { name: string }) => site(args.name),
      protectionGroup: (_: unknown, args: { id?: string }) => (args.id ? protectionGroup(args.id) : null),
    },
    Site: { __resolveReference: (ref: { name: string }) => site(ref.name) },
    ProtectionGroup: { __resolveReference: (ref: { id: string }) => protectionGroup(ref.id) },
  };
  return buildSubgraphSchema([{ typeDefs: parse(coordinatorSubgraphSdl), resolvers: resolvers as never }]);
}

// ---------------------------------------------------------------------------------------------
// A fake site serving only graphql-ws: what it was sent, its open sockets, one channel per subscription.

interface FakeSite {
  readonly url: string;
  readonly connectionParams: unknown[];
  readonly subscriptions: { query: string; variables: unknown }[];
  readonly channels: EventChannel<Record<string, unknown>>[];
  /** The next subscribe throws this (once). */
  failNext: GraphQLError | null;
  openSockets(): number;
  close(): Promise<void>;
}

async function startFakeSite(key: string): Promise<FakeSite> {
  const fake: Omit<FakeSite, 'url' | 'close'> = {
    connectionParams: [],
    subscriptions: [],
    channels: [],
    failNext: null,
    openSockets: () => wss.clients.size,
  };
  const schema = buildSubgraphSchema([
    {
      typeDefs: parse(siteSubgraphSdl(key)),
      resolvers: {
        Subscription: {
          [key]: {
            subscribe: () => {
              const failure = fake.failNext;
              fake.failNext = null;
              if (failure) throw failure;
              const channel = new EventChannel<Record<string, unknown>>();
              fake.channels.push(channel);
              return channel;
            },
            resolve: (event: unknown) => event,
          },
        },
      } as never,
    },
  ]);
  const server = createHttpServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const handle = useServer(
    {
      schema,
      onConnect: (ctx) => {
        fake.connectionParams.push(ctx.connectionParams);
        return true;
      },
      onSubscribe: (_ctx, _id, payload) => {
        fake.subscriptions.push({ query: payload.query, variables: payload.variables });
      },
    },
    wss,
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake as FakeSite, {
    url: `http://127.0.0.1:${port}/graphql`,
    close: async () => {
      await handle.dispose();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

/**
 * Where a site that is down would be: a loopback port a server bound and closed again, so connecting
 * is refused (ECONNREFUSED), as for a site host whose service is not running.
 */
async function downSiteUrl(): Promise<string> {
  const server = createHttpServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/graphql`;
}

// ---------------------------------------------------------------------------------------------

const dir = tempDir('protector-gw-sitesub');
const mockDir = join(dir.path, 'mock-storage');
const registry: GatewaySite[] = [];
let boston: SiteProcess;
let seattle: SiteProcess;
let bostonTokens: SiteTokens;
let seattleTokens: SiteTokens;
let fake: FakeSite;
let store: FlashArrayStore;
let gw: RunningGateway;

beforeAll(async () => {
  mkdirSync(mockDir, { recursive: true });
  const arrays = ['mock-array-a', 'mock-array-b'] as const;
  [boston, seattle] = await Promise.all([
    startSiteProcess(writeSiteConfig({ name: 'boston', dir: dir.path, mockDir, arrays, monitorInterval: 1 })),
    startSiteProcess(
      writeSiteConfig({
        name: 'seattle',
        dir: dir.path,
        mockDir,
        arrays: [arrays[1], arrays[0]],
        monitorInterval: 1,
      }),
    ),
  ]);
  [bostonTokens, seattleTokens] = await Promise.all([
    siteTokens(boston.keystoneUrl),
    siteTokens(seattle.keystoneUrl),
  ]);
  fake = await startFakeSite('fake');
  store = FlashArrayStore.open({ file: join(mockDir, 'flasharray.sqlite') });
  registry.push(
    { name: 'boston', key: 'boston', url: boston.url },
    { name: 'seattle', key: 'seattle', url: seattle.url },
    { name: 'fake-site', key: 'fake', url: fake.url },
    // Registered, never running.
    { name: 'denver', key: 'denver', url: await downSiteUrl() },
  );
  gw = await startGateway({
    port: 0,
    coordinatorSchema: stubCoordinatorSchema(registry),
    coordinatorSubscribe: () => {
      throw new ProtectorError('BAD_USER_INPUT', 'The stub coordinator has no events.');
    },
    sites: () => registry,
    subgraphTimeoutMs: 1500,
    log: () => {},
  });
}, 90_000);

afterAll(async () => {
  await gw?.stop();
  store?.close();
  await Promise.all([boston?.kill(), seattle?.kill(), fake?.close()]);
  dir.cleanup();
});

function connect(connectionParams: Record<string, unknown>): Client {
  return createClient({
    url: gw.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
}

/**
 * Flips the mock replication link back and forth (each state long enough for the sites' 1 s monitor
 * to see it) until `received` resolves: the relay may still be connecting when the first flip lands.
 */
async function flipLinkUntil(received: Promise<unknown>, timeoutMs = 20_000): Promise<void> {
  let done = false;
  void received.then(() => {
    done = true;
  });
  const deadline = Date.now() + timeoutMs;
  let state: 'connected' | 'disconnected' = 'disconnected';
  try {
    while (!done) {
      if (Date.now() > deadline) throw new Error(`no site event within ${timeoutMs} ms`);
      store.setLink('mock-array-a', 'mock-array-b', state);
      state = state === 'disconnected' ? 'connected' : 'disconnected';
      await Promise.race([received, new Promise((r) => setTimeout(r, 2500))]);
    }
  } finally {
    store.setLink('mock-array-a', 'mock-array-b', 'connected');
  }
}

const LINK_QUERY = /* GraphQL */ `
  subscription Link($kinds: [SiteEventKind!]) {
    link: boston(filter: { kinds: $kinds }) {
      kind
      linkState
      previous: previousLinkState
      message
      site { name }
      registered: site { name status }
    }
  }`;

describe('site subscriptions relayed through the gateway', () => {
  it('relays a LINK_STATE_CHANGED event of a real site, with `site` resolved through the gateway', async () => {
    const client = connect({ siteTokens: { boston: bostonTokens.tenant, seattle: seattleTokens.tenant } });
    try {
      const sub = subscribe(client, LINK_QUERY, { kinds: ['LINK_STATE_CHANGED'] });
      const first = sub.next();
      await flipLinkUntil(first);
      const event = await first;
      expect(event.errors).toBeUndefined();
      const link = event.data?.['link'] as Record<string, unknown>;
      expect(link).toMatchObject({
        kind: 'LINK_STATE_CHANGED',
        site: { name: 'boston' },
        // `status` is the coordinator's: refetched through the gateway for this event.
        registered: { name: 'boston', status: 'ACTIVE' },
      });
      expect(['CONNECTED', 'DISCONNECTED']).toContain(link['linkState']);
      expect(link['previous']).toBe(link['linkState'] === 'CONNECTED' ? 'DISCONNECTED' : 'CONNECTED');
      expect(link['message']).toMatch(/^Replication link mock-array-a <-> mock-array-b changed from /);
      sub.dispose();
    } finally {
      await client.dispose();
    }
  });

  it("sends a site only its own token: a wrong one for boston gives UNAUTHENTICATED naming boston; seattle's relay works", async () => {
    // One connection, boston's token wrong (seattle's), seattle's right.
    const client = connect({ siteTokens: { boston: seattleTokens.tenant, seattle: seattleTokens.tenant } });
    try {
      const refused = subscribe(client, 'subscription { boston { kind } }');
      const result = await within(refused.next(), 10_000, 'error result');
      expect(result.data ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]).toMatchObject({
        extensions: { code: 'UNAUTHENTICATED', site: 'boston', siteKey: 'boston', retryable: false },
      });
      expect(result.errors?.[0]?.message).toMatch(/^Site 'boston': token refused at connection_init/);
      await within(refused.completed, 5000, 'completion');

      const ok = subscribe(
        client,
        'subscription { seattle(filter: { kinds: [LINK_STATE_CHANGED] }) { kind site { name } } }',
      );
      const first = ok.next();
      await flipLinkUntil(first);
      expect(await first).toEqual({
        data: { seattle: { kind: 'LINK_STATE_CHANGED', site: { name: 'seattle' } } },
      });
      ok.dispose();
    } finally {
      await client.dispose();
    }
  });

  it('sends the site its reduced selection and only its token; resolves entities across subgraphs; completes with the site', async () => {
    const client = connect({
      siteTokens: { boston: bostonTokens.tenant, fake: 'token-for-fake' },
      token: 'default-token',
    });
    try {
      const before = fake.connectionParams.length;
      const sub = subscribe(
        client,
        /* GraphQL */ `
          subscription Done($pg: ID, $withPoint: Boolean!) {
            done: fake(filter: { kinds: [REPLICATION_COMPLETED], protectionGroupId: $pg }) {
              kind
              ...Point
              group: protectionGroup { id name status b: boston { id } }
              site { name }
            }
          }
          fragment Point on SiteEvent {
            recoveryPoint @include(if: $withPoint) { name complete }
            lag: lagSeconds
          }`,
        { pg: 'pg-5', withPoint: true },
      );
      await waitFor('the fake site subscription', () => fake.channels.length === 1);
      expect(fake.connectionParams.slice(before)).toEqual([{ token: 'token-for-fake' }]);
      const sent = fake.subscriptions.at(-1)!;
      // Entities reduced to their keys, fragments inlined, the root unaliased, its variables only.
      expect(sent.query).toContain('fake(filter: {kinds: [REPLICATION_COMPLETED], protectionGroupId: $pg})');
      expect(sent.query).toMatch(/group: protectionGroup \{\s*__typename\s+id\s*\}/);
      expect(sent.query).toMatch(/site \{\s*__typename\s+name\s*\}/);
      expect(sent.query).not.toContain('boston');
      expect(sent.query).not.toContain('fragment');
      expect(sent.variables).toEqual({ pg: 'pg-5', withPoint: true });

      const channel = fake.channels[0]!;
      channel.push({
        kind: 'REPLICATION_COMPLETED',
        recoveryPoint: { name: 'array-a:pg-5.1', complete: true, createdAt: '2025-01-01T00:00:00.000Z' },
        lagSeconds: 3,
        protectionGroup: { __typename: 'ProtectionGroup', id: 'pg-5' },
        site: { __typename: 'Site', name: 'fake-site' },
      });
      expect(await sub.next()).toEqual({
        data: {
          done: {
            kind: 'REPLICATION_COMPLETED',
            recoveryPoint: { name: 'array-a:pg-5.1', complete: true },
            lag: 3,
            // name and status from the coordinator, boston's replica from boston (none: null).
            group: { id: 'pg-5', name: 'pg-pg-5', status: 'ACTIVE', b: null },
            site: { name: 'fake-site' },
          },
        },
      });

      channel.end();
      await within(sub.completed, 5000, 'completion');
      await waitFor('the fake site socket to close', () => fake.openSockets() === 0, 5000);
    } finally {
      await client.dispose();
    }
  });

  it('closes the connection to the site when the subscriber leaves', async () => {
    const client = connect({ token: 'token-for-fake' });
    try {
      const sub = subscribe(client, 'subscription { fake { kind } }');
      await waitFor('the fake site subscription', () => fake.channels.length === 2);
      expect(fake.openSockets()).toBe(1);
      const channel = fake.channels[1]!;
      channel.push({ kind: 'RPO_VIOLATED' });
      expect(await sub.next()).toEqual({ data: { fake: { kind: 'RPO_VIOLATED' } } });

      sub.dispose();
      await within(channel.returned.promise, 5000, "return() of the site's source");
      await waitFor('the fake site socket to close', () => fake.openSockets() === 0, 5000);
    } finally {
      await client.dispose();
    }
  });

  it("passes the site's own error on with its code and the site named, then completes", async () => {
    const client = connect({ token: 'token-for-fake' });
    try {
      // As a site's resolver error reaches graphql-ws clients: message and registry code.
      fake.failNext = new GraphQLError("Protection Group 'nope' does not exist.", {
        extensions: { code: 'NOT_FOUND', retryable: false, id: 'nope' },
      });
      const sub = subscribe(
        client,
        'subscription { f: fake(filter: { protectionGroupId: "nope" }) { kind } }',
      );
      const result = await within(sub.next(), 5000, 'error result');
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]).toMatchObject({
        path: ['f'],
        extensions: { code: 'NOT_FOUND', id: 'nope', site: 'fake-site', siteKey: 'fake' },
      });
      expect(result.errors?.[0]?.message).toBe("Site 'fake-site': Protection Group 'nope' does not exist.");
      await within(sub.completed, 5000, 'completion');
      await waitFor('the fake site socket to close', () => fake.openSockets() === 0, 5000);
    } finally {
      await client.dispose();
    }
  });

  it('a site that is down gives one SITE_UNREACHABLE result naming it, then completion', async () => {
    const client = connect({ token: bostonTokens.tenant });
    try {
      const sub = subscribe(client, 'subscription { denver { kind message } }');
      const result = await within(sub.next(), 5000, 'error result');
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]).toMatchObject({
        extensions: { code: 'SITE_UNREACHABLE', site: 'denver', siteKey: 'denver', retryable: true },
      });
      expect(result.errors?.[0]?.message).toMatch(/^Site 'denver' is unreachable: .*ECONNREFUSED/);
      await within(sub.completed, 5000, 'completion');
      expect(sub.results).toHaveLength(1);
    } finally {
      await client.dispose();
    }
  });

  it('refuses a site subscription without a token for that site, without connecting to it', async () => {
    const client = connect({ siteTokens: { boston: bostonTokens.tenant } });
    try {
      const before = fake.connectionParams.length;
      const sub = subscribe(client, 'subscription { fake { kind } }');
      const result = await within(sub.next(), 5000, 'error result');
      expect(result.errors?.[0]).toMatchObject({
        extensions: { code: 'UNAUTHENTICATED', site: 'fake-site' },
      });
      await within(sub.completed, 5000, 'completion');
      expect(fake.connectionParams.length).toBe(before);
    } finally {
      await client.dispose();
    }
  });

  it("a gateway that stops closes its relays' site connections", async () => {
    const other = await startGateway({
      port: 0,
      coordinatorSchema: stubCoordinatorSchema(registry),
      coordinatorSubscribe: async function* () {},
      sites: () => registry,
      log: () => {},
    });
    const client = createClient({
      url: other.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { token: 'token-for-fake' },
      retryAttempts: 0,
      lazy: true,
    });
    try {
      const channels = fake.channels.length;
      subscribe(client, 'subscription { fake { kind } }');
      await waitFor('the fake site subscription', () => fake.channels.length === channels + 1);
      expect(fake.openSockets()).toBe(1);
      await other.stop();
      await within(fake.channels.at(-1)!.returned.promise, 5000, "return() of the site's source");
      await waitFor('the fake site socket to close', () => fake.openSockets() === 0, 5000);
    } finally {
      await client.dispose();
      await other.stop();
    }
  });

  it('validates a site subscription against the supergraph before relaying it', async () => {
    const client = connect({ token: bostonTokens.tenant });
    try {
      const sub = subscribe(client, 'subscription { boston { kind nope } }');
      const errors = (await sub.failed) as GraphQLErrorShape[];
      expect(errors[0]?.message).toMatch(/Cannot query field "nope" on type "SiteEvent"/);
    } finally {
      await client.dispose();
    }
  });
});
