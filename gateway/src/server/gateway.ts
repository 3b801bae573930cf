/**
 * The gateway process's GraphQL server: Apollo Server 5 over an `ApolloGateway` whose supergraph is
 * composed from the coordinator and the registered sites, served on `/graphql` over HTTP and
 * graphql-ws (subscriptions), with `/healthz`, `/readyz` and the caller's routes beside it.
 */
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { Turns } from '@protector/platform';
import {
  DEFAULT_QUERY_LIMITS,
  introspectionGuard,
  maskInternalError,
  parseLimits,
  type QueryLimits,
  queryLimitRules,
  type RateLimit,
  type RouteHandler,
  sanitizeClientError,
  sendJson,
  startGraphQLHttpServer,
} from '@protector/platform/server';
import { COORDINATOR_SUBGRAPH_NAME } from '@protector/schema';
import { buildASTSchema, type DocumentNode, type GraphQLSchema, parse, printSchema } from 'graphql';
import { Agent } from 'undici';
import { authorityOf, type CallerLookup } from '../coordinator/site-registry.js';
import { contextFromHeaders, type GatewayContext, hasAnyToken } from './context.js';
import { CoordinatorDataSource, SiteDataSource } from './data-sources.js';
import { formatGatewayError } from './errors.js';
import { relaySiteSubscription, type SiteRelay } from './site-relay.js';
import { createSubscriptionOptions, type FormattedResult } from './subscriptions.js';
import { createSupergraphSource, type GatewaySite } from './supergraph.js';

export type GatewayLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Options of {@link startGateway}. */
export interface StartGatewayOptions {
  /** Address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Port to listen on; 0 picks a free port (tests). */
  readonly port: number;
  /**
   * The coordinator subgraph (`buildSubgraphSchema` of the coordinator SDL and its resolvers),
   * executed in-process with the request's {@link GatewayContext} as `contextValue`.
   */
  readonly coordinatorSchema: GraphQLSchema;
  /**
   * Events of a coordinator subscription field (`operationProgress`, `operationEvents`, `siteHealth`).
   * Each event is the field's value (e.g. an `OperationEvent`) carrying the ids of the entities it
   * concerns (`operation: { id }`, `site: { name }`, `protectionGroup: { id }`); the gateway resolves
   * the rest of the subscriber's selection. Ending the iterable completes the subscription; the
   * gateway calls `return()` on it when the subscriber leaves.
   */
  coordinatorSubscribe(
    field: string,
    args: Record<string, unknown>,
    ctx: GatewayContext,
  ): AsyncIterable<Record<string, unknown>> | Promise<AsyncIterable<Record<string, unknown>>>;
  /**
   * For a coordinator subscription field whose subscribers may share one stream of events, the check
   * each must pass; null or absent: each subscriber has its own (see `SubscriptionDeps`).
   */
  coordinatorAdmission?(
    field: string,
  ): ((args: Record<string, unknown>, ctx: GatewayContext) => Promise<void>) | null;
  /**
   * Checks the tokens of a subscriber's `connection_init` (each at the site it names); a rejection
   * closes the connection with 4403. Without it, any connection that sent a token is accepted and
   * only the sites check the tokens.
   */
  authenticateConnection?(ctx: GatewayContext): Promise<void>;
  /** The site registry now; read at start-up and by every `recompose()`. */
  sites(): readonly GatewaySite[];
  /** Static supergraph SDL (production) instead of composing; `recompose()` re-reads it. */
  readonly supergraphFile?: string;
  /** How long a site may take to answer one subgraph request. @default 10000 */
  readonly subgraphTimeoutMs?: number;
  /**
   * Each site's turns (`[gateway] site_max_in_flight`): a fetch waits at most half the subgraph
   * timeout for one, else the answer is 503 OVERLOADED. Shared with the coordinator's reads for
   * callers. @default no limit
   */
  readonly siteTurns?: (siteKey: string) => Turns | null;
  /** Who a token of a site acts as, when known without waiting (merges one caller's requests). */
  readonly callerOf?: (siteKey: string, token: string) => string | null;
  /** Extra routes by exact path (`/path/*` for a prefix), e.g. the playground's; they win over `/healthz`, `/readyz`. */
  readonly routes?: Readonly<Record<string, RouteHandler>>;
  /** @default writes warn and error lines to stderr */
  readonly log?: (level: GatewayLogLevel, message: string) => void;
  /** Limits on documents (depth, aliases, directives, tokens, cost) and who may introspect. */
  readonly limits?: QueryLimits;
  /** Per-caller rate limit. @default off */
  readonly rateLimit?: RateLimit;
}

/** A result of {@link RunningGateway.execute}: errors formatted as clients get them. */
export interface GatewayExecutionResult extends FormattedResult {}

/** A started gateway. */
export interface RunningGateway {
  /** GraphQL endpoint (HTTP; the same URL with ws:// serves graphql-ws). */
  readonly url: string;
  readonly port: number;
  /** Recomposes the supergraph from `sites()` (or re-reads the file) and swaps it without restart. */
  recompose(): Promise<void>;
  /** Runs an operation through the gateway (planner, coordinator, sites) with the given context. */
  execute(
    query: string | DocumentNode,
    variables: Record<string, unknown>,
    ctx: GatewayContext,
    operationName?: string,
  ): Promise<GatewayExecutionResult>;
  /** The supergraph API schema now; null before the first load. */
  schema(): GraphQLSchema | null;
  /** Site keys of the supergraph now. */
  siteKeys(): readonly string[];
  stop(): Promise<void>;
}

const defaultLog = (level: GatewayLogLevel, message: string) => {
  if (level === 'warn' || level === 'error') {
    process.stderr.write(
      `${new Date().toISOString()} ${level.toUpperCase()} protector.gateway [-] ${message}\n`,
    );
  }
};

/** Starts the gateway's GraphQL server (see the module comment). */
export async function startGateway(opts: StartGatewayOptions): Promise<RunningGateway> {
  const log = opts.log ?? defaultLog;
  const timeoutMs = opts.subgraphTimeoutMs ?? 10_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`subgraphTimeoutMs must be a positive integer (milliseconds); got ${timeoutMs}.`);
  }
  // One pool for every site: closed on stop, so no socket outlives the gateway.
  // Connecting gets half the request's time: a request that runs out of time had its connection, so
  // the gateway tells a slow site (SITE_TIMEOUT) from one it cannot reach (SITE_UNREACHABLE).
  const dispatcher = new Agent({
    connect: { timeout: Math.max(50, Math.floor(timeoutMs / 2)) },
    keepAliveTimeout: 4_000,
  });
  const source = createSupergraphSource({
    sites: opts.sites,
    ...(opts.supergraphFile ? { supergraphFile: opts.supergraphFile } : {}),
    log,
  });
  const siteName = (key: string) => opts.sites().find((s) => s.key === key)?.name ?? key;
  // Routing URL of each site subgraph of the supergraph now (as the planner fetches it): site
  // subscriptions are relayed from the same URL over graphql-ws.
  const siteUrls = new Map<string, string>();
  // Site subscriptions being relayed: closed on stop, so no site socket outlives the gateway.
  const relays = new Set<SiteRelay>();

  let apiSchema: GraphQLSchema | null = null;
  // Subscriptions execute events against their own copy of the API schema (see SubscriptionDeps).
  let subscriptionSchema: GraphQLSchema | null = null;
  const logger = {
    debug: (m: unknown) => log('debug', String(m)),
    info: (m: unknown) => log('debug', String(m)),
    warn: (m: unknown) => log('warn', String(m)),
    error: (m: unknown) => log('error', String(m)),
  };
  const gateway = new ApolloGateway({
    supergraphSdl: source.hook,
    logger,
    buildService: ({ name, url }) => {
      if (name === COORDINATOR_SUBGRAPH_NAME) return new CoordinatorDataSource(opts.coordinatorSchema);
      if (!url) throw new Error(`The supergraph gives no URL for site subgraph '${name}'.`);
      siteUrls.set(name, url);
      return new SiteDataSource({
        site: { key: name, name: () => siteName(name) },
        url,
        timeoutMs,
        dispatcher,
        turns: opts.siteTurns?.(name) ?? null,
        callerOf: opts.callerOf && ((token: string) => opts.callerOf!(name, token)),
      });
    },
  });
  gateway.onSchemaLoadOrUpdate(({ apiSchema: schema }) => {
    apiSchema = schema;
    subscriptionSchema = buildASTSchema(parse(printSchema(schema)));
  });

  const limits = opts.limits ?? DEFAULT_QUERY_LIMITS;
  // A caller is authenticated when the sites' Keystones accept its tokens (without a check
  // configured, when it sent any token).
  const authenticated = (ctx: GatewayContext) =>
    hasAnyToken(ctx)
      ? (opts.authenticateConnection?.(ctx) ?? Promise.resolve()).then(
          () => true,
          () => false,
        )
      : Promise.resolve(false);
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: (formatted, error) =>
      maskInternalError(formatGatewayError(sanitizeClientError(formatted, error), error), error, (m) =>
        log('error', m),
      ),
    introspection: limits.introspection !== 'never',
    validationRules: queryLimitRules(limits),
    parseOptions: parseLimits(limits),
    hideSchemaDetailsFromClientErrors: true,
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false,
    plugins: [
      // Apollo's default landing page loads from a CDN; the product serves its own offline playground.
      ApolloServerPluginLandingPageDisabled(),
      introspectionGuard(limits.introspection, authenticated),
    ],
    logger,
  });
  try {
    await apollo.start();
  } catch (err) {
    await dispatcher.close();
    throw err;
  }

  const execute = async (
    query: string | DocumentNode,
    variables: Record<string, unknown>,
    ctx: GatewayContext,
    operationName?: string,
  ): Promise<GatewayExecutionResult> => {
    const response = await apollo.executeOperation(
      { query, variables, ...(operationName ? { operationName } : {}) },
      // A context of its own per execution: what one execution remembers is for it only.
      { contextValue: { ...ctx } },
    );
    if (response.body.kind !== 'single') {
      throw new Error('Incremental delivery (@defer/@stream) is not supported by the gateway.');
    }
    const { data, errors } = response.body.singleResult;
    return {
      ...(data !== undefined ? { data: data as Record<string, unknown> | null } : {}),
      ...(errors ? { errors } : {}),
    };
  };

  const routes: Record<string, RouteHandler> = {
    '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok', service: 'protector-gateway' }),
    '/readyz': (_req, res) => {
      const ready = apiSchema !== null;
      sendJson(res, ready ? 200 : 503, {
        status: ready ? 'ready' : 'not ready',
        supergraph: ready ? 'loaded' : 'not loaded',
        sites: source.siteKeys(),
      });
    },
    ...opts.routes,
  };

  let http: Awaited<ReturnType<typeof startGraphQLHttpServer>>;
  // Who each site's token acts as, where known: one caller's requests share answers and executions.
  const callers: CallerLookup | undefined = opts.callerOf && {
    siteKeys: () => source.siteKeys(),
    callerOf: opts.callerOf,
  };
  try {
    http = await startGraphQLHttpServer<GatewayContext>({
      apollo,
      ...(opts.rateLimit ? { rateLimit: opts.rateLimit } : {}),
      context: async (req) => contextFromHeaders(req.headers),
      // Identical queries in flight of one caller (the same tokens, or tokens of one user, project and
      // roles at every site) are executed once; a request without a token shares nothing.
      authority: (req) => {
        const ctx = contextFromHeaders(req.headers);
        return hasAnyToken(ctx) ? authorityOf(ctx, callers) : null;
      },
      subscriptions: createSubscriptionOptions({
        apiSchema: () => subscriptionSchema,
        coordinatorSchema: opts.coordinatorSchema,
        coordinatorSubscribe: (field, args, ctx) => opts.coordinatorSubscribe(field, args, ctx),
        coordinatorAdmission: (field) => opts.coordinatorAdmission?.(field) ?? null,
        limits,
        authenticate: (ctx) => opts.authenticateConnection?.(ctx) ?? Promise.resolve(),
        site: (key) => {
          if (!source.siteKeys().includes(key)) return null;
          const url = siteUrls.get(key) ?? opts.sites().find((s) => s.key === key)?.url;
          return url ? { key, name: siteName(key), url } : null;
        },
        siteSubscribe: (site, token, request) => {
          const relay = relaySiteSubscription({
            site,
            url: site.url,
            token,
            request,
            timeoutMs,
            onClose: () => relays.delete(relay),
          });
          relays.add(relay);
          return relay;
        },
        execute,
        log,
        callers,
      }),
      routes,
      ...(opts.host ? { host: opts.host } : {}),
      port: opts.port,
    });
  } catch (err) {
    await apollo.stop();
    await dispatcher.close();
    throw err;
  }
  log('info', `gateway serving GraphQL at ${http.url} (sites [${source.siteKeys().join(', ')}])`);

  let stopping: Promise<void> | null = null;
  return {
    url: http.url,
    port: http.port,
    recompose: () => source.recompose(),
    execute,
    schema: () => apiSchema,
    siteKeys: () => source.siteKeys(),
    stop() {
      stopping ??= (async () => {
        await http.stop();
        await Promise.all([...relays].map((relay) => relay.close()));
        await apollo.stop();
        await dispatcher.destroy();
      })();
      return stopping;
    },
  };
}
