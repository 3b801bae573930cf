/**
 * The coordinator subgraph (served in-process by the gateway): resolvers of the coordinator SDL over
 * the Coordinator, and the event sources of its subscriptions.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { InFlight, mapEvents, SKIP_EVENT } from '@protector/platform';
import {
  coordinatorSubgraphSdl,
  DateTimeScalar,
  type HealthIssue,
  healthIssue,
  type Json,
  ProtectorError,
  rpoCompliance,
} from '@protector/schema';
import { type GraphQLSchema, parse } from 'graphql';
import type { CallerTokens, Coordinator, GroupView, SiteHealth } from './coordinator.js';
import { type OperationEvent, percentComplete, snapshotEvent } from './events.js';
import { type TenantMappingInput, TenantMappingsDocument } from './generated/site-documents.js';
import { type ReplicaHead, type ReplicaRead, syncState } from './replicas.js';
import { authorityOf } from './site-registry.js';
import { type OperationRecord, type SiteRecord, TERMINAL_STATUSES } from './store.js';

const site = (name: string | null) => (name ? { __typename: 'Site', name } : null);

/** A page size the API accepts (1 to 500). */
function pageSize(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > 500) {
    throw new ProtectorError('BAD_USER_INPUT', `first must be between 1 and 500, got ${first}.`);
  }
  return first;
}

function page<T extends { id: string }>(all: readonly T[], first = 50, after?: string | null) {
  pageSize(first);
  let start = 0;
  if (after) {
    const i = all.findIndex((x) => x.id === after);
    if (i < 0)
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `Cursor '${after}' is not in this list; start again without after.`,
      );
    start = i + 1;
  }
  const nodes = all.slice(start, start + first);
  return {
    nodes,
    edges: nodes.map((node) => ({ cursor: node.id, node })),
    pageInfo: { hasNextPage: start + first < all.length, endCursor: nodes.at(-1)?.id ?? null },
    totalCount: all.length,
  };
}

function operationPage(ops: readonly OperationRecord[], first: number, after?: string | null) {
  const p = page(ops, first, after);
  return {
    ...p,
    nodes: p.nodes.map(operationJson),
    edges: p.nodes.map((o) => ({ cursor: o.id, node: operationJson(o) })),
  };
}

export function operationJson(op: OperationRecord): Json {
  const current =
    op.steps.find((s) => s.status === 'RUNNING') ?? op.steps.find((s) => s.status === 'FAILED') ?? null;
  return {
    __typename: 'Operation',
    id: op.id,
    type: op.type,
    status: op.status,
    protectionGroup: { __typename: 'ProtectionGroup', id: op.protectionGroupId },
    sourceSite: site(op.sourceSite),
    targetSite: site(op.targetSite),
    recoveryPoint: op.recoveryPoint,
    percentComplete: percentComplete(op),
    currentStep: current ? stepJson(current) : null,
    steps: op.steps.map(stepJson),
    stepsCompleted: op.steps.filter((s) => s.status === 'SUCCEEDED' || s.status === 'SKIPPED').length,
    stepsFailed: op.steps.filter((s) => s.status === 'FAILED').length,
    stepsTotal: op.steps.length,
    members: op.members.map((m) => ({ ...m, site: site(m.site) })),
    error: op.error,
    requestedBy: op.requestedBy,
    createdAt: op.createdAt,
    startedAt: op.startedAt,
    finishedAt: op.finishedAt,
  };
}

const stepJson = (s: OperationRecord['steps'][number]) => ({
  key: s.key,
  name: s.name,
  site: site(s.site),
  status: s.status,
  attempt: s.attempt,
  startedAt: s.startedAt,
  finishedAt: s.finishedAt,
  error: s.error,
});

/** The payload of `OperationEvent` for one event. */
const eventJsons = new WeakMap<OperationEvent, Json>();

/**
 * An event as the API's `OperationEvent`: one object per event, which every subscriber receives (so
 * subscribers with the same selection and authority share its execution; see `resolveEvent`).
 */
export function operationEventJson(e: OperationEvent): Json {
  let json = eventJsons.get(e);
  if (!json) {
    json = toOperationEventJson(e);
    eventJsons.set(e, json);
  }
  return json;
}

function toOperationEventJson(e: OperationEvent): Json {
  const step = e.stepIndex === null ? null : e.operation.steps.find((s) => s.index === e.stepIndex);
  const member = e.memberId ? e.operation.members.find((m) => m.memberId === e.memberId) : null;
  return {
    sequence: e.sequence,
    kind: e.kind,
    occurredAt: e.occurredAt,
    operation: { __typename: 'Operation', id: e.operationId },
    status: e.status,
    percentComplete: e.percentComplete,
    step: step ? stepJson(step) : null,
    member: member ? { ...member, site: site(member.site) } : null,
    message: e.message,
  };
}

function siteJson(c: Coordinator, s: SiteRecord): Json {
  const h = c.siteHealth(s.name);
  return {
    __typename: 'Site',
    name: s.name,
    key: s.key,
    description: s.description,
    url: s.url,
    authUrl: s.authUrl,
    status: h.status,
    version: h.version,
    storageDriver: h.storageDriver,
    registeredAt: s.registeredAt,
  };
}

/** The newest replicated point either copy knows of (the target site records arrivals). */
function lastReplicationAt(v: GroupView): string | null {
  const times = v.reads
    .map((r) => r.replica?.lastReplicationAt as string | null | undefined)
    .filter((t): t is string => !!t);
  return times.sort().at(-1) ?? (v.group.lastReplicationAt as string | null | undefined) ?? null;
}

/**
 * One group's replication health, from what the request read: its lag is the age of the newest point
 * replicated to its target (each site's replication monitor records arrivals on its replica); a sync
 * group (pod) is not behind while its secondary site's replication link is connected.
 */
function groupHealth(c: Coordinator, v: GroupView): Json {
  const g = v.group;
  const secondaryHealth = c.siteHealth(g.secondarySite.name);
  const rpo = (g.policy?.rpoMinutes as number | undefined) ?? null;
  const last = lastReplicationAt(v);
  const lag =
    g.replicationType === 'SYNC' && secondaryHealth.linkState === 'CONNECTED'
      ? 0
      : last
        ? Math.max(0, Math.round((Date.now() - Date.parse(last)) / 1000))
        : null;
  const compliance = rpoCompliance(lag, rpo);
  const sync = syncState(v.reads);
  const issues: HealthIssue[] = [];
  const about = { protectionGroupId: g.id };
  if (sync !== 'IN_SYNC')
    issues.push(
      sync === 'UNREACHABLE'
        ? healthIssue('SITE_UNREACHABLE', `Metadata is ${sync}.`, { ...about, severity: 'WARNING' })
        : healthIssue('OUT_OF_SYNC', `Metadata is ${sync}.`, about),
    );
  if (compliance === 'VIOLATED')
    issues.push(
      healthIssue('RPO_VIOLATED', `Replication lag ${lag} s exceeds the RPO of ${rpo} min.`, about),
    );
  if (!last) issues.push(healthIssue('NO_RECOVERY_POINT', 'No replicated recovery point yet.', about));
  if (secondaryHealth.status === 'UNREACHABLE')
    issues.push(
      healthIssue('SITE_UNREACHABLE', `Secondary site '${g.secondarySite.name}' is unreachable.`, about),
    );
  const readiness =
    secondaryHealth.status === 'UNREACHABLE' || !last || !g.members.length
      ? 'NOT_READY'
      : issues.length
        ? 'DEGRADED'
        : 'READY';
  return {
    protectionGroup: { __typename: 'ProtectionGroup', id: g.id },
    replicationLagSeconds: lag,
    rpoMinutes: rpo,
    rpoCompliance: compliance,
    lastRecoveryPointAt: last,
    failoverReadiness: readiness,
    issues: issues.map(issueJson),
  };
}

/** A health issue as the API shows it: its group as an entity reference. */
const issueJson = ({ protectionGroupId, ...issue }: HealthIssue): Json => ({
  ...issue,
  protectionGroup: protectionGroupId ? { id: protectionGroupId } : null,
});

/**
 * A site's health as the caller may see it: the site's own state from the last health check, and
 * the lag, RPO compliance and issues of the caller's groups replicating to it (`views`, read with
 * the caller's tokens), never another tenant's.
 */
function siteHealthJson(c: Coordinator, s: SiteRecord, views: readonly GroupView[]): Json {
  const h: SiteHealth = c.siteHealth(s.name);
  const groups = views.filter((v) => v.group.secondarySite.name === s.name).map((v) => groupHealth(c, v));
  const lags = groups.map((g) => g.replicationLagSeconds).filter((x): x is number => typeof x === 'number');
  const compliance = groups.map((g) => g.rpoCompliance);
  return {
    reachable: h.status !== 'UNREACHABLE' && h.status !== 'UNKNOWN',
    checkedAt: h.checkedAt,
    latencyMs: h.latencyMs,
    storageReachable: h.storageReachable,
    replicationLinkState: h.linkState,
    maxReplicationLagSeconds: lags.length ? lags.reduce((a, b) => Math.max(a, b)) : null,
    rpoCompliance: compliance.includes('VIOLATED')
      ? 'VIOLATED'
      : compliance.includes('COMPLIANT')
        ? 'COMPLIANT'
        : 'UNKNOWN',
    failoverReadiness:
      h.status === 'UNREACHABLE'
        ? 'NOT_READY'
        : groups.some((g) => g.failoverReadiness !== 'READY')
          ? 'DEGRADED'
          : h.status === 'ACTIVE'
            ? 'READY'
            : 'UNKNOWN',
    protectionGroups: groups,
    issues: [
      ...h.issues.map(issueJson),
      ...groups.flatMap((g) => (g.issues as Json[]).filter((i) => i.code === 'RPO_VIOLATED')),
    ],
  };
}

/** Resolvers of `ProtectionGroup` fields the coordinator owns, from a GroupView. */
const groupResolvers = (c: Coordinator) => ({
  async __resolveReference(ref: { id: string }, ctx: CallerTokens) {
    try {
      return await c.getGroup(ctx, ref.id);
    } catch (err) {
      if (err instanceof ProtectorError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  },
  name: (v: GroupView) => v.group.name,
  description: (v: GroupView) => v.group.description ?? null,
  projectId: (v: GroupView) => v.group.projectId,
  replicationType: (v: GroupView) => v.group.replicationType,
  status: (v: GroupView) => v.group.status,
  syncStatus: (v: GroupView) => syncState(v.reads),
  currentPrimarySite: (v: GroupView) => site(v.group.currentPrimarySite.name),
  secondarySite: (v: GroupView) => site(v.group.secondarySite.name),
  metadataVersion: (v: GroupView) => v.group.metadataVersion,
  lastSyncedAt: (v: GroupView) => v.group.lastSyncedAt ?? null,
  lastReplicationAt: (v: GroupView) => lastReplicationAt(v),
  volumeType: (v: GroupView) => v.group.volumeType,
  storageGroupName: (v: GroupView) => v.group.storageGroupName,
  policy: (v: GroupView) => v.group.policy,
  members: (v: GroupView) => v.group.members,
  resourceMappings: (v: GroupView) => v.group.resourceMappings,
  createdAt: (v: GroupView) => v.group.createdAt,
  updatedAt: (v: GroupView) => v.group.updatedAt,
  health: (v: GroupView) => groupHealth(c, v),
  replicas: (v: GroupView) =>
    v.reads.map((r: ReplicaRead) => ({
      site: site(r.site),
      role: r.site === v.group.currentPrimarySite.name ? 'PRIMARY' : 'SECONDARY',
      reachable: !r.error || r.error.code !== 'SITE_UNREACHABLE',
      replica: r.replica,
      error: r.error ? { code: r.error.code, message: r.error.message, retryable: r.error.retryable } : null,
    })),
  async operations(v: GroupView, args: { first?: number; after?: string | null }) {
    return operationPage(
      await c.engineStore().listOperations({ protectionGroupId: v.id }),
      args.first ?? 20,
      args.after,
    );
  },
  async activeOperation(v: GroupView) {
    const [op] = await c.engineStore().listOperations({ protectionGroupId: v.id, active: true });
    return op ? operationJson(op) : null;
  },
});

export interface CoordinatorSchema {
  readonly schema: GraphQLSchema;
  /** Event source of a coordinator subscription root field. */
  subscribe(field: string, args: Json, ctx: CallerTokens): Promise<AsyncIterable<Json>>;
  /** The check of each subscriber of a field whose subscribers may share its events; null: not shared. */
  admission(field: string): ((args: Json, ctx: CallerTokens) => Promise<void>) | null;
}

export function buildCoordinatorSchema(c: Coordinator): CoordinatorSchema {
  const store = c.engineStore();

  const operation = async (ctx: CallerTokens, id: string) => {
    const op = await store.getOperation(id);
    if (!op || !(await c.operationVisible(ctx, op))) return null;
    return op;
  };

  /** A `ProtectionGroup` reference (`{ id }`) inside the coordinator resolved to its view; null when gone. */
  const groupOf = async (ref: { id: string } | GroupView | null, ctx: CallerTokens) => {
    if (!ref || 'group' in ref) return ref;
    try {
      return await c.getGroup(ctx, ref.id);
    } catch (err) {
      if (err instanceof ProtectorError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  };
  const withGroup = {
    protectionGroup: (parent: { protectionGroup: { id: string } | null }, _: unknown, ctx: CallerTokens) =>
      groupOf(parent.protectionGroup, ctx),
  };

  /** A site's health as the caller may see it (its own groups, read with its tokens). */
  const healthOf = async (name: string, ctx: CallerTokens) => {
    const record = c.sites().find((x) => x.name === name);
    if (!record) return siteHealthJson(c, { name } as SiteRecord, []);
    return siteHealthJson(c, record, await c.listGroups(ctx).catch(() => []));
  };

  /** The group's newest successful DR drill. */
  const lastDrill = async (protectionGroupId: string) =>
    (
      await store.listOperations({ protectionGroupId, types: ['TEST_FAILOVER'], statuses: ['SUCCEEDED'] })
    )[0] ?? null;

  const resolvers = {
    DateTime: DateTimeScalar,
    ProtectionGroupHealth: {
      ...withGroup,
      lastTestedAt: async (h: { protectionGroup: { id: string } }) =>
        (await lastDrill(h.protectionGroup.id))?.finishedAt ?? null,
      lastTestedRecoveryPoint: async (h: { protectionGroup: { id: string } }) =>
        ((await lastDrill(h.protectionGroup.id))?.recoveryPoint?.name as string | undefined) ?? null,
      // A group never drilled is not known to recover: say so (SREs test before they need it).
      issues: async (h: { protectionGroup: { id: string }; issues: Json[] }) =>
        (await lastDrill(h.protectionGroup.id))
          ? h.issues
          : [
              ...h.issues,
              issueJson(
                healthIssue(
                  'NEVER_TESTED',
                  'No DR drill of this group has succeeded yet; run testFailover to prove it recovers.',
                  { protectionGroupId: h.protectionGroup.id },
                ),
              ),
            ],
    },
    HealthIssue: withGroup,
    ProtectionGroupReplica: withGroup,
    // Read only when selected, with the subscriber's own tokens (its groups, as for `Site.health`).
    SiteHealthEvent: {
      health: (e: { site: Json }, _: unknown, ctx: CallerTokens) => healthOf(String(e.site.name), ctx),
    },
    Query: {
      // The registry shows internal endpoints: only to callers a site's Keystone accepts.
      async sites(_: unknown, __: unknown, ctx: CallerTokens) {
        await c.authenticate(ctx);
        return c.sites().map((s) => siteJson(c, s));
      },
      async site(_: unknown, { name }: { name: string }, ctx: CallerTokens) {
        await c.authenticate(ctx);
        const s = c.sites().find((x) => x.name === name);
        return s ? siteJson(c, s) : null;
      },
      async protectionGroups(
        _: unknown,
        args: { filter?: Json | null; first?: number; after?: string | null },
        ctx: CallerTokens,
      ) {
        const f = args.filter ?? {};
        const first = pageSize(args.first ?? 50);
        const siteFilter = f.name ? { name: String(f.name) } : {};
        // What only the merged group tells is filtered here; the name is filtered by the sites.
        const keep = (v: GroupView<ReplicaHead>) =>
          (!f.status || (f.status as string[]).includes(v.group.status)) &&
          (!f.syncStatus || (f.syncStatus as string[]).includes(syncState(v.reads))) &&
          (!f.projectId || v.group.projectId === f.projectId) &&
          (!f.primarySite || v.group.currentPrimarySite.name === f.primarySite);
        const found = await c.pageGroups(ctx, siteFilter, first, args.after ?? null, keep);
        return {
          edges: found.edges,
          nodes: found.edges.map((e) => e.node),
          pageInfo: found.pageInfo,
          // Counted only when asked for: it reads every site's whole list (what places each group only).
          totalCount: async () => (await c.groupHeads(ctx, siteFilter, keep)).length,
        };
      },
      async protectionGroup(
        _: unknown,
        args: { id?: string | null; name?: string | null },
        ctx: CallerTokens,
      ) {
        if (!!args.id === !!args.name)
          throw new ProtectorError('BAD_USER_INPUT', 'Give exactly one of id or name.');
        try {
          return await c.getGroup(ctx, (args.id ?? args.name)!);
        } catch (err) {
          if (err instanceof ProtectorError && err.code === 'NOT_FOUND') return null;
          throw err;
        }
      },
      async operations(
        _: unknown,
        args: { filter?: Json | null; first?: number; after?: string | null },
        ctx: CallerTokens,
      ) {
        const f = args.filter ?? {};
        const pg = f.protectionGroup ? (await c.getGroup(ctx, String(f.protectionGroup))).id : undefined;
        const all = await store.listOperations({
          protectionGroupId: pg,
          types: f.type as string[] | undefined,
          statuses: f.status as string[] | undefined,
          since: f.since ? new Date(String(f.since)) : undefined,
        });
        // Which groups the caller sees is asked once (not once per operation in the history).
        const visible = await c.visibleOperations(ctx);
        return operationPage(all.filter(visible), args.first ?? 50, args.after);
      },
      async operation(_: unknown, { id }: { id: string }, ctx: CallerTokens) {
        const op = await operation(ctx, id);
        return op ? operationJson(op) : null;
      },
      recoveryPoints: (
        _: unknown,
        args: { protectionGroup: string; site?: string | null },
        ctx: CallerTokens,
      ) => c.recoveryPoints(ctx, args.protectionGroup, args.site),
      async tenantMappings(_: unknown, __: unknown, ctx: CallerTokens) {
        const [first] = c.sites();
        if (!first) return [];
        // Read with the caller's own credential: the site shows them to its admins only.
        const client = await c.client(first.name);
        return (await client.query(TenantMappingsDocument, {}, c.credential(ctx, first))).tenantMappings;
      },
    },
    Mutation: {
      registerSite: async (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        siteJson(c, await c.registerSite(ctx, input as never)),
      unregisterSite: async (_: unknown, { name }: { name: string }, ctx: CallerTokens) =>
        siteJson(c, await c.unregisterSite(ctx, name)),
      async validateSite(_: unknown, { name }: { name: string }, ctx: CallerTokens) {
        const s = c.sites().find((x) => x.name === name);
        if (!s) throw new ProtectorError('NOT_FOUND', `Site '${name}' is not registered.`);
        const res = await c.validateSite(ctx, name);
        return { site: siteJson(c, s), valid: res.valid, checkedAt: new Date(), checks: res.checks };
      },
      createProtectionGroup: (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        c.createProtectionGroup(ctx, input as never),
      deleteProtectionGroup: (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        c.deleteProtectionGroup(ctx, input as never),
      addMember: (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        c.addMember(ctx, input as never),
      addMembers: (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        c.addMembers(ctx, input as never),
      removeMember: (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        c.removeMember(ctx, input as never),
      createReplicationPolicy: (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        c.createReplicationPolicy(ctx, input as never),
      setResourceMappings: (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        c.setResourceMappings(ctx, input as never),
      setTenantMappings: (
        _: unknown,
        { input }: { input: { mappings: TenantMappingInput[] } },
        ctx: CallerTokens,
      ) => c.setTenantMappings(ctx, input.mappings),
      syncProtectionGroup: async (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        operationJson(await c.syncProtectionGroup(ctx, input as never)),
      failover: async (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        operationJson(await c.failover(ctx, input as never)),
      testFailover: async (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        operationJson(await c.testFailover(ctx, input as never)),
      testCleanup: async (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        operationJson(await c.testCleanup(ctx, input as never)),
      failback: async (_: unknown, { input }: { input: Json }, ctx: CallerTokens) =>
        operationJson(await c.failback(ctx, input as never)),
      async cancelOperation(
        _: unknown,
        { input }: { input: { operation: string; rollback: boolean } },
        ctx: CallerTokens,
      ) {
        const op = await operation(ctx, input.operation);
        if (!op) throw new ProtectorError('NOT_FOUND', `Operation '${input.operation}' does not exist.`);
        await c.authorizeOperation(ctx, op);
        return operationJson(await c.engine.cancel(input.operation, input.rollback));
      },
      async resumeOperation(_: unknown, { input }: { input: { operation: string } }, ctx: CallerTokens) {
        const op = await operation(ctx, input.operation);
        if (!op) throw new ProtectorError('NOT_FOUND', `Operation '${input.operation}' does not exist.`);
        await c.authorizeOperation(ctx, op);
        return operationJson(await c.engine.resume(input.operation));
      },
    },
    ProtectionGroup: groupResolvers(c),
    Site: {
      __resolveReference: (ref: { name: string }) => {
        const s = c.sites().find((x) => x.name === ref.name);
        return s
          ? siteJson(c, s)
          : {
              __typename: 'Site',
              name: ref.name,
              key: ref.name,
              url: '',
              authUrl: '',
              status: 'UNKNOWN',
              registeredAt: new Date(0),
            };
      },
      health: (s: Json, _: unknown, ctx: CallerTokens) => healthOf(String(s.name), ctx),
      async role(s: Json, _: unknown, ctx: CallerTokens) {
        const views = await c.listGroups(ctx).catch(() => []);
        const primary = views.some((v) => v.group.currentPrimarySite.name === s.name);
        const secondary = views.some((v) => v.group.secondarySite.name === s.name);
        return primary && secondary ? 'MIXED' : primary ? 'PRIMARY' : secondary ? 'SECONDARY' : 'IDLE';
      },
    },
    Operation: {
      ...withGroup,
      async __resolveReference(ref: { id: string }, ctx: CallerTokens) {
        const op = await operation(ctx, ref.id);
        return op ? operationJson(op) : null;
      },
    },
  };

  const schema = buildSubgraphSchema([
    { typeDefs: parse(coordinatorSubgraphSdl), resolvers: resolvers as never },
  ]);

  /** Whether a caller may see a group's operations, asked once for subscribers with the same tokens. */
  const visibility = new InFlight<boolean>();

  async function subscribe(field: string, args: Json, ctx: CallerTokens): Promise<AsyncIterable<Json>> {
    switch (field) {
      case 'operationProgress': {
        const id = String(args.id);
        let seen: number | null = null;
        const read = operation(ctx, id);
        // Listening starts before the current state is read, so no event falls between the two:
        // the current state first, then every later event; it ends with the operation.
        const source = c.events.subscribe(
          (e) => e.operationId === id && (seen === null || e.sequence > seen),
          {
            first: read.then(
              (op) => {
                if (!op) return [];
                seen = op.sequence;
                return [snapshotEvent(op, `Current state: ${op.status.toLowerCase()}.`)];
              },
              () => [], // refused below
            ),
            last: (e) => TERMINAL_STATUSES.includes(e.status) && e.kind === 'STATUS_CHANGED',
          },
        );
        const op = await read.catch(() => null);
        if (!op) {
          void source.return(undefined);
          await read; // its error, if it failed
          throw new ProtectorError('NOT_FOUND', `Operation '${id}' does not exist or is not visible to you.`);
        }
        return mapEvents(source, async (e) => {
          await c.authenticate(ctx); // a token revoked or expired since ends the stream
          return operationEventJson(e);
        });
      }
      case 'operationEvents': {
        // Listening starts at once; events wait until the group is known, then only its own pass.
        let pg: string | null = null;
        const find = args.protectionGroup
          ? c.getGroup(ctx, String(args.protectionGroup)).then((group) => {
              pg = group.id;
            })
          : Promise.resolve();
        const source = c.events.subscribe((e) => !pg || e.protectionGroupId === pg, {
          first: find.then(
            () => [],
            () => [], // refused below
          ),
        });
        await find.catch((err: unknown) => {
          void source.return(undefined);
          throw err;
        });
        // Every event passes only if the subscriber may see its operation (asked once per group, from
        // the operation the event carries; subscribers with the same tokens share the question while
        // it is in flight, so 10,000 dashboards of 100 users ask it 100 times, not 10,000).
        const visible = new Map<string, Promise<boolean>>();
        return mapEvents(source, async (e) => {
          await c.authenticate(ctx); // a token revoked or expired since ends the stream
          let allowed = visible.get(e.protectionGroupId);
          if (!allowed) {
            allowed = visibility.run(`${authorityOf(ctx)}\u0000${e.protectionGroupId}`, () =>
              c.operationVisible(ctx, e.operation),
            );
            visible.set(e.protectionGroupId, allowed);
          }
          return (await allowed) ? operationEventJson(e) : SKIP_EVENT;
        });
      }
      case 'siteHealth': {
        const wanted = args.site ? String(args.site) : null;
        const known = (name: string) => c.sites().find((x) => x.name === name);
        const matches = (e: { site: string }) => (!wanted || e.site === wanted) && !!known(e.site);
        // The current status of each site first, then every change.
        const now = c.sites().map((s) => ({
          occurredAt: new Date().toISOString(),
          site: s.name,
          status: c.siteHealth(s.name).status,
          previousStatus: null,
        }));
        const source = c.healthEvents.subscribe(matches, { first: now.filter(matches) });
        return mapEvents(source, (e) => {
          const s = known(e.site) ?? ({ name: e.site } as SiteRecord);
          return {
            occurredAt: e.occurredAt,
            site: siteJson(c, s),
            status: e.status,
            previousStatus: e.previousStatus,
          };
        });
      }
      default:
        throw new ProtectorError('BAD_USER_INPUT', `Unknown subscription '${field}'.`);
    }
  }

  /**
   * The check a subscriber of a field whose events subscribers may share must pass (the gateway's
   * shared streams): `operationEvents` gives every subscriber the same events from the
   * moment it subscribes, and needs only that the caller may see the group it names. The other
   * fields start with a snapshot of each subscriber's own (null: not shared).
   */
  function admission(field: string): ((args: Json, ctx: CallerTokens) => Promise<void>) | null {
    if (field !== 'operationEvents') return null;
    return async (args, ctx) => {
      if (args.protectionGroup) await c.getGroup(ctx, String(args.protectionGroup));
    };
  }

  return { schema, subscribe, admission };
}
