/**
 * protector-gateway: the coordinator (site registry, operation journal, metadata sync, site health)
 * and the federated GraphQL endpoint with subscriptions and the offline playground.
 */
import { turnsBySite } from '@protector/platform';
import { loadOrCreateKey, parseDatabaseUrl, parseSecretKey } from '@protector/platform/db';
import { queryLimitsOf, rateLimitOf } from '@protector/platform/server';
import type { GatewayConfig } from './config/index.js';
import { Coordinator } from './coordinator/coordinator.js';
import { newGatewayId } from './coordinator/engine.js';
import { PostgresEventFanout } from './coordinator/event-fanout.js';
import { buildCoordinatorSchema } from './coordinator/schema.js';
import { CoordinatorStore, openCoordinatorDataSource } from './coordinator/store.js';
import { createPlaygroundHandler } from './playground/index.js';
import { type RunningGateway, startGateway } from './server/index.js';

export type GatewayLog = (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;

export const consoleLog: GatewayLog = (level, message) => {
  process.stderr.write(`${new Date().toISOString()} ${level} protector.gateway [-] ${message}\n`);
};

export interface RunningProtectorGateway {
  readonly url: string;
  readonly port: number;
  readonly coordinator: Coordinator;
  readonly gateway: RunningGateway;
  stop(): Promise<void>;
}

export async function startProtectorGateway(
  config: GatewayConfig,
  opts: {
    log?: GatewayLog;
    defaultHeaders?: () => Record<string, string>;
    /** How long this gateway's claim on a running operation lasts unrenewed (tests shorten it). */
    operationLeaseMs?: number;
  } = {},
): Promise<RunningProtectorGateway> {
  const log = opts.log ?? consoleLog;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const ds = await openCoordinatorDataSource(config.database.connection);
    cleanups.push(() => ds.destroy());
    const key = config.database.encryption_key
      ? parseSecretKey(config.database.encryption_key)
      : await loadOrCreateKey(config.database.encryption_key_file);
    const store = new CoordinatorStore(ds, key);
    const gatewayId = newGatewayId();
    // Each site's turns, shared by the planner's fetches and the coordinator's reads for callers; a
    // request slower than half the timeout means the site is past what it answers in time.
    const siteTurns = turnsBySite(
      config.gateway.site_max_in_flight,
      (config.gateway.subgraph_timeout * 1000) / 2,
    );
    let gateway: RunningGateway | null = null;
    let fanout: PostgresEventFanout | null = null;
    const coordinator = new Coordinator({
      store,
      gatewayId,
      operationLeaseMs: opts.operationLeaseMs,
      announceSitesChanged: async () => {
        await fanout?.announceSitesChanged();
      },
      siteTimeoutMs: config.gateway.subgraph_timeout * 1000,
      siteTurns,
      healthIntervalMs: config.gateway.health_interval * 1000,
      onSitesChanged: async () => {
        await gateway?.recompose();
      },
      log,
    });
    const location = parseDatabaseUrl(config.database.connection);
    if (location.dialect === 'postgres') {
      // Several gateways may share this database: operation events of every gateway reach the
      // subscribers of every gateway through LISTEN/NOTIFY.
      const shared = new PostgresEventFanout({
        url: location.url,
        bus: coordinator.events,
        store,
        origin: gatewayId,
        log,
        // A site registered or unregistered on another gateway: reload the registry, recompose.
        onSitesChanged: () => coordinator.reloadRegistry(),
      });
      await shared.start();
      fanout = shared;
      cleanups.push(() => shared.stop());
    }
    const { schema, subscribe, admission } = buildCoordinatorSchema(coordinator);
    const siteKeys = () => coordinator.sites().map((s) => s.key);
    const playground = config.api.playground
      ? createPlaygroundHandler({ siteKeys, defaultHeaders: opts.defaultHeaders })
      : null;
    gateway = await startGateway({
      host: config.api.bind_host,
      port: config.api.bind_port,
      coordinatorSchema: schema,
      coordinatorSubscribe: (field, args, ctx) => subscribe(field, args, ctx),
      coordinatorAdmission: admission,
      authenticateConnection: (ctx) => coordinator.authenticate(ctx),
      limits: queryLimitsOf(config.api),
      rateLimit: rateLimitOf(config.api),
      sites: () => coordinator.sites().map((s) => ({ name: s.name, key: s.key, url: s.url })),
      supergraphFile: config.gateway.supergraph_file,
      subgraphTimeoutMs: config.gateway.subgraph_timeout * 1000,
      siteTurns,
      callerOf: (siteKey, token) => coordinator.knownCaller(siteKey, token),
      routes: playground ? { '/': playground, '/playground': playground, '/playground/*': playground } : {},
      log: (level, message) => {
        if (level !== 'debug')
          log(level === 'error' ? 'ERROR' : level === 'warn' ? 'WARNING' : 'INFO', message);
      },
    });
    cleanups.push(() => gateway!.stop());
    // Sites load first so the supergraph includes them, then interrupted operations resume.
    await coordinator.start();
    await gateway.recompose();
    cleanups.push(() => coordinator.stop());
    log(
      'INFO',
      `gateway serving ${gateway.url} with sites: ${
        coordinator
          .sites()
          .map((s) => s.name)
          .join(', ') || 'none yet'
      }`,
    );
    return { url: gateway.url, port: gateway.port, coordinator, gateway, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
