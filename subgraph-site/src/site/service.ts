/**
 * protector-site: one site's service. Reads protector.conf, opens its database, starts its storage
 * driver and (in the lab) its simulated cloud, and serves the site subgraph over HTTP and graphql-ws.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import type { SimulatedCloud } from '@protector/cloud-sim';
import {
  maskInternalError,
  parseLimits,
  queryLimitRules,
  queryLimitsOf,
  rateLimitOf,
  sanitizeClientError,
  sendError,
  sendJson,
  startGraphQLHttpServer,
} from '@protector/platform/server';
import { ProtectorError } from '@protector/schema';
import type { StorageDriver } from '@protector/storage-drivers';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { SiteConfig } from '../config/index.js';
import { createSiteDataSource, createSiteRepository, loadOrCreateKey, parseSecretKey } from '../db/index.js';
import { createOpenStackClient, type OpenStackClient } from '../openstack/index.js';
import { loadArrayIdentities, saveArrayIdentities } from './array-identities.js';
import { type Caller, createTokenValidator, tokenFromHeaders } from './auth.js';
import type { SiteContext } from './context.js';
import { SiteEvents, startReplicationMonitor } from './events.js';
import { Metrics } from './metrics.js';
import { PolicyTokens } from './policy-tokens.js';
import { buildSiteSchema, type RequestContext } from './schema.js';
import { createSiteSteps } from './steps.js';

export const SITE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface RunningSite {
  readonly url: string;
  readonly siteName: string;
  /** The simulated cloud, when `use_simulated_cloud = True`. */
  readonly cloud: SimulatedCloud | null;
  readonly driver: StorageDriver;
  stop(): Promise<void>;
}

export type SiteLog = (level: 'INFO' | 'WARNING' | 'ERROR', logger: string, message: string) => void;

export const consoleLog: SiteLog = (level, logger, message) => {
  process.stderr.write(`${new Date().toISOString()} ${level} ${logger} [-] ${message}\n`);
};

/** Turns any error into the registry's shape: code, message, retryable (and nothing internal). */
export function formatError(given: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const formatted = sanitizeClientError(given, error);
  if (formatted !== given) return formatted;
  const original = unwrapResolverError(error);
  if (original instanceof ProtectorError) {
    return { ...formatted, message: original.message, extensions: original.toExtensions() };
  }
  if (original instanceof GraphQLError && original.extensions?.code) return formatted;
  const code = formatted.extensions?.code;
  if (code && code !== 'INTERNAL_SERVER_ERROR') return formatted;
  return { ...formatted, extensions: { code: 'INTERNAL', retryable: false } };
}

/** Compares two secrets in constant time. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Starts a site service from a compiled config. */
export async function startSiteService(
  config: SiteConfig,
  opts: { log?: SiteLog } = {},
): Promise<RunningSite> {
  const log = opts.log ?? consoleLog;
  const siteName = config.DEFAULT.site_name;
  const logSite = (level: 'INFO' | 'WARNING' | 'ERROR', message: string) =>
    log(level, 'protector.site', message);
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    // Storage first: with a missing mock data dir the service must refuse to start (product behaviour).
    const driverLog = (level: 'INFO' | 'WARNING' | 'ERROR', logger: string, message: string) =>
      log(level, logger, message);
    let driver: StorageDriver;
    if (config.DEFAULT.use_mock_storage) {
      const arrays = config.DEFAULT.mock_arrays;
      if (arrays.length !== 2) {
        throw new ProtectorError(
          'CONFIG_INVALID',
          `[DEFAULT] mock_arrays must name exactly two arrays (this site's first, the peer's second); got ${arrays.length}.`,
        );
      }
      // Each driver is loaded only when configured: a pure site never loads the array model.
      const { MockStorageDriver } = await import('@protector/storage-drivers/mock');
      driver = MockStorageDriver.create({
        dataDir: config.DEFAULT.mock_storage_dir,
        arrays: [arrays[0]!, arrays[1]!],
        transferMs: config.DEFAULT.mock_transfer_ms,
        tickMs: 500,
        concurrency: config.storage.concurrency,
        log: driverLog,
      });
    } else {
      const { PureStorageDriver } = await import('@protector/storage-drivers/pure');
      driver = new PureStorageDriver({
        primaryArrayUrl: config.storage.primary_array_url!,
        primaryArrayApiToken: config.storage.primary_array_api_token!,
        secondaryArrayUrl: config.storage.secondary_array_url!,
        secondaryArrayApiToken: config.storage.secondary_array_api_token!,
        caBundle: config.storage.ca_bundle,
        verifyTls: config.storage.verify_tls,
        timeoutMs: config.storage.request_timeout * 1000,
        localArray: config.storage.local_array,
        concurrency: config.storage.concurrency,
        log: driverLog,
      });
    }
    cleanups.push(() => driver.close());
    // An array that cannot be reached does not stop the site (its peer's datacenter may be gone): it is
    // addressed by the identity last seen and identified again when it answers.
    const statePath = config.DEFAULT.state_path;
    const known = loadArrayIdentities(statePath, (m) => logSite('WARNING', m));
    await driver.initialize({
      known,
      remember: (seen) => {
        try {
          saveArrayIdentities(statePath, seen, known);
        } catch (err) {
          logSite(
            'WARNING',
            `could not record the arrays' identities in ${statePath}: ${(err as Error).message}`,
          );
        }
      },
    });

    const dataSource = await createSiteDataSource({ url: config.database.connection });
    cleanups.push(() => dataSource.destroy());
    const secretKey = config.database.encryption_key
      ? parseSecretKey(config.database.encryption_key)
      : await loadOrCreateKey(config.database.encryption_key_file);
    const repo = createSiteRepository(dataSource, { secretKey });
    const { primary_array_url: primaryUrl, secondary_array_url: secondaryUrl } = config.storage;
    const policyTokens = new PolicyTokens(
      repo,
      driver,
      primaryUrl && secondaryUrl
        ? { primary: new URL(primaryUrl).origin, secondary: new URL(secondaryUrl).origin }
        : null,
    );
    await policyTokens.loadAll();
    /**
     * This site's array and the peer's, by their current names (an array unreachable at start is named
     * when it answers), and each group's policy tokens for them.
     */
    const arrays = {
      get localArray() {
        return driver.arrays()[0]!.name;
      },
      get peerArray() {
        return driver.arrays()[1]!.name;
      },
      arrayTokens: (protectionGroupId: string) => policyTokens.forGroup(protectionGroupId),
    };

    let sim: SimulatedCloud | null = null;
    let authUrl = config.keystone_authtoken.auth_url ?? '';
    const ks = config.keystone_authtoken;
    if (config.DEFAULT.use_simulated_cloud) {
      // Loaded only here: a site on a real cloud never loads the simulator.
      const { createSimulatedCloud } = await import('@protector/cloud-sim');
      sim = await createSimulatedCloud({
        host: config.openstack.sim_host,
        port: config.openstack.sim_port,
        database: config.openstack.sim_data_file,
        timing: {
          latencyMs: config.openstack.sim_latency_ms,
          bootTimeMs: config.openstack.sim_boot_seconds * 1000,
        },
        // The simulated Cinder runs the volume service and pool [cinder] volume_host names.
        volumeHost: config.cinder.volume_host,
        volumeBackend: {
          async createVolume(name, sizeBytes) {
            await driver.createVolumes(arrays.localArray, [{ name, sizeBytes }]);
            return name;
          },
          async deleteVolume(name) {
            await driver.destroyVolumes(arrays.localArray, [name], { eradicate: true });
          },
          async volumeSize(name) {
            const [v] = await driver.getVolumes(arrays.localArray, [name]).catch(() => []);
            return v && !v.destroyed ? v.sizeBytes : null;
          },
          // Cinder's Pure driver renames the volumes it manages (volume-<id>-cinder); a repeat finds it done.
          async renameVolume(from, to) {
            await driver.renameVolume(arrays.localArray, from, to);
          },
        },
        seed: { serviceUser: ks.username ?? 'protector', servicePassword: ks.password ?? 'protector' },
      });
      cleanups.push(() => sim!.stop());
      authUrl = sim.keystoneUrl;
      logSite(
        'INFO',
        `simulated OpenStack cloud of site ${siteName} at ${sim.url} (Keystone ${sim.keystoneUrl})`,
      );
    }
    /** The DR service user, scoped to its own project or (for a tenant's resources) to a tenant project. */
    const serviceClient = (scope: { projectName: string } | { projectId: string }) =>
      createOpenStackClient({
        authUrl,
        credentials: {
          type: 'password',
          username: ks.username ?? 'protector',
          password: ks.password ?? 'protector',
          userDomainName: ks.user_domain_name,
          projectDomainName: ks.project_domain_name,
          ...scope,
        },
        region: ks.region_name,
        interface: config.DEFAULT.use_simulated_cloud ? 'public' : ks.interface,
        // The simulator answers at once: poll it briskly so lab drills take the simulated time, not more.
        ...(config.DEFAULT.use_simulated_cloud ? { pollIntervalMs: 200 } : {}),
      });
    const cloud = serviceClient({ projectName: ks.project_name ?? 'service' });
    // Keystone down or refusing the service user does not stop the site: /readyz and `site validate`
    // report it, and requests are answered 503 until it accepts tokens again.
    await cloud
      .tokenInfo()
      .catch((err: Error) =>
        logSite(
          'WARNING',
          `the cloud's Keystone at ${authUrl} does not accept the service user yet: ${err.message}`,
        ),
      );
    const projectClients = new Map<string, OpenStackClient>();
    const cloudFor = (projectId: string) => {
      const known = projectClients.get(projectId);
      if (known) return known;
      const c = serviceClient({ projectId });
      projectClients.set(projectId, c);
      return c;
    };
    // The database belongs to one site: a renamed site_name is refused rather than mixing two sites' data.
    await repo.upsertSite({ name: siteName, role: 'local', authUrl, status: 'active' });

    const events = new SiteEvents();
    const metrics = new Metrics();
    const ctx: SiteContext = {
      get localArray() {
        return arrays.localArray;
      },
      get peerArray() {
        return arrays.peerArray;
      },
      arrayTokens: arrays.arrayTokens,
      policyTokens,
      siteName,
      version: SITE_VERSION,
      startedAt: new Date(),
      authUrl,
      repo,
      driver,
      cloud,
      cloudFor,
      events,
      defaults: {
        replicationIntervalSeconds: config.storage.default_replication_interval,
        rpoMinutes: config.storage.default_rpo_minutes,
      },
      cinderHost: config.cinder.volume_host,
      recoveryConcurrency: config.DEFAULT.recovery_concurrency,
      log: logSite,
    };
    const steps = createSiteSteps(ctx);
    // Storage state reads what the monitor knows instead of asking the arrays about every group.
    const monitor = startReplicationMonitor({
      repo,
      driver,
      events,
      siteName,
      arrays,
      intervalMs: config.DEFAULT.replication_monitor_interval * 1000,
      concurrency: config.storage.concurrency,
      log: logSite,
    });
    cleanups.push(() => monitor.stop());

    const schema = buildSiteSchema(ctx, steps, monitor);
    const validator = createTokenValidator(cloud, ks.token_cache_time);

    const limits = queryLimitsOf(config.api);
    const apollo = new ApolloServer<RequestContext>({
      schema,
      formatError: (formatted, error) =>
        maskInternalError(formatError(formatted, error), error, (m) => logSite('ERROR', m)),
      // Every request carries a token the site's Keystone accepted (see `authenticate`), so the
      // introspection policy only has `never` left to apply.
      introspection: limits.introspection !== 'never',
      validationRules: queryLimitRules(limits),
      parseOptions: parseLimits(limits),
      hideSchemaDetailsFromClientErrors: true,
      includeStacktraceInErrorResponses: false,
      plugins: [metrics.apolloPlugin(), ApolloServerPluginInlineTraceDisabled()],
    });
    await apollo.start();
    cleanups.push(() => apollo.stop());

    const authenticate = async (token: string | null): Promise<Caller> => {
      try {
        return await validator.validate(token);
      } catch (err) {
        if (err instanceof ProtectorError && err.code === 'UNAUTHENTICATED') {
          throw new GraphQLError(err.message, {
            extensions: { ...err.toExtensions(), http: { status: 401 } },
          });
        }
        if (err instanceof ProtectorError) {
          // Keystone unreachable or our service user misconfigured: the site's problem, logged for its operator.
          logSite('ERROR', `token validation failed: ${err.message}`);
          throw new GraphQLError(err.message, {
            extensions: { ...err.toExtensions(), http: { status: 503 } },
          });
        }
        throw err;
      }
    };

    const readiness = async () => {
      const checks: Record<string, { ok: boolean; error?: string }> = {};
      const run = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
          checks[name] = { ok: true };
        } catch (err) {
          checks[name] = { ok: false, error: (err as Error).message };
        }
      };
      await Promise.all([
        run('database', () => dataSource.query('SELECT 1')),
        run('cloud', () => cloud.tokenInfo()),
        // Ready means this site's own array answers; the peer's array is reported, and only degrades.
        run('storage', async () => {
          const v = await driver.validate();
          const local = v.arrays.find((a) => a.role === 'primary');
          if (!local?.authenticated) throw new Error(local?.error ?? 'local array unreachable');
        }),
        run('peer_storage', async () => {
          const peer = driver.arrays()[1]!;
          if (!peer.available) throw new Error(peer.error ?? `peer array '${peer.name}' is unavailable`);
        }),
      ]);
      return checks;
    };

    const routes = {
      '/healthz': (_req: IncomingMessage, res: ServerResponse) =>
        sendJson(res, 200, { status: 'ok', site: siteName, version: SITE_VERSION }),
      '/readyz': async (_req: IncomingMessage, res: ServerResponse) => {
        const checks = await readiness();
        // Without the peer's array the site still serves (and fails over to itself): degraded, not unready.
        const ok = Object.entries(checks).every(([name, c]) => c.ok || name === 'peer_storage');
        const status = !ok ? 'not ready' : checks.peer_storage?.ok ? 'ready' : 'degraded';
        sendJson(res, ok ? 200 : 503, { status, site: siteName, checks });
      },
      '/metrics': (req: IncomingMessage, res: ServerResponse) => {
        const expected = config.api.metrics_token;
        if (expected && !sameSecret(String(req.headers.authorization ?? ''), `Bearer ${expected}`)) {
          sendError(res, 'UNAUTHENTICATED', '/metrics needs Authorization: Bearer <[api] metrics_token>.');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(metrics.render());
      },
    };

    const http = await startGraphQLHttpServer<RequestContext>({
      apollo,
      rateLimit: rateLimitOf(config.api),
      onRefused: (code) => metrics.inc('protector_requests_refused_total', { code }),
      context: async (req) => ({ caller: await authenticate(tokenFromHeaders(req.headers)) }),
      subscriptions: {
        schema,
        onConnect: async (wsCtx) => {
          const params = (wsCtx.connectionParams ?? {}) as Record<string, unknown>;
          const token =
            (typeof params.token === 'string' && params.token) ||
            tokenFromHeaders(
              Object.fromEntries(Object.entries(params).map(([k, v]) => [k.toLowerCase(), v as string])),
            );
          try {
            (wsCtx.extra as Record<string, unknown>).caller = await validator.validate(token || null);
            return true;
          } catch {
            return false;
          }
        },
        context: (wsCtx) => ({ caller: (wsCtx.extra as Record<string, unknown>).caller as Caller }),
        // Subscription errors carry registered codes, as query errors do (a refused filter is
        // NOT_FOUND, not an uncoded error the gateway would have to call INTERNAL).
        onNext: (_ctx, _id, _payload, _args, result) =>
          result.errors
            ? {
                ...result,
                errors: result.errors.map((e) =>
                  maskInternalError(formatError(e.toJSON(), e), e, (m) => logSite('ERROR', m)),
                ),
              }
            : undefined,
      },
      routes,
      host: config.api.bind_host,
      port: config.api.bind_port,
    });
    cleanups.push(() => http.stop());
    logSite(
      'INFO',
      `site ${siteName} serving its subgraph at ${http.url} (storage ${driver.name}, arrays ${arrays.localArray} -> ${arrays.peerArray})`,
    );

    return {
      url: http.url,
      siteName,
      cloud: sim,
      driver,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
