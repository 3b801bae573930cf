/**
 * The coordinator: the site registry, every cross-site change of a Protection Group (written to both
 * sites with compare-and-set, refused before anything is written when a site is down), the start of
 * operations, site health, and automatic re-sync when a site returns.
 */
import { randomUUID } from 'node:crypto';
import {
  arrayUrlProblem,
  assertSiteKey,
  defaultStorageGroupName,
  EventHub,
  flashArrayNameProblem,
  type HealthIssue,
  healthIssue,
  isProtectorError,
  type Json,
  ProtectorError,
  protectionGroupNameProblem,
  type SiteStatus,
  siteNameProblem,
  urlProblem,
} from '@protector/schema';
import { request } from 'undici';
import { OperationEngine } from './engine.js';
import { OperationEventBus } from './events.js';
import { FORCED_CLEANUP_STATUSES, type GroupStatus, type OperationSites, START_STATUSES } from './plans.js';
import {
  authoritative,
  listReplicas,
  memberInput,
  peerUnreachable,
  REPLICA_SELECTION,
  type Replica,
  type ReplicaRead,
  readReplica,
  syncState,
} from './replicas.js';
import { SiteClient, type TokenInfo } from './site-client.js';
import type {
  CoordinatorStore,
  OperationRecord,
  OperationType,
  ServiceCredentials,
  SiteRecord,
} from './store.js';

/** The tokens a client sent: one per site key, plus a default for every site. */
export interface CallerTokens {
  readonly siteTokens: Readonly<Record<string, string>>;
  readonly defaultToken: string | null;
}

/** A Protection Group as the coordinator sees it: the winning replica and what each site said. */
export interface GroupView {
  readonly id: string;
  readonly group: Replica;
  readonly reads: readonly ReplicaRead[];
}

export type { SiteStatus };

export interface SiteHealth {
  readonly status: SiteStatus;
  readonly checkedAt: Date | null;
  readonly latencyMs: number | null;
  readonly version: string | null;
  readonly storageDriver: string | null;
  readonly storageReachable: boolean | null;
  readonly linkState: string;
  readonly groups: readonly {
    id: string;
    lagSeconds: number | null;
    rpoMinutes: number | null;
    rpoCompliance: string;
  }[];
  readonly issues: readonly HealthIssue[];
}

export interface SiteHealthEvent {
  readonly occurredAt: string;
  readonly site: string;
  readonly status: SiteStatus;
  readonly previousStatus: SiteStatus | null;
}

export interface CoordinatorOptions {
  readonly store: CoordinatorStore;
  /** Per-call timeout towards sites. */
  readonly siteTimeoutMs: number;
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

const UNKNOWN_HEALTH: SiteHealth = {
  status: 'UNKNOWN',
  checkedAt: null,
  latencyMs: null,
  version: null,
  storageDriver: null,
  storageReachable: null,
  linkState: 'UNKNOWN',
  groups: [],
  issues: [],
};

export class Coordinator {
  readonly events = new OperationEventBus();
  readonly engine: OperationEngine;
  private clients = new Map<string, SiteClient>();
  private readonly health = new Map<string, SiteHealth>();
  /** Site status changes, for the `siteHealth` subscription. */
  readonly healthEvents = new EventHub<SiteHealthEvent>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: CoordinatorOptions) {
    this.engine = new OperationEngine({
      store: opts.store,
      events: this.events,
      site: (name) => this.client(name),
      log: opts.log,
      owner: opts.gatewayId,
      leaseMs: opts.operationLeaseMs,
    });
  }

  async start(): Promise<void> {
    await this.reloadSites();
    await this.engine.recover();
    if (this.opts.healthIntervalMs > 0) {
      void this.checkHealth();
      this.timer = setInterval(() => void this.checkHealth(), this.opts.healthIntervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.engine.stop();
  }

  // ---- sites ----

  /** Another gateway sharing the database changed the registry: reload it and recompose. */
  async reloadRegistry(): Promise<void> {
    await this.reloadSites();
    await this.opts.onSitesChanged();
    void this.checkHealth();
  }

  private async reloadSites(): Promise<void> {
    const next = new Map<string, SiteClient>();
    for (const s of await this.opts.store.listSites()) {
      next.set(
        s.name,
        new SiteClient(s, () => this.opts.store.serviceCredentials(s.name), this.opts.siteTimeoutMs),
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
    return this.health.get(name) ?? UNKNOWN_HEALTH;
  }

  tokenFor(ctx: CallerTokens, site: SiteRecord): string | null {
    return ctx.siteTokens[site.key] ?? ctx.defaultToken;
  }

  /** Who the caller is at `site` (validated by that site's Keystone). */
  async caller(ctx: CallerTokens, site: SiteRecord): Promise<TokenInfo> {
    const token = this.tokenFor(ctx, site);
    if (!token) {
      throw new ProtectorError(
        'UNAUTHENTICATED',
        `No token for site '${site.name}': send X-Site-Token-${site.key} (or Authorization: Bearer) with a Keystone token of that site.`,
        { site: site.name },
      );
    }
    return (await this.client(site.name)).keystone.validate(token);
  }

  private async requireAdmin(ctx: CallerTokens, what: string): Promise<void> {
    const sites = this.sites();
    for (const s of sites) {
      try {
        if ((await this.caller(ctx, s)).roles.includes('admin')) return;
      } catch (err) {
        if (!isProtectorError(err)) throw err;
      }
    }
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
    if (existing.length >= 2 && !existing.some((s) => s.name === input.name)) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Two sites are registered already (${existing.map((s) => s.name).join(', ')}); unregister one first.`,
      );
    }
    // The caller must be an admin of the site being registered (checked at its own Keystone).
    const probe = new SiteClient(
      {
        ...input,
        description: input.description ?? null,
        registeredAt: new Date(),
        hasServiceCredentials: !!input.serviceCredentials,
      },
      async () => input.serviceCredentials ?? (await this.opts.store.serviceCredentials(input.name)),
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
    const held = await listReplicas(client, null).catch((err) => {
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

  async validateSite(name: string): Promise<{ valid: boolean; checks: Json[] }> {
    const client = await this.client(name);
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
      const data = await client.request<Record<string, { storage: Json }>>(
        `{ ${client.site.key} { storage { driver arrays { name role reachable error { message } } replicationLink { state localArray remoteArray } } } }`,
        {},
      );
      const storage = data[client.site.key]!.storage;
      const arrays = storage.arrays as Json[];
      const bad = arrays.filter((a) => !a.reachable);
      if (bad.length)
        throw new Error(
          `array(s) unreachable: ${bad.map((a) => `${a.name}: ${(a.error as Json | null)?.message}`).join('; ')}`,
        );
      const link = storage.replicationLink as Json;
      if (link.state !== 'CONNECTED')
        throw new Error(`replication link ${link.localArray} -> ${link.remoteArray} is ${link.state}`);
      return `${storage.driver} driver, arrays ${arrays.map((a) => a.name).join(', ')} reachable, replication link connected`;
    });
    return { valid: checks.every((c) => c.status !== 'FAILED'), checks };
  }

  // ---- reading groups ----

  /** Every group the caller may see, merged by id across the sites. */
  async listGroups(ctx: CallerTokens, filter: Json = {}): Promise<GroupView[]> {
    const byId = new Map<string, ReplicaRead[]>();
    await Promise.all(
      this.sites().map(async (s) => {
        try {
          for (const r of await listReplicas(await this.client(s.name), this.tokenFor(ctx, s), filter)) {
            byId.set(r.id, [...(byId.get(r.id) ?? []), { site: s.name, replica: r, error: null }]);
          }
        } catch (err) {
          if (!isProtectorError(err)) throw err;
        }
      }),
    );
    return this.views(byId);
  }

  private views(byId: Map<string, ReplicaRead[]>): GroupView[] {
    const out: GroupView[] = [];
    for (const [id, found] of byId) {
      const group = authoritative(found)!;
      // A site that did not list the group either lacks it or did not answer: say which.
      const reads = [group.currentPrimarySite.name, group.secondarySite.name].map(
        (site) =>
          found.find((f) => f.site === site) ?? {
            site,
            replica: null,
            error:
              this.siteHealth(site).status === 'UNREACHABLE'
                ? new ProtectorError('SITE_UNREACHABLE', `Site '${site}' is unreachable.`)
                : null,
          },
      );
      out.push({ id, group, reads });
    }
    return out.sort((a, b) => a.group.name.localeCompare(b.group.name));
  }

  /** One group by id or name, as the caller may see it; NOT_FOUND otherwise. */
  async getGroup(ctx: CallerTokens, idOrName: string): Promise<GroupView> {
    const reads = await Promise.all(
      this.sites().map(async (s) => {
        const client = await this.client(s.name);
        const token = this.tokenFor(ctx, s);
        const byId = await readReplica(client, idOrName, token);
        if (byId.replica || byId.error) return byId;
        try {
          const [byName] = await listReplicas(client, token, { name: idOrName });
          return { site: s.name, replica: byName ?? null, error: null };
        } catch (err) {
          if (isProtectorError(err)) return { site: s.name, replica: null, error: err };
          throw err;
        }
      }),
    );
    const group = authoritative(reads);
    if (!group) {
      const authError = reads.find(
        (r) => r.error && (r.error.code === 'UNAUTHENTICATED' || r.error.code === 'FORBIDDEN'),
      );
      if (authError?.error && reads.every((r) => r.error)) throw authError.error;
      throw new ProtectorError(
        'NOT_FOUND',
        `Protection Group '${idOrName}' does not exist or is not visible to you.`,
        { protectionGroup: idOrName },
      );
    }
    const mine = reads.filter((r) => r.error || r.replica?.id === group.id);
    return { id: group.id, group, reads: mine };
  }

  /** Re-reads a group with the service identity (both sites), for changes. */
  private async serviceReads(group: Replica): Promise<ReplicaRead[]> {
    return Promise.all(
      [group.currentPrimarySite.name, group.secondarySite.name].map(async (n) =>
        readReplica(await this.client(n), group.id),
      ),
    );
  }

  /** Both sites answer and hold the same version: the precondition of every metadata change. */
  private async requireBothInSync(
    group: Replica,
    what: string,
  ): Promise<{ reads: ReplicaRead[]; best: Replica }> {
    const reads = await this.serviceReads(group);
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
    const state = syncState(reads);
    if (state !== 'IN_SYNC') {
      throw new ProtectorError(
        'INVALID_STATE',
        `${what} needs both sites in sync, but Protection Group '${group.name}' is ${state} (versions ${reads.map((r) => `${r.site}=${r.replica?.metadataVersion ?? 'none'}`).join(', ')}); run syncProtectionGroup first.`,
        { syncStatus: state },
      );
    }
    return { reads, best: authoritative(reads)! };
  }

  private async active(id: string): Promise<OperationRecord | null> {
    return (await this.opts.store.listOperations({ protectionGroupId: id, active: true }))[0] ?? null;
  }

  private async refuseWhileBusy(group: Replica): Promise<void> {
    const op = await this.active(group.id);
    if (op) {
      throw new ProtectorError(
        'OPERATION_IN_PROGRESS',
        `Operation ${op.id} (${op.type}) is acting on Protection Group '${group.name}'; wait for it or cancel it.`,
        { operation: op.id },
      );
    }
  }

  // ---- changes to groups ----

  async createProtectionGroup(
    ctx: CallerTokens,
    input: {
      name: string;
      description?: string | null;
      replicationType: 'ASYNC' | 'SYNC';
      primarySite: string;
      secondarySite: string;
      volumeType: string;
      projectId?: string | null;
    },
  ): Promise<GroupView> {
    const badName = protectionGroupNameProblem(input.name);
    if (badName) throw new ProtectorError('BAD_USER_INPUT', badName);
    if (input.primarySite === input.secondarySite) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        'primarySite and secondarySite must be two different registered sites.',
      );
    }
    const primary = await this.client(input.primarySite);
    const secondary = await this.client(input.secondarySite);
    const who = await this.caller(ctx, primary.site);
    const isAdmin = who.roles.includes('admin');
    if (input.projectId && input.projectId !== who.projectId && !isAdmin) {
      throw new ProtectorError(
        'FORBIDDEN',
        `You may only create Protection Groups in your own project (${who.projectId}).`,
      );
    }
    const projectId = input.projectId ?? who.projectId;
    if (!projectId)
      throw new ProtectorError(
        'BAD_USER_INPUT',
        'Your token is not scoped to a project; give projectId or use a project-scoped token.',
      );
    // Both sites must answer before anything is written (the product refuses changes with a site down).
    const reachability = await Promise.all(
      [primary, secondary].map(async (c) => {
        try {
          return { client: c, types: await this.volumeTypes(c), error: null };
        } catch (err) {
          if (isProtectorError(err)) return { client: c, types: [], error: err };
          throw err;
        }
      }),
    );
    const down = reachability.find((r) => r.error);
    if (down) throw peerUnreachable({ site: down.client.site.name, replica: null, error: down.error });
    for (const r of reachability) {
      const vt = r.types.find((t) => t.name === input.volumeType);
      if (!vt) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `Volume type '${input.volumeType}' does not exist on site '${r.client.site.name}'; create it on both sites.`,
        );
      }
      if (!vt.replicationEnabled || (vt.replicationType && vt.replicationType !== input.replicationType)) {
        throw new ProtectorError(
          'VOLUME_TYPE_NOT_REPLICATED',
          `Volume type '${input.volumeType}' does not support replication. Set replication_enabled='<is> True' and replication_type='<in> ${input.replicationType.toLowerCase()}' on it on both sites (openstack volume type set ${input.volumeType} --property ...).`,
          { volumeType: input.volumeType, site: r.client.site.name },
        );
      }
    }
    const existing = await listReplicas(primary, null, { name: input.name, projectId });
    if (existing.length)
      throw new ProtectorError(
        'ALREADY_EXISTS',
        `Protection Group '${input.name}' already exists in project ${projectId}.`,
      );
    const peerProject = await this.peerProject(primary, secondary, projectId);
    const id = randomUUID();
    const storageGroupName = defaultStorageGroupName(input.name);
    const metadata = {
      id,
      name: input.name,
      description: input.description ?? null,
      projectId,
      replicationType: input.replicationType,
      status: 'ACTIVE',
      currentPrimarySite: primary.site.name,
      secondarySite: secondary.site.name,
      metadataVersion: 1,
      syncStatus: 'IN_SYNC',
      lastSyncedAt: new Date().toISOString(),
      storageGroupName,
      volumeType: input.volumeType,
      members: [],
      policy: null,
      resourceMappings: [],
    };
    const key = (k: string) => ({ operationId: `create-${id}`, stepKey: k });
    await primary.step(
      'applyProtectionGroupMetadata',
      key('metadata'),
      { expectedVersion: 0, metadata },
      'replica { id }',
    );
    await secondary.step(
      'applyProtectionGroupMetadata',
      key('metadata'),
      { expectedVersion: 0, metadata: { ...metadata, projectId: peerProject } },
      'replica { id }',
    );
    for (const c of [primary, secondary]) {
      await c.step(
        'ensureConsistencyGroup',
        key('consistency-group'),
        { protectionGroupId: id, volumeType: input.volumeType },
        'consistencyGroupId',
      );
    }
    await primary.step(
      'ensureStorageGroup',
      key('storage-group'),
      { protectionGroupId: id, name: storageGroupName, replicationType: input.replicationType, source: true },
      'name',
    );
    this.opts.log(
      'INFO',
      `Protection Group '${input.name}' (${id}) created: ${primary.site.name} -> ${secondary.site.name}`,
    );
    return this.getGroup(ctx, id);
  }

  /** The project on the secondary that maps to `projectId` on the primary (tenant mappings), or the same id. */
  private async peerProject(primary: SiteClient, secondary: SiteClient, projectId: string): Promise<string> {
    const data = await primary.request<Record<string, { tenantMappings: Json[] }>>(
      `{ ${primary.site.key} { tenantMappings { sourceSite { name } sourceProjectId targetSite { name } targetProjectId } } }`,
      {},
    );
    const m = data[primary.site.key]!.tenantMappings.find(
      (t) => t.sourceProjectId === projectId && (t.targetSite as Json).name === secondary.site.name,
    );
    return (m?.targetProjectId as string | undefined) ?? projectId;
  }

  private async volumeTypes(
    c: SiteClient,
  ): Promise<{ name: string; replicationEnabled: boolean; replicationType: string | null }[]> {
    const data = await c.request<
      Record<
        string,
        { volumeTypes: { name: string; replicationEnabled: boolean; replicationType: string | null }[] }
      >
    >(`{ ${c.site.key} { volumeTypes { name replicationEnabled replicationType } } }`, {});
    return data[c.site.key]!.volumeTypes;
  }

  /**
   * One metadata change on both sites: checks reachability and sync first, then runs `write` on the
   * primary and the secondary with the version each holds. Nothing is written if a site is down.
   */
  private async change(
    ctx: CallerTokens,
    idOrName: string,
    what: string,
    write: (
      c: SiteClient,
      expectedVersion: number,
      group: Replica,
      primaryResult: Json | null,
    ) => Promise<Json>,
    opts: { statuses?: readonly string[] } = {},
  ): Promise<GroupView> {
    const view = await this.getGroup(ctx, idOrName);
    await this.refuseWhileBusy(view.group);
    const { reads, best } = await this.requireBothInSync(view.group, what);
    if (opts.statuses && !opts.statuses.includes(best.status)) {
      throw new ProtectorError(
        'INVALID_STATE',
        `${what} is not allowed while the Protection Group is ${best.status}.`,
        { status: best.status },
      );
    }
    const version = (site: string) => reads.find((r) => r.site === site)!.replica!.metadataVersion;
    const primary = best.currentPrimarySite.name;
    const secondary = best.secondarySite.name;
    // The primary acts first (it checks the rules against its cloud); the secondary records the result.
    const primaryResult = await write(await this.client(primary), version(primary), best, null);
    await write(await this.client(secondary), version(secondary), best, primaryResult);
    return this.getGroup(ctx, view.id);
  }

  async addMember(
    ctx: CallerTokens,
    input: { protectionGroup: string; server: string; bootPriority?: number | null },
  ): Promise<GroupView> {
    const bootPriority = input.bootPriority ?? 3;
    if (!Number.isInteger(bootPriority) || bootPriority < 1 || bootPriority > 5) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `bootPriority must be a whole number from 1 (recovered first) to 5, got ${bootPriority}.`,
      );
    }
    const requestId = randomUUID();
    const view = await this.getGroup(ctx, input.protectionGroup);
    const primary = await this.client(view.group.currentPrimarySite.name);
    const token = this.tokenFor(ctx, primary.site);
    const data = await primary.request<Record<string, { servers: Json[] }>>(
      `query($f: ServerFilterInput) { ${primary.site.key} { servers(filter: $f) { id name projectId } } }`,
      { f: {} },
      token,
    );
    const servers = data[primary.site.key]!.servers.filter(
      (s) => s.id === input.server || s.name === input.server,
    );
    if (!servers.length) {
      throw new ProtectorError(
        'NOT_FOUND',
        `Server '${input.server}' does not exist on site '${primary.site.name}' or is not visible to you.`,
      );
    }
    if (servers.length > 1)
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `Several servers are named '${input.server}'; give the server id.`,
      );
    const server = servers[0]!;
    if (
      view.group.members.some((m) => ((m.placements as Json[]) ?? []).some((p) => p.serverId === server.id))
    ) {
      throw new ProtectorError(
        'ALREADY_EXISTS',
        `Server '${server.name}' is already a member of '${view.group.name}'.`,
      );
    }
    const memberId = randomUUID();
    return this.change(
      ctx,
      view.id,
      'Adding a member',
      async (c, expectedVersion, group, primaryResult) => {
        const member = primaryResult
          ? memberInput((primaryResult.replica as Replica).members.find((m) => m.id === memberId)!)
          : {
              id: memberId,
              name: server.name,
              status: 'PROTECTED',
              bootPriority,
              volumes: [],
              placements: [{ site: primary.site.name, serverId: server.id, networkIds: [], volumes: [] }],
            };
        return c.step(
          'addMember',
          { operationId: requestId, stepKey: `add-member@${c.site.name}` },
          { protectionGroupId: group.id, expectedVersion, member },
          `replica { ${REPLICA_SELECTION} }`,
        );
      },
      { statuses: ['ACTIVE'] },
    );
  }

  async removeMember(
    ctx: CallerTokens,
    input: { protectionGroup: string; member: string },
  ): Promise<GroupView> {
    const requestId = randomUUID();
    const view = await this.getGroup(ctx, input.protectionGroup);
    const member = view.group.members.find(
      (m) =>
        m.id === input.member ||
        m.name === input.member ||
        ((m.placements as Json[]) ?? []).some((p) => p.serverId === input.member),
    );
    if (!member)
      throw new ProtectorError('NOT_FOUND', `'${view.group.name}' has no member '${input.member}'.`);
    return this.change(
      ctx,
      view.id,
      'Removing a member',
      (c, expectedVersion, group) =>
        c.step(
          'removeMember',
          { operationId: requestId, stepKey: `remove-member@${c.site.name}` },
          { protectionGroupId: group.id, expectedVersion, memberId: member.id },
          'replica { id }',
        ),
      { statuses: ['ACTIVE'] },
    );
  }

  async createReplicationPolicy(
    ctx: CallerTokens,
    input: { protectionGroup: string; policy: Json },
  ): Promise<GroupView> {
    const p = input.policy;
    for (const field of ['replicationIntervalSeconds', 'rpoMinutes'] as const) {
      const v = p[field];
      if (v !== undefined && v !== null && (!Number.isInteger(v) || (v as number) < 1)) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `${field} must be a whole number of at least 1, got ${v}.`,
        );
      }
    }
    for (const field of ['primaryArrayUrl', 'secondaryArrayUrl'] as const) {
      const v = p[field];
      const problem = typeof v === 'string' ? arrayUrlProblem(v) : null;
      if (problem) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `${field} '${v}' ${problem} (FlashArray management is served over TLS), e.g. https://flasharray-a.example.com.`,
        );
      }
    }
    const badPgName = typeof p.purePgName === 'string' ? flashArrayNameProblem(p.purePgName) : null;
    if (badPgName) throw new ProtectorError('INVALID_NAME', `purePgName: ${badPgName}`);
    const requestId = randomUUID();
    return this.change(
      ctx,
      input.protectionGroup,
      'Changing the replication policy',
      (c, expectedVersion, group) =>
        c.step(
          'setReplicationPolicy',
          { operationId: requestId, stepKey: `policy@${c.site.name}` },
          { protectionGroupId: group.id, expectedVersion, policy: p },
          'replica { id }',
        ),
    );
  }

  async setResourceMappings(
    ctx: CallerTokens,
    input: { protectionGroup: string; mappings: Json[] },
  ): Promise<GroupView> {
    const view = await this.getGroup(ctx, input.protectionGroup);
    const sites = [view.group.currentPrimarySite.name, view.group.secondarySite.name];
    for (const m of input.mappings) {
      for (const f of ['sourceSite', 'targetSite'] as const) {
        if (!sites.includes(String(m[f]))) {
          throw new ProtectorError(
            'BAD_USER_INPUT',
            `Mapping ${f} '${m[f]}' is not one of the group's sites (${sites.join(', ')}).`,
          );
        }
      }
      if (m.sourceSite === m.targetSite)
        throw new ProtectorError(
          'BAD_USER_INPUT',
          'A mapping translates between the two sites: sourceSite and targetSite must differ.',
        );
    }
    const requestId = randomUUID();
    return this.change(ctx, view.id, 'Changing resource mappings', (c, expectedVersion, group) =>
      c.step(
        'setResourceMappings',
        { operationId: requestId, stepKey: `mappings@${c.site.name}` },
        { protectionGroupId: group.id, expectedVersion, mappings: input.mappings },
        'replica { id }',
      ),
    );
  }

  async setTenantMappings(ctx: CallerTokens, mappings: Json[]): Promise<Json[]> {
    await this.requireAdmin(ctx, 'Setting tenant mappings');
    const requestId = randomUUID();
    const sites = this.sites();
    for (const m of mappings) {
      for (const f of ['sourceSite', 'targetSite'] as const) {
        if (!sites.some((s) => s.name === m[f]))
          throw new ProtectorError(
            'BAD_USER_INPUT',
            `Tenant mapping ${f} '${m[f]}' is not a registered site.`,
          );
      }
    }
    const down = await Promise.all(
      sites.map(async (s) => readReplica(await this.client(s.name), '00000000-0000-0000-0000-000000000000')),
    );
    const unreachable = down.find((r) => r.error?.code === 'SITE_UNREACHABLE');
    if (unreachable) throw peerUnreachable(unreachable);
    let out: Json[] = [];
    for (const s of sites) {
      const res = await (await this.client(s.name)).step<{ tenantMappings: Json[] }>(
        'setTenantMappings',
        { operationId: requestId, stepKey: `tenants@${s.name}` },
        { mappings },
        'tenantMappings { sourceSite { name } sourceProjectId targetSite { name } targetProjectId }',
      );
      out = res.tenantMappings;
    }
    return out;
  }

  async deleteProtectionGroup(
    ctx: CallerTokens,
    input: { protectionGroup: string; force: boolean },
  ): Promise<{ id: string; name: string }> {
    const view = await this.getGroup(ctx, input.protectionGroup);
    await this.refuseWhileBusy(view.group);
    const { reads, best } = await this.requireBothInSync(view.group, 'Deleting a Protection Group');
    if (best.members.length && !input.force) {
      throw new ProtectorError(
        'INVALID_STATE',
        `'${best.name}' still has ${best.members.length} member(s); remove them or pass force: true.`,
      );
    }
    const requestId = `delete-${best.id}`;
    const primary = await this.client(best.currentPrimarySite.name);
    const secondary = await this.client(best.secondarySite.name);
    for (const c of [primary, secondary]) {
      await c.step(
        'deleteStorageGroup',
        { operationId: requestId, stepKey: 'storage-group' },
        { protectionGroupId: best.id },
        'step { replayed }',
      );
      await c.step(
        'deleteConsistencyGroup',
        { operationId: requestId, stepKey: 'consistency-group' },
        { protectionGroupId: best.id },
        'step { replayed }',
      );
    }
    for (const c of [primary, secondary]) {
      const version = reads.find((r) => r.site === c.site.name)!.replica!.metadataVersion;
      await c.step(
        'deleteProtectionGroupReplica',
        { operationId: requestId, stepKey: 'replica' },
        { protectionGroupId: best.id, expectedVersion: version },
        'step { replayed }',
      );
    }
    return { id: best.id, name: best.name };
  }

  // ---- operations ----

  private async startOperation(
    ctx: CallerTokens,
    view: GroupView,
    type: OperationType,
    sites: OperationSites,
    params: Json,
    extra: { requireBoth: boolean; extraSteps?: { key: string; name: string; site: string | null }[] },
  ): Promise<OperationRecord> {
    const reads = await this.serviceReads(view.group);
    const target = reads.find((r) => r.site === sites.target)!;
    if (target.error) throw peerUnreachable(target);
    const down = reads.find((r) => r.error);
    if (extra.requireBoth && down) throw peerUnreachable(down);
    const best = authoritative(reads) ?? view.group;
    const statuses = type === 'TEST_CLEANUP' && params.force ? FORCED_CLEANUP_STATUSES : START_STATUSES[type];
    if (!statuses.includes(best.status as GroupStatus)) {
      throw new ProtectorError(
        'INVALID_STATE',
        `${type} is not allowed while Protection Group '${best.name}' is ${best.status}; it needs ${statuses.join(' or ')}.`,
        { status: best.status },
      );
    }
    const who = await this.caller(ctx, await this.client(sites.target).then((c) => c.site)).catch(() => null);
    return this.engine.start({
      type,
      group: best,
      sites,
      params,
      requestedBy: who ? `${who.userName}@${sites.target}` : null,
      extraSteps: extra.extraSteps,
    });
  }

  async failover(
    ctx: CallerTokens,
    input: {
      protectionGroup: string;
      type: 'PLANNED' | 'UNPLANNED';
      recoveryPoint?: string | null;
      resourceMappings?: Json[] | null;
    },
  ) {
    const view = await this.getGroup(ctx, input.protectionGroup);
    const sites = { source: view.group.currentPrimarySite.name, target: view.group.secondarySite.name };
    if (input.type === 'PLANNED') {
      if (input.recoveryPoint) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          'A planned failover always replicates a final recovery point; point-in-time recovery (recoveryPoint) is for UNPLANNED failovers.',
        );
      }
      await this.requireBothInSync(view.group, 'A planned failover');
      if (!view.group.members.length)
        throw new ProtectorError('INVALID_STATE', `'${view.group.name}' has no members to fail over.`);
    } else if (input.recoveryPoint) {
      await this.requireRecoveryPoint(ctx, view, input.recoveryPoint);
    }
    return this.startOperation(
      ctx,
      view,
      input.type === 'PLANNED' ? 'PLANNED_FAILOVER' : 'UNPLANNED_FAILOVER',
      sites,
      { recoveryPoint: input.recoveryPoint ?? null, resourceMappings: input.resourceMappings ?? null },
      { requireBoth: input.type === 'PLANNED' },
    );
  }

  private async requireRecoveryPoint(ctx: CallerTokens, view: GroupView, name: string): Promise<void> {
    const points = await this.recoveryPoints(ctx, view.id, view.group.secondarySite.name);
    const point = points.find((p) => p.name === name);
    if (!point) {
      throw new ProtectorError(
        'NOT_FOUND',
        `Recovery point '${name}' does not exist on site '${view.group.secondarySite.name}'; list them with recoveryPoints(protectionGroup: "${view.group.name}").`,
      );
    }
    if (!point.complete) {
      throw new ProtectorError(
        'RECOVERY_POINT_INCOMPLETE',
        `Recovery point '${name}' is still replicating (progress ${Number(point.progress).toFixed(2)}); choose a complete one.`,
      );
    }
  }

  async testFailover(
    ctx: CallerTokens,
    input: {
      protectionGroup: string;
      recoveryPoint?: string | null;
      resourceMappings?: Json[] | null;
      testNetworkCidr?: string | null;
    },
  ) {
    const view = await this.getGroup(ctx, input.protectionGroup);
    if (!view.group.members.length)
      throw new ProtectorError(
        'INVALID_STATE',
        `'${view.group.name}' has no members; add a VM before a drill.`,
      );
    if (input.testNetworkCidr && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(input.testNetworkCidr)) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `testNetworkCidr '${input.testNetworkCidr}' is not an IPv4 CIDR such as 192.168.250.0/24.`,
      );
    }
    const points = await this.recoveryPoints(ctx, view.id, view.group.secondarySite.name);
    if (input.recoveryPoint) await this.requireRecoveryPoint(ctx, view, input.recoveryPoint);
    else if (!points.some((p) => p.complete)) {
      throw new ProtectorError(
        'INVALID_STATE',
        `'${view.group.name}' has no complete replicated recovery point on '${view.group.secondarySite.name}' yet; wait for replication.`,
      );
    }
    return this.startOperation(
      ctx,
      view,
      'TEST_FAILOVER',
      { source: view.group.currentPrimarySite.name, target: view.group.secondarySite.name },
      {
        recoveryPoint: input.recoveryPoint ?? null,
        resourceMappings: input.resourceMappings ?? null,
        testNetworkCidr: input.testNetworkCidr ?? null,
      },
      { requireBoth: true },
    );
  }

  async testCleanup(ctx: CallerTokens, input: { protectionGroup: string; force: boolean }) {
    const view = await this.getGroup(ctx, input.protectionGroup);
    return this.startOperation(
      ctx,
      view,
      'TEST_CLEANUP',
      { source: view.group.currentPrimarySite.name, target: view.group.secondarySite.name },
      { force: input.force },
      { requireBoth: true },
    );
  }

  async failback(
    ctx: CallerTokens,
    input: { protectionGroup: string; resourceMappings?: Json[] | null; forceSync: boolean },
  ) {
    const view = await this.getGroup(ctx, input.protectionGroup);
    const reads = await this.serviceReads(view.group);
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
    const state = syncState(reads);
    const extraSteps: { key: string; name: string; site: string | null }[] = [];
    if (state !== 'IN_SYNC') {
      if (!input.forceSync) {
        throw new ProtectorError(
          'INVALID_STATE',
          `Failback needs both sites in sync, but '${view.group.name}' is ${state}; run syncProtectionGroup or pass forceSync: true.`,
          { syncStatus: state },
        );
      }
      extraSteps.push(
        { key: 'fence-stale', name: 'fenceStale', site: null },
        { key: 'sync', name: 'syncMetadata', site: null },
      );
    }
    const best = authoritative(reads)!;
    return this.startOperation(
      ctx,
      { ...view, group: best },
      'FAILBACK',
      { source: best.currentPrimarySite.name, target: best.secondarySite.name },
      { resourceMappings: input.resourceMappings ?? null },
      { requireBoth: true, extraSteps },
    );
  }

  async syncProtectionGroup(
    ctx: CallerTokens | null,
    input: { protectionGroup: string; force: boolean },
  ): Promise<OperationRecord> {
    const view = ctx
      ? await this.getGroup(ctx, input.protectionGroup)
      : await this.serviceGroup(input.protectionGroup);
    const reads = await this.serviceReads(view.group);
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
    const best = authoritative(reads)!;
    return this.engine.start({
      type: 'SYNC',
      group: best,
      sites: { source: best.currentPrimarySite.name, target: best.secondarySite.name },
      params: { force: input.force },
      requestedBy: ctx ? null : 'coordinator (site returned)',
    });
  }

  private async serviceGroup(id: string): Promise<GroupView> {
    const reads = await Promise.all(
      this.sites().map(async (s) => readReplica(await this.client(s.name), id)),
    );
    const group = authoritative(reads);
    if (!group) throw new ProtectorError('NOT_FOUND', `Protection Group '${id}' does not exist.`);
    return { id, group, reads };
  }

  async recoveryPoints(ctx: CallerTokens, idOrName: string, siteName?: string | null): Promise<Json[]> {
    const view = await this.getGroup(ctx, idOrName);
    const c = await this.client(siteName ?? view.group.secondarySite.name);
    const data = await c.request<Record<string, { recoveryPoints: Json[] }>>(
      `query($id: ID!) { ${c.site.key} { recoveryPoints(protectionGroupId: $id) { name createdAt completedAt progress complete } } }`,
      { id: view.id },
      this.tokenFor(ctx, c.site),
    );
    return data[c.site.key]!.recoveryPoints;
  }

  async operationVisible(ctx: CallerTokens, op: OperationRecord): Promise<boolean> {
    try {
      await this.getGroup(ctx, op.protectionGroupId);
      return true;
    } catch (err) {
      if (isProtectorError(err, 'NOT_FOUND')) {
        // A deleted group's operations stay visible to admins.
        for (const s of this.sites()) {
          const who = await this.caller(ctx, s).catch(() => null);
          if (who?.roles.includes('admin')) return true;
        }
        return false;
      }
      throw err;
    }
  }

  // ---- health ----

  /** Checks every site once; publishes changes; re-syncs groups of a site that came back. */
  async checkHealth(): Promise<void> {
    await Promise.all(this.sites().map((s) => this.checkSite(s)));
  }

  private async checkSite(site: SiteRecord): Promise<void> {
    const client = await this.client(site.name);
    const t0 = Date.now();
    let next: SiteHealth;
    try {
      const data = await client.request<Record<string, Json>>(
        `{ ${site.key} { version storage { driver arrays { reachable } replicationLink { state }
           replicationGroups { lagSeconds rpoMinutes rpoCompliance protectionGroup { id } } } } }`,
        {},
        null,
        Math.min(this.opts.siteTimeoutMs, 5000),
      );
      const state = data[site.key]!;
      const storage = state.storage as Json;
      const groups = (storage.replicationGroups as Json[]).map((g) => ({
        id: String((g.protectionGroup as Json | null)?.id ?? ''),
        lagSeconds: (g.lagSeconds as number | null) ?? null,
        rpoMinutes: (g.rpoMinutes as number | null) ?? null,
        rpoCompliance: String(g.rpoCompliance),
      }));
      const link = String((storage.replicationLink as Json).state);
      const storageReachable = (storage.arrays as Json[]).every((a) => a.reachable);
      const issues = [
        ...(link !== 'CONNECTED'
          ? [healthIssue('REPLICATION_LINK_DOWN', `Replication link is ${link}.`)]
          : []),
        ...(!storageReachable ? [healthIssue('STORAGE_UNREACHABLE', 'An array is unreachable.')] : []),
        ...groups
          .filter((g) => g.rpoCompliance === 'VIOLATED')
          .map((g) =>
            healthIssue(
              'RPO_VIOLATED',
              `Replication lag ${g.lagSeconds} s exceeds the RPO of ${g.rpoMinutes} min.`,
              { protectionGroupId: g.id },
            ),
          ),
      ];
      next = {
        status: storageReachable && link === 'CONNECTED' ? 'ACTIVE' : 'DEGRADED',
        checkedAt: new Date(),
        latencyMs: Date.now() - t0,
        version: String(state.version),
        storageDriver: String(storage.driver),
        storageReachable,
        linkState: link,
        groups,
        issues,
      };
    } catch (err) {
      next = {
        ...UNKNOWN_HEALTH,
        status: 'UNREACHABLE',
        checkedAt: new Date(),
        issues: [healthIssue('SITE_UNREACHABLE', (err as Error).message)],
      };
    }
    const previous = this.health.get(site.name)?.status ?? null;
    this.health.set(site.name, next);
    if (previous !== next.status) {
      const event: SiteHealthEvent = {
        occurredAt: new Date().toISOString(),
        site: site.name,
        status: next.status,
        previousStatus: previous,
      };
      this.healthEvents.publish(event);
      if (previous === 'UNREACHABLE' && next.status !== 'UNREACHABLE') {
        this.opts.log('INFO', `site ${site.name} is back; re-syncing its Protection Groups`);
        void this.resyncSite(site);
      }
    }
  }

  /** Starts a SYNC for every group whose copies differ, after a site returned. */
  async resyncSite(site: SiteRecord): Promise<string[]> {
    const started: string[] = [];
    try {
      const groups = await listReplicas(await this.client(site.name), null);
      for (const g of groups) {
        const reads = await this.serviceReads(g);
        if (syncState(reads) !== 'OUT_OF_SYNC') continue;
        try {
          const op = await this.syncProtectionGroup(null, { protectionGroup: g.id, force: false });
          started.push(op.id);
        } catch (err) {
          if (!isProtectorError(err, 'OPERATION_IN_PROGRESS')) throw err;
        }
      }
    } catch (err) {
      this.opts.log('WARNING', `re-sync of site ${site.name} failed: ${(err as Error).message}`);
    }
    return started;
  }
}
