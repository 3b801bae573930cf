/**
 * The coordinator: the site registry (`site-registry.ts`) and Protection Groups
 * (`protection-groups.ts`) plus cross-site operations: their preconditions and start (run by the
 * engine), recovery points, who may see an operation, and the automatic re-sync of a site that
 * returns.
 */

import {
  defaultTestNetworkCidr,
  isProtectorError,
  type Json,
  ProtectorError,
  testNetworkProblem,
} from '@protector/schema';
import { OperationEngine } from './engine.js';
import { OperationEventBus } from './events.js';
import { RecoveryPointsDocument, ReplicaHeadsDocument } from './generated/site-documents.js';
import { GroupChanges } from './group-changes.js';
import { FORCED_CLEANUP_STATUSES, type GroupStatus, type OperationSites, START_STATUSES } from './plans.js';
import {
  authoritative,
  listReplicas,
  peerUnreachable,
  type ReplicaHead,
  readReplica,
  syncState,
} from './replicas.js';
import { SERVICE } from './site-client.js';
import type { CallerTokens, CoordinatorOptions, GroupView } from './site-registry.js';
import type { OperationRecord, OperationType, SiteRecord } from './store.js';

export type {
  CallerTokens,
  CoordinatorOptions,
  GroupView,
  SiteHealth,
  SiteHealthEvent,
  SiteStatus,
} from './site-registry.js';

export class Coordinator extends GroupChanges {
  readonly events = new OperationEventBus();
  readonly engine: OperationEngine;

  constructor(opts: CoordinatorOptions) {
    super(opts);
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
    this.monitor.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.monitor.stop();
    for (const timer of this.resyncLater.values()) clearTimeout(timer);
    this.resyncLater.clear();
    await this.engine.stop();
  }

  /** Re-syncs of a returned site waiting for its groups' running operations, by site name. */
  private readonly resyncLater = new Map<string, ReturnType<typeof setTimeout>>();
  private stopping = false;

  // ---- operations ----

  protected async startOperation(
    ctx: CallerTokens,
    view: GroupView,
    type: OperationType,
    sites: OperationSites,
    params: Json,
    extra: { requireBoth: boolean; extraSteps?: { key: string; name: string; site: string | null }[] },
  ): Promise<OperationRecord> {
    // The caller acts on the group at both of its sites; an unplanned failover, which runs with the
    // primary site gone, at the surviving (target) site.
    this.authorize(view, type, type === 'UNPLANNED_FAILOVER' ? [sites.target] : undefined);
    const who = await this.caller(ctx, (await this.client(sites.target)).site);
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
    return this.engine.start({
      type,
      group: best,
      sites,
      params,
      requestedBy: `${who.userName}@${sites.target}`,
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
    this.checkMappings(
      view,
      (input.resourceMappings ?? []) as { sourceSite?: unknown; targetSite?: unknown }[],
    );
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

  protected async requireRecoveryPoint(ctx: CallerTokens, view: GroupView, name: string): Promise<void> {
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
    this.checkMappings(
      view,
      (input.resourceMappings ?? []) as { sourceSite?: unknown; targetSite?: unknown }[],
    );
    if (!view.group.members.length)
      throw new ProtectorError(
        'INVALID_STATE',
        `'${view.group.name}' has no members; add a VM before a drill.`,
      );
    // Every recovered server gets a port on the drill network.
    const servers = view.group.members.length;
    const cidrProblem = input.testNetworkCidr ? testNetworkProblem(input.testNetworkCidr, servers) : null;
    if (cidrProblem) throw new ProtectorError('BAD_USER_INPUT', `testNetworkCidr: ${cidrProblem}.`);
    if (input.recoveryPoint) await this.requireRecoveryPoint(ctx, view, input.recoveryPoint);
    // A pod mirrors every write: its drill recovers the current copy, no replicated point needed.
    else if (
      view.group.replicationType !== 'SYNC' &&
      !(await this.recoveryPoints(ctx, view.id, view.group.secondarySite.name)).some((p) => p.complete)
    ) {
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
        testNetworkCidr: input.testNetworkCidr ?? defaultTestNetworkCidr(servers),
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
    this.checkMappings(
      view,
      (input.resourceMappings ?? []) as { sourceSite?: unknown; targetSite?: unknown }[],
    );
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
    if (ctx) this.authorize(view, 'Syncing a Protection Group');
    const who = ctx
      ? await this.caller(ctx, (await this.client(view.group.currentPrimarySite.name)).site)
      : null;
    const reads = await this.serviceReads(view.group);
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
    const best = authoritative(reads)!;
    return this.engine.start({
      type: 'SYNC',
      group: best,
      sites: { source: best.currentPrimarySite.name, target: best.secondarySite.name },
      params: { force: input.force },
      requestedBy: who
        ? `${who.userName}@${view.group.currentPrimarySite.name}`
        : 'coordinator (site returned)',
    });
  }

  protected async serviceGroup(id: string): Promise<GroupView> {
    const reads = await Promise.all(
      this.sites().map(async (s) => readReplica(await this.client(s.name), id, SERVICE)),
    );
    const group = authoritative(reads);
    if (!group) throw new ProtectorError('NOT_FOUND', `Protection Group '${id}' does not exist.`);
    return { id, group, reads };
  }

  async recoveryPoints(ctx: CallerTokens, idOrName: string, siteName?: string | null): Promise<Json[]> {
    const view = await this.getGroup(ctx, idOrName);
    const c = await this.client(siteName ?? view.group.secondarySite.name);
    const here = await c.query(
      RecoveryPointsDocument,
      { protectionGroupId: view.id },
      this.credential(ctx, c.site),
    );
    return here.recoveryPoints;
  }

  /**
   * The caller may act on an operation (cancel, resume): as on its group when it was started (both
   * sites; the target site for an unplanned failover), or as an admin once the group is gone.
   */
  async authorizeOperation(ctx: CallerTokens, op: OperationRecord): Promise<void> {
    let view: GroupView;
    try {
      view = await this.getGroup(ctx, op.protectionGroupId);
    } catch (err) {
      if (isProtectorError(err, 'NOT_FOUND') && (await this.operationVisible(ctx, op))) return;
      throw err;
    }
    this.authorize(
      view,
      `Acting on operation ${op.id}`,
      op.type === 'UNPLANNED_FAILOVER' && op.targetSite ? [op.targetSite] : undefined,
    );
  }

  /**
   * Which operations of the journal the caller may see, decided with one listing of its groups: those
   * of the groups it sees; an admin also sees those of deleted groups.
   */
  async visibleOperations(ctx: CallerTokens): Promise<(op: OperationRecord) => boolean> {
    const groups = new Set((await this.groupHeads(ctx)).map((v) => v.id));
    const admin = await this.isAdminAnywhere(ctx);
    return (op) => admin || groups.has(op.protectionGroupId);
  }

  /** Whether the caller holds the admin role at any registered site. */
  protected async isAdminAnywhere(ctx: CallerTokens): Promise<boolean> {
    for (const s of this.sites()) {
      const who = await this.caller(ctx, s).catch(() => null);
      if (who?.roles.includes('admin')) return true;
    }
    return false;
  }

  async operationVisible(ctx: CallerTokens, op: OperationRecord): Promise<boolean> {
    try {
      await this.groupHead(ctx, op.protectionGroupId);
      return true;
    } catch (err) {
      if (isProtectorError(err, 'NOT_FOUND')) {
        // A deleted group's operations stay visible to admins.
        return this.isAdminAnywhere(ctx);
      }
      throw err;
    }
  }

  // ---- health ----

  /**
   * Starts a SYNC for every group whose copies differ, after a site returned. Every site's replicas are
   * listed once, heads only (a page of 500 at a time), and compared by metadata version: the cost is a
   * few pages per site whatever the number of groups, plus the syncs (each reads its group in full).
   */
  async resyncSite(site: SiteRecord): Promise<string[]> {
    const started: string[] = [];
    const busy: string[] = [];
    try {
      const heads = new Map<string, Map<string, ReplicaHead>>();
      await Promise.all(
        this.sites().map(async (s) => {
          const listed = await listReplicas(await this.client(s.name), SERVICE, {}, ReplicaHeadsDocument);
          heads.set(s.name, new Map(listed.map((r) => [r.id, r])));
        }),
      );
      for (const g of heads.get(site.name)?.values() ?? []) {
        const reads = [g.currentPrimarySite.name, g.secondarySite.name].map((name) => ({
          site: name,
          replica: heads.get(name)?.get(g.id) ?? null,
          error: null,
        }));
        if (syncState(reads) !== 'OUT_OF_SYNC') continue;
        try {
          const op = await this.syncProtectionGroup(null, { protectionGroup: g.id, force: false });
          started.push(op.id);
        } catch (err) {
          if (!isProtectorError(err, 'OPERATION_IN_PROGRESS')) throw err;
          busy.push(g.name);
        }
      }
    } catch (err) {
      this.opts.log('WARNING', `re-sync of site ${site.name} failed: ${(err as Error).message}`);
    }
    // A group whose operation was still running (an unplanned failover that went on without this
    // site) is out of sync once it ends: look again, until no group of the site waits for one.
    clearTimeout(this.resyncLater.get(site.name));
    this.resyncLater.delete(site.name);
    if (busy.length && !this.stopping) {
      const seconds = Math.max(1, Math.round(this.opts.healthIntervalMs / 1000));
      this.opts.log(
        'INFO',
        `re-sync of site ${site.name}: ${busy.join(', ')} still running an operation; looking again in ${seconds} s`,
      );
      const timer = setTimeout(() => {
        this.resyncLater.delete(site.name);
        void this.resyncSite(site);
      }, seconds * 1000);
      timer.unref?.();
      this.resyncLater.set(site.name, timer);
    }
    return started;
  }
}
