/**
 * Test helpers shared by the gateway server tests (not part of the build): the gateway over a stub
 * coordinator whose subscription sources the tests drive, two real sites and two fake ones (a spy,
 * and one that never answers). Promises, event channels and the graphql-ws collector are
 * `@protector/test-kit`'s.
 */
import { mkdirSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { EventHub } from '@protector/platform';
import { sendJson } from '@protector/platform/server';
import { coordinatorSubgraphSdl, ProtectorError } from '@protector/schema';
import { deferred, EventChannel, type GraphQLResult, gql, tempDir } from '@protector/test-kit';
import { type GraphQLSchema, parse } from 'graphql';
import { afterAll, beforeAll } from 'vitest';
import {
  type SiteProcess,
  type SiteTokens,
  siteTokens,
  startSiteProcess,
  writeSiteConfig,
} from '../../../subgraph-site/test-support/site-process.js';
import { SiteKeystone } from '../coordinator/site-client.js';
import { type GatewayContext, type GatewaySite, type RunningGateway, startGateway } from './index.js';

// ---------------------------------------------------------------------------------------------
// The stub coordinator: the real coordinator SDL with a few in-memory resolvers, and subscription
// sources the test drives event by event.

/** A registered site as a stub coordinator answers for `Site`. */
export const stubSiteJson = (s: GatewaySite) => ({
  name: s.name,
  key: s.key,
  url: s.url,
  authUrl: 'http://keystone.invalid/v3',
  status: 'ACTIVE',
  role: 'IDLE',
  registeredAt: '2025-01-01T00:00:00.000Z',
});

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
  /** How many times an event's `message` was resolved (once per execution of an event). */
  readonly resolutions: { message: number };
  /** One channel per operation id; created on first use. */
  channel(operationId: string): EventChannel<Record<string, unknown>>;
  /**
   * An operation whose events go to every subscriber (an `EventHub`, as the real coordinator's bus);
   * subscriptions to it are served from the hub instead of the single-consumer channel.
   */
  broadcast(operationId: string): EventHub<Record<string, unknown>>;
  /** Resolves on each coordinatorSubscribe call (renewed after each). */
  subscribed(): Promise<{ field: string; args: Record<string, unknown> }>;
  /** coordinatorSubscribe calls so far, by field. */
  readonly subscribeCalls: Record<string, number>;
  /** The contexts `operationEvents` subscribers were admitted (or refused) with, in order. */
  readonly admitted: GatewayContext[];
  /** While set, `operationEvents` admission checks wait for it (then 'missing' is refused as ever). */
  admissionGate: Promise<void> | null;
  /** As the real coordinator's: `operationEvents` subscribers share streams; 'missing' is refused. */
  admission(field: string): ((args: Record<string, unknown>, ctx: GatewayContext) => Promise<void>) | null;
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
  const resolutions = { message: 0 };
  const channels = new Map<string, EventChannel<Record<string, unknown>>>();
  const hubs = new Map<string, EventHub<Record<string, unknown>>>();
  const subscribeCalls: Record<string, number> = {};
  const admitted: GatewayContext[] = [];
  const refuseMissing = (group: unknown) => {
    if (group === 'missing')
      throw new ProtectorError('NOT_FOUND', "Protection Group 'missing' does not exist.", { id: 'missing' });
  };
  let nextSubscribe = deferred<{ field: string; args: Record<string, unknown> }>();

  const site = stubSiteJson;
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
      message: (event: { message?: string; sequence: number }) => {
        resolutions.message++;
        return event.message ?? `event ${event.sequence}`;
      },
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
    resolutions,
    channel,
    broadcast(id) {
      let hub = hubs.get(id);
      if (!hub) {
        hub = new EventHub();
        hubs.set(id, hub);
      }
      return hub;
    },
    subscribed: () => nextSubscribe.promise,
    subscribeCalls,
    admitted,
    admissionGate: null,
    admission(field) {
      if (field !== 'operationEvents') return null;
      return async (args, ctx) => {
        admitted.push(ctx);
        await this.admissionGate;
        refuseMissing(args['protectionGroup']);
      };
    },
    coordinatorSubscribe(field, args) {
      const done = nextSubscribe;
      nextSubscribe = deferred();
      done.resolve({ field, args });
      subscribeCalls[field] = (subscribeCalls[field] ?? 0) + 1;
      if (field === 'operationEvents') {
        refuseMissing(args['protectionGroup']);
        return this.broadcast(`group:${String(args['protectionGroup'])}`).subscribe();
      }
      if (field !== 'operationProgress') {
        throw new ProtectorError('BAD_USER_INPUT', `The stub coordinator has no events for ${field}.`);
      }
      const id = String(args['id']);
      if (!operations.has(id)) throw new ProtectorError('NOT_FOUND', `Operation '${id}' does not exist.`);
      return hubs.get(id)?.subscribe() ?? channel(id);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fake sites: a spy and a site that never answers.

/** A fake site that records the headers it gets and answers every entity with a null replica. */
export interface SpySite {
  readonly url: string;
  readonly headers: IncomingHttpHeaders[];
  /** TCP connections it accepted so far. */
  readonly connections: () => number;
  /** How long the spy takes to answer (0 by default). */
  delayMs: number;
  close(): Promise<void>;
}

/** A fake site that accepts connections and never answers. */
export interface HangingSite {
  readonly url: string;
  close(): Promise<void>;
}

async function startSpy(): Promise<SpySite> {
  const headers: IncomingHttpHeaders[] = [];
  const spy = { delayMs: 0 };
  const server = createHttpServer((req, res) => {
    headers.push(req.headers);
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: { _entities: [{ spy: null }] } }));
      }, spy.delayMs);
    });
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(spy, {
    url: `http://127.0.0.1:${port}/graphql`,
    headers,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

async function startHang(): Promise<HangingSite> {
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

// ---------------------------------------------------------------------------------------------
// The gateway against the stub coordinator, two REAL site services started as child processes
// (boston and seattle), the spy site and the site that never answers.

/** The gateway's subgraph timeout in these tests. */
export const TIMEOUT_MS = 1500;

export const siteEntry = (name: string, url: string): GatewaySite => ({ name, key: name, url });

/** What a test file's tests use; the fields are set once the file's `beforeAll` has run. */
export class GatewayTestEnv {
  readonly coordinator = createStubCoordinator();
  readonly logs: string[] = [];
  gw!: RunningGateway;
  boston!: SiteProcess;
  seattle!: SiteProcess;
  bostonTokens!: SiteTokens;
  seattleTokens!: SiteTokens;
  spy!: SpySite;
  hang!: HangingSite;
  /**
   * Each real site's Keystone as the gateway checks tokens with it (the service identity of the
   * sites' simulated clouds); the spy site shares boston's, so its requests show how callers merge.
   */
  readonly keystones: Record<string, SiteKeystone> = {};
  private readonly sitesDir = tempDir('protector-gw-test');

  /** Starts the sites and the gateway, with `registered` in the coordinator's registry. */
  async start(registered: readonly ('boston' | 'seattle')[]): Promise<void> {
    const mockDir = join(this.sitesDir.path, 'mock-storage');
    mkdirSync(mockDir, { recursive: true });
    const dir = this.sitesDir.path;
    const [b, s] = await Promise.all([
      startSiteProcess(
        writeSiteConfig({ name: 'boston', dir, mockDir, arrays: ['gw-array-a', 'gw-array-b'] }),
      ),
      startSiteProcess(
        writeSiteConfig({ name: 'seattle', dir, mockDir, arrays: ['gw-array-b', 'gw-array-a'] }),
      ),
    ]);
    this.boston = b;
    this.seattle = s;
    [this.bostonTokens, this.seattleTokens] = await Promise.all([
      siteTokens(b.keystoneUrl),
      siteTokens(s.keystoneUrl),
    ]);
    [this.spy, this.hang] = await Promise.all([startSpy(), startHang()]);
    const service = async () => ({
      username: 'protector',
      password: 'protector',
      projectName: 'service',
      userDomainName: 'Default',
      projectDomainName: 'Default',
    });
    this.keystones.boston = new SiteKeystone(b.keystoneUrl, service, TIMEOUT_MS);
    this.keystones.seattle = new SiteKeystone(s.keystoneUrl, service, TIMEOUT_MS);
    this.keystones.spy = this.keystones.boston;
    for (const name of registered) this.coordinator.registry.push(siteEntry(name, this[name].url));
    this.gw = await startGateway({
      port: 0,
      coordinatorSchema: this.coordinator.schema,
      coordinatorSubscribe: (field, args, ctx) => this.coordinator.coordinatorSubscribe(field, args, ctx),
      coordinatorAdmission: (field) => this.coordinator.admission(field),
      sites: () => this.coordinator.registry,
      subgraphTimeoutMs: TIMEOUT_MS,
      callerOf: (key, token) => this.keystones[key]?.knownCaller(token) ?? null,
      routes: { '/hello/*': (_req, res) => sendJson(res, 200, { hello: true }) },
      log: (level, message) => this.logs.push(`${level} ${message}`),
    });
  }

  async stop(): Promise<void> {
    await this.gw?.stop();
    await Promise.all([this.boston?.kill(), this.seattle?.kill(), this.spy?.close(), this.hang?.close()]);
    this.sitesDir.cleanup();
  }

  /** POSTs to the gateway with the given headers. */
  readonly post = (
    query: string,
    headers: Record<string, string>,
    variables: Record<string, unknown> = {},
  ): Promise<GraphQLResult> => gql(this.gw.url, headers, query, variables);

  /** Each real site's own tenant token. */
  readonly ownTokens = () => ({
    'X-Site-Token-boston': this.bostonTokens.tenant,
    'X-Site-Token-seattle': this.seattleTokens.tenant,
  });

  readonly register = async (site: GatewaySite): Promise<void> => {
    this.coordinator.registry.push(site);
    await this.gw.recompose();
  };

  readonly unregister = async (key: string): Promise<void> => {
    const i = this.coordinator.registry.findIndex((s) => s.key === key);
    if (i >= 0) this.coordinator.registry.splice(i, 1);
    await this.gw.recompose();
  };
}

/**
 * The gateway environment of one test file: started before its tests with the `registered` sites
 * in the registry, stopped after them.
 */
export function setupGatewayEnv(registered: readonly ('boston' | 'seattle')[]): GatewayTestEnv {
  const env = new GatewayTestEnv();
  beforeAll(() => env.start(registered), 90_000);
  afterAll(() => env.stop());
  return env;
}
