/**
 * The site registry of the coordinator: registered sites and their clients, who a caller is at each
 * site (its own token, validated by that site's Keystone), site registration and validation, and
 * site health. The layers above add Protection Groups (`protection-groups.ts`) and operations
 * (`coordinator.ts`).
 */

import { createHash } from 'node:crypto';
import type { Turns } from '@protector/platform';
import {
  assertSiteKey,
  isProtectorError,
  type Json,
  ProtectorError,
  siteNameProblem,
  urlProblem,
} from '@protector/schema';
import { request } from 'undici';
import { CinderBackendCheckDocument, StorageCheckDocument } from './generated/site-documents.js';
import { listReplicas, noAnswer, type Replica, type ReplicaHead, type ReplicaRead } from './replicas.js';
import { CallerCredential, SERVICE, SiteClient, type TokenInfo } from './site-client.js';
import { type SiteHealth, SiteHealthMonitor } from './site-health.js';
import type { CoordinatorStore, ServiceCredentials, SiteRecord } from './store.js';

/** The tokens a client sent: one per site key, plus a default for every site. */
export interface CallerTokens {
  readonly siteTokens: Readonly<Record<string, string>>;
  readonly defaultToken: string | null;
}

/** Who a site's token acts as, where its Keystone already said so (see `SiteKeystone.knownCaller`). */
export interface CallerLookup {
  /** The registered sites' keys. */
  siteKeys(): readonly string[];
  /** The token's caller at the site, or null when not known (yet). */
  callerOf(siteKey: string, token: string): string | null;
}

const authorities = new WeakMap<CallerTokens, { readonly sites: string; readonly authority: string }>();

/**
 * The authority of a caller's tokens, hashed: callers with the same authority may share an answer in
 * flight, and no answer is shared across different authorities. With `callers`, it is who the tokens
 * act as at each registered site (tokens of one user, project and roles are one authority) once every
 * token's caller is known; before that, and without `callers`, the tokens themselves. Kept per context
 * while the registered sites stay the same.
 */
export function authorityOf(ctx: CallerTokens, callers?: CallerLookup): string {
  const keys = callers ? [...callers.siteKeys()].sort() : [];
  const sites = keys.join('\u0000');
  const kept = authorities.get(ctx);
  if (kept && kept.sites === sites) return kept.authority;
  const byCaller = callers ? callersAt(ctx, keys, callers) : null;
  const tokens = Object.entries(ctx.siteTokens).sort(([a], [b]) => a.localeCompare(b));
  const authority = createHash('sha256')
    .update(JSON.stringify(byCaller ? ['callers', byCaller] : ['tokens', ctx.defaultToken, tokens]))
    .digest('base64');
  // By tokens while a caller is not known yet: asked again next time.
  if (!callers || byCaller) authorities.set(ctx, { sites, authority });
  return authority;
}

/** The caller of the token `ctx` sends each site, in `keys` order; null if one is not known. */
function callersAt(ctx: CallerTokens, keys: readonly string[], callers: CallerLookup) {
  const out: [string, string | null][] = [];
  for (const key of keys) {
    const token = ctx.siteTokens[key] ?? ctx.defaultToken;
    const caller = token ? callers.callerOf(key, token) : null;
    if (token && !caller) return null;
    out.push([key, caller]);
  }
  return out;
}

/** A Protection Group as the coordinator sees it: the winning replica and what each site said. */
export interface GroupView<R extends ReplicaHead = Replica> {
  readonly id: string;
  readonly group: R;
  readonly reads: readonly ReplicaRead<R>[];
}

export type { SiteHealth, SiteHealthEvent, SiteStatus } from './site-health.js';

export interface CoordinatorOptions {
  readonly store: CoordinatorStore;
  /** Per-call timeout towards sites. */
  readonly siteTimeoutMs: number;
  /** Each site's turns, shared with the gateway's planner fetches (`[gateway] site_max_in_flight`). */
  readonly siteTurns?: (siteKey: string) => Turns | null;
  /** How often site health is checked (0 = never, for tests that drive it). */
  readonly healthIntervalMs: number;
  /** Called after the registry changed, so the gateway recomposes its supergraph. */
  readonly onSitesChanged: () => Promise<void>;
  readonly log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
  /** This gateway's name in operation leases and event announcements (default: generated). */
  readonly gatewayId?: string;
  /** How long this gateway's claim on a running operation lasts unrenewed (default 30 s). */
  readonly operationLeaseMs?: number;
  /** Tells the other gateways sharing the database that the registry changed (see `reloadRegistry`). */
  readonly announceSitesChanged?: () => Promise<void>;
}

export abstract class SiteRegistry {
  protected clients = new Map<string, SiteClient>();
  protected readonly monitor: SiteHealthMonitor;

  constructor(protected readonly opts: CoordinatorOptions) {
    this.monitor = new SiteHealthMonitor({
      sites: () => this.sites(),
      client: (name) => this.client(name),
      siteTimeoutMs: opts.siteTimeoutMs,
      intervalMs: opts.healthIntervalMs,
      onBack: (site) => {
        opts.log('INFO', `site ${site.name} is back; re-syncing its Protection Groups`);
        void this.resyncSite(site);
      },
    });
  }

  /** Starts a SYNC for every group whose copies differ, after a site returned. */
  abstract resyncSite(site: SiteRecord): Promise<string[]>;

  // ---- sites ----

  /** Another gateway sharing the database changed the registry: reload it and recompose. */
  async reloadRegistry(): Promise<void> {
    await this.reloadSites();
    await this.opts.onSitesChanged();
    void this.checkHealth();
  }

  protected async reloadSites(): Promise<void> {
    const next = new Map<string, SiteClient>();
    for (const s of await this.opts.store.listSites()) {
      next.set(
        s.name,
        new SiteClient(
          s,
          () => this.opts.store.serviceCredentials(s.name),
          this.opts.siteTimeoutMs,
          this.opts.siteTurns?.(s.key) ?? null,
        ),
      );
    }
    this.clients = next;
  }

  async client(name: string): Promise<SiteClient> {
    const c = this.clients.get(name);
    if (!c) {
      const known = [...this.clients.keys()].join(', ') || 'none';
      throw new ProtectorError('NOT_FOUND', `Site '${name}' is not registered (registered: ${known}).`, {
        site: name,
      });
    }
    return c;
  }

  /** The operation journal (read side for resolvers). */
  engineStore(): CoordinatorStore {
    return this.opts.store;
  }

  sites(): SiteRecord[] {
    return [...this.clients.values()].map((c) => c.site);
  }

  siteHealth(name: string): SiteHealth {
    return this.monitor.get(name);
  }

  /** Site status changes, for the `siteHealth` subscription. */
  get healthEvents() {
    return this.monitor.events;
  }

  /**
   * The caller's own credential for `site`: its token for that site, else the token it sent for
   * every site. Without one, the caller cannot act at that site: UNAUTHENTICATED naming the site.
   */
  credential(ctx: CallerTokens, site: SiteRecord): CallerCredential {
    const token = ctx.siteTokens[site.key] ?? ctx.defaultToken;
    if (!token) {
      throw new ProtectorError(
        'UNAUTHENTICATED',
        `No token for site '${site.name}': send X-Site-Token-${site.key} (or Authorization: Bearer) with a Keystone token of that site.`,
        { site: site.name },
      );
    }
    return new CallerCredential(site.name, token);
  }

  /**
   * Who `token` acts as at the site with `siteKey`, when its Keystone already said so (see
   * `SiteKeystone.knownCaller`); null otherwise, or for an unknown site.
   */
  knownCaller(siteKey: string, token: string): string | null {
    const site = this.sites().find((s) => s.key === siteKey);
    return (site && this.clients.get(site.name)?.keystone.knownCaller(token)) ?? null;
  }

  /** Who the caller is at `site` (validated by that site's Keystone). */
  async caller(ctx: CallerTokens, site: SiteRecord): Promise<TokenInfo> {
    return (await this.client(site.name)).keystone.validate(this.credential(ctx, site).token);
  }

  /**
   * Checks the tokens a subscriber sent in `connection_init`: each site token at the Keystone of the
   * site it names (an unknown site key is refused), a token for every site at one site at least.
   * A site whose Keystone does not answer cannot refuse its token now; its own service still will.
   * @throws ProtectorError UNAUTHENTICATED naming what was refused.
   */
  async authenticate(ctx: CallerTokens): Promise<void> {
    const sites = this.sites();
    const entries = Object.entries(ctx.siteTokens);
    if (!entries.length && !ctx.defaultToken)
      throw new ProtectorError('UNAUTHENTICATED', 'No token: send siteTokens or token in connection_init.');
    const check = async (site: SiteRecord, token: string) => {
      try {
        await (await this.client(site.name)).keystone.validate(token);
        return true;
      } catch (err) {
        if (noAnswer(err)) return null;
        throw err;
      }
    };
    for (const [key, token] of entries) {
      const site = sites.find((s) => s.key === key);
      if (!site)
        throw new ProtectorError(
          'UNAUTHENTICATED',
          `A token was sent for site key '${key}', which is not registered (registered: ${sites.map((s) => s.key).join(', ') || 'none'}).`,
        );
      await check(site, token);
    }
    if (ctx.defaultToken) {
      const results = await Promise.all(
        sites.map((s) => check(s, ctx.defaultToken!).catch((err: unknown) => err as Error)),
      );
      if (!results.some((r) => r === true || r === null))
        throw new ProtectorError('UNAUTHENTICATED', 'The token is not valid at any registered site.');
    }
  }

  /**
   * The caller holds the admin role at a registered site. A caller no site's Keystone accepts is
   * UNAUTHENTICATED (not FORBIDDEN): it has not said who it is.
   */
  protected async requireAdmin(ctx: CallerTokens, what: string): Promise<void> {
    let known = false;
    let refusal: ProtectorError | null = null;
    for (const s of this.sites()) {
      try {
        const who = await this.caller(ctx, s);
        known = true;
        if (who.roles.includes('admin')) return;
      } catch (err) {
        if (!isProtectorError(err)) throw err;
        refusal ??= err;
      }
    }
    if (!known)
      throw refusal?.code === 'UNAUTHENTICATED'
        ? refusal
        : new ProtectorError('UNAUTHENTICATED', `${what} needs a valid Keystone token of a registered site.`);
    throw new ProtectorError('FORBIDDEN', `${what} needs the admin role on a registered site.`);
  }

  async registerSite(
    ctx: CallerTokens,
    input: {
      name: string;
      key: string;
      description?: string | null;
      url: string;
      authUrl: string;
      serviceCredentials?: ServiceCredentials | null;
    },
  ): Promise<SiteRecord> {
    assertSiteKey(input.key);
    for (const [field, value] of [
      ['url', input.url],
      ['authUrl', input.authUrl],
    ] as const) {
      const problem = urlProblem(value);
      if (problem) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `${field} '${value}' ${problem}; give e.g. https://protector.boston.example.com:8788/graphql.`,
        );
      }
    }
    const badName = siteNameProblem(input.name);
    if (badName) throw new ProtectorError('BAD_USER_INPUT', badName);
    const existing = this.sites();
    // Only an admin of a registered site learns that the registry is full, and of which sites.
    if (existing.length >= 2 && !existing.some((s) => s.name === input.name)) {
      await this.requireAdmin(ctx, 'Registering a third site');
      throw new ProtectorError(
        'INVALID_STATE',
        `Two sites are registered already (${existing.map((s) => s.name).join(', ')}); unregister one first.`,
      );
    }
    // Re-registering a site (a new URL, Keystone or credentials) needs the admin role at the Keystone
    // registered for it now, checked before anything is sent to the new endpoints.
    const registered = this.clients.get(input.name);
    if (registered) {
      const who = await this.caller(ctx, registered.site);
      if (!who.roles.includes('admin'))
        throw new ProtectorError(
          'FORBIDDEN',
          `Re-registering site '${input.name}' needs the admin role at its registered Keystone (${registered.site.authUrl}).`,
        );
      if (registered.site.key !== input.key)
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `Site '${input.name}' is registered with key '${registered.site.key}'; a site keeps its key (unregister it to change the key).`,
        );
    }
    // Stored service credentials go to the new Keystone only after the caller proved to be its admin.
    let proven = false;
    const probe = new SiteClient(
      {
        ...input,
        description: input.description ?? null,
        registeredAt: new Date(),
        hasServiceCredentials: !!input.serviceCredentials,
      },
      async () =>
        input.serviceCredentials ?? (proven ? await this.opts.store.serviceCredentials(input.name) : null),
      this.opts.siteTimeoutMs,
    );
    const token = ctx.siteTokens[input.key] ?? ctx.defaultToken;
    if (!token) {
      throw new ProtectorError(
        'UNAUTHENTICATED',
        `Registering site '${input.name}' needs an admin token of its Keystone in X-Site-Token-${input.key}.`,
      );
    }
    const who = await probe.keystone.validate(token);
    if (!who.roles.includes('admin'))
      throw new ProtectorError('FORBIDDEN', `Registering a site needs the admin role at '${input.name}'.`);
    proven = true;
    await probe.keystone.serviceToken();
    const site = await this.opts.store.registerSite({
      name: input.name,
      key: input.key,
      description: input.description ?? null,
      url: input.url,
      authUrl: input.authUrl,
      credentials: input.serviceCredentials ?? null,
    });
    await this.reloadSites();
    await this.opts.onSitesChanged();
    await this.opts.announceSitesChanged?.();
    this.opts.log('INFO', `site ${site.name} (key ${site.key}) registered at ${site.url}`);
    void this.checkHealth();
    return site;
  }

  async unregisterSite(ctx: CallerTokens, name: string): Promise<SiteRecord> {
    await this.requireAdmin(ctx, 'Unregistering a site');
    const client = await this.client(name);
    // The gateway's own check (the caller is an admin): every group the site holds, of any project.
    const held = await listReplicas(client, SERVICE).catch((err) => {
      if (isProtectorError(err, 'SITE_UNREACHABLE')) return [];
      throw err;
    });
    if (held.length) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Site '${name}' still holds ${held.length} Protection Group(s) (${held.map((g) => g.name).join(', ')}); delete them first.`,
      );
    }
    await this.opts.store.deleteSite(name);
    await this.reloadSites();
    await this.opts.onSitesChanged();
    await this.opts.announceSitesChanged?.();
    return client.site;
  }

  async validateSite(ctx: CallerTokens, name: string): Promise<{ valid: boolean; checks: Json[] }> {
    const client = await this.client(name);
    // The checks run with the gateway's service identity, so only an admin of the site may ask.
    const who = await this.caller(ctx, client.site);
    if (!who.roles.includes('admin'))
      throw new ProtectorError('FORBIDDEN', `Validating site '${name}' needs the admin role at that site.`);
    const checks: Json[] = [];
    const check = async (check: string, fn: () => Promise<string>) => {
      const t0 = Date.now();
      try {
        checks.push({ name: check, status: 'PASSED', message: await fn(), durationMs: Date.now() - t0 });
      } catch (err) {
        checks.push({
          name: check,
          status: 'FAILED',
          message: (err as Error).message,
          durationMs: Date.now() - t0,
        });
      }
    };
    await check('service', async () => {
      const res = await request(client.site.url.replace(/\/graphql$/, '/readyz'), {
        headersTimeout: this.opts.siteTimeoutMs,
      });
      const body = (await res.body.json()) as Json;
      if (res.statusCode !== 200) throw new Error(`not ready: ${JSON.stringify(body.checks)}`);
      return `ready (${JSON.stringify(body.checks)})`;
    });
    await check('keystone', async () => {
      await client.keystone.serviceToken();
      return 'service credentials accepted';
    });
    await check('storage', async () => {
      const { storage } = await client.query(StorageCheckDocument, {}, SERVICE);
      if (!storage) throw new Error('the site did not report its storage');
      const arrays = storage.arrays;
      const bad = arrays.filter((a) => !a.reachable);
      if (bad.length)
        throw new Error(
          `array(s) unreachable: ${bad.map((a) => `${a.name}: ${a.error?.message}`).join('; ')}`,
        );
      const link = storage.replicationLink;
      if (link.state !== 'CONNECTED')
        throw new Error(`replication link ${link.localArray} -> ${link.remoteArray} is ${link.state}`);
      return `${storage.driver} driver, arrays ${arrays.map((a) => a.name).join(', ')} reachable, replication link connected`;
    });
    // The Cinder host recovered volumes are managed into ([cinder] volume_host) must exist in the site's cloud.
    await check('cinder', async () => {
      const { cinderBackend } = await client.query(CinderBackendCheckDocument, {}, SERVICE);
      if (!cinderBackend) throw new Error('the site did not report its Cinder backend');
      if (!cinderBackend.valid)
        throw new Error(cinderBackend.error?.message ?? `${cinderBackend.host} is not usable`);
      return `[cinder] volume_host ${cinderBackend.host}: volume service ${cinderBackend.service} up, pool present`;
    });
    return { valid: checks.every((c) => c.status !== 'FAILED'), checks };
  }

  /** Checks every site once; publishes changes; re-syncs groups of a site that came back. */
  checkHealth(): Promise<void> {
    return this.monitor.checkAll();
  }
}
