/**
 * The site subgraph: the SDL generated from the site template with this site's key, and its resolvers.
 * Reads need a valid token of this site (project members see their project only; storage and the step
 * audit need admin); the step mutations need the service role.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { batchLoader } from '@protector/platform';
import {
  DateTimeScalar,
  isProtectorError,
  type Json,
  ProtectorError,
  rpoCompliance,
  SITE_STEP_NAMES,
  siteSubgraphSdl,
} from '@protector/schema';
import {
  type FieldNode,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  Kind,
  parse,
  type SelectionSetNode,
} from 'graphql';
import { type ProtectionGroupReplica, protectionGroupCursor } from '../db/index.js';
import type { Caller } from './auth.js';
import { canSeeProject, isAdmin, isService, requireAdmin, requireService } from './auth.js';
import { checkCinderBackend } from './cinder-backend.js';
import { type SiteContext, storageRef } from './context.js';
import { pointJson, type ReplicationMonitor, type SiteEvent } from './events.js';
import { replicaToGraphQL } from './metadata.js';
import { networkJson, type SiteSteps, type StepKey, TAG, tenantMappingJson } from './steps.js';

/** Per-request context: who is calling. */
export interface RequestContext {
  readonly caller: Caller;
}

const site = (name: string) => ({ __typename: 'Site', name });
const pgRef = (id: string | null) => (id ? { __typename: 'ProtectionGroup', id } : null);

/** Fields of `set` (through fragments), by name. */
function fieldsOf(
  set: SelectionSetNode | undefined,
  info: GraphQLResolveInfo,
  out: FieldNode[] = [],
): FieldNode[] {
  for (const sel of set?.selections ?? []) {
    if (sel.kind === Kind.FIELD) out.push(sel);
    else if (sel.kind === Kind.INLINE_FRAGMENT) fieldsOf(sel.selectionSet, info, out);
    else fieldsOf(info.fragments[sel.name.value]?.selectionSet, info, out);
  }
  return out;
}

/** The parts of a replica read apart from its group's row, each only when a selection asks for it. */
const REPLICA_PARTS = ['members', 'policy', 'resourceMappings'] as const;

/** The fields a connection's nodes are asked for (under `nodes` and `edges { node }`), by name. */
function nodeFields(info: GraphQLResolveInfo): Set<string> {
  const connection = info.fieldNodes.flatMap((f) => fieldsOf(f.selectionSet, info));
  const nodes = [
    ...connection.filter((f) => f.name.value === 'nodes'),
    ...connection
      .filter((f) => f.name.value === 'edges')
      .flatMap((e) => fieldsOf(e.selectionSet, info).filter((f) => f.name.value === 'node')),
  ];
  return new Set(nodes.flatMap((n) => fieldsOf(n.selectionSet, info)).map((f) => f.name.value));
}

export function buildSiteSchema(
  ctx: SiteContext,
  steps: SiteSteps,
  monitor: Pick<ReplicationMonitor, 'groups'>,
): GraphQLSchema {
  const key = ctx.siteName;
  const { repo, cloud, driver } = ctx;

  /**
   * The replicas of `pgs` the caller may see (null for the others), in their order: members,
   * policies and mappings of all of them in a constant number of queries, whatever their number.
   */
  async function replicasOf(
    pgs: readonly ProtectionGroupReplica[],
    caller: Caller,
    wanted: ReadonlySet<string>,
  ): Promise<(Json | null)[]> {
    const ids = pgs.filter((pg) => canSeeProject(caller, pg.projectId)).map((pg) => pg.id);
    // A selection without members, policy or mappings does not read them.
    const [members, policies, mappings] = await Promise.all([
      wanted.has('members') ? repo.listMembersOf(ids) : new Map(),
      wanted.has('policy') ? repo.getReplicationPolicies(ids) : new Map(),
      wanted.has('resourceMappings') ? repo.listResourceMappingsOf(ids) : new Map(),
    ]);
    return pgs.map((pg) =>
      canSeeProject(caller, pg.projectId)
        ? replicaToGraphQL(key, pg, {
            members: members.get(pg.id) ?? [],
            policy: policies.get(pg.id) ?? null,
            mappings: mappings.get(pg.id) ?? [],
          })
        : null,
    );
  }

  /**
   * One request's replica reads by id, batched: the ids a request asks for in one turn (the entities
   * of a federated fetch) are read together. Keyed by the request's context, so a batch never mixes
   * callers, and by which of members, policy and mappings the selection reads (`info`), so a read of
   * a replica's head (the coordinator checking that a caller sees a group) reads only the group.
   */
  const replicaLoaders = new WeakMap<
    RequestContext,
    Map<string, (id: string) => Promise<Json | null | undefined>>
  >();
  function replica(id: string, request: RequestContext, info: GraphQLResolveInfo): Promise<Json | null> {
    const selected = new Set(
      info.fieldNodes.flatMap((f) => fieldsOf(f.selectionSet, info)).map((f) => f.name.value),
    );
    const parts = REPLICA_PARTS.filter((f) => selected.has(f));
    const loaders: Map<string, (id: string) => Promise<Json | null | undefined>> =
      replicaLoaders.get(request) ?? new Map();
    replicaLoaders.set(request, loaders);
    let load = loaders.get(parts.join());
    if (!load) {
      load = batchLoader(async (ids: readonly string[]) => {
        const pgs = [...(await repo.getProtectionGroups(ids)).values()];
        const read = await replicasOf(pgs, request.caller, new Set(parts));
        return new Map(pgs.map((pg, i) => [pg.id, read[i] ?? null]));
      });
      loaders.set(parts.join(), load);
    }
    return load(id).then((r) => r ?? null);
  }

  async function volumeTypes() {
    const types = await cloud.listVolumeTypes();
    return Promise.all(
      types.map(async (t) => {
        const specs = t.extra_specs ?? (await cloud.getVolumeTypeExtraSpecs(t.id));
        const kind = /^<in>\s*(async|sync)$/i.exec(String(specs.replication_type ?? '').trim())?.[1];
        return {
          id: t.id,
          name: t.name,
          description: t.description,
          replicationEnabled: /^<is>\s*true$/i.test(String(specs.replication_enabled ?? '').trim()),
          replicationType: kind ? kind.toUpperCase() : null,
          isPublic: t.is_public,
        };
      }),
    );
  }

  async function serverJson(
    id: string,
    caller: Caller,
    types?: Awaited<ReturnType<typeof volumeTypes>>,
  ): Promise<Json | null> {
    let s: Awaited<ReturnType<typeof cloud.getServer>>;
    try {
      s = await cloud.getServer(id);
    } catch (err) {
      if (isProtectorError(err, 'NOT_FOUND')) return null;
      throw err;
    }
    if (!canSeeProject(caller, s.tenant_id)) return null;
    const vts = types ?? (await volumeTypes());
    const attachments = await cloud.listVolumeAttachments(s.id);
    const volumes = await Promise.all(
      attachments.map(async (a) => {
        const v = await cloud.getVolume(a.volumeId);
        const vt = vts.find((t) => t.name === v.volume_type || t.id === v.volume_type);
        return {
          id: v.id,
          name: v.name,
          sizeGb: v.size,
          status: v.status,
          volumeType: v.volume_type,
          bootable: v.bootable === 'true',
          deviceName: a.device,
          replicationEnabled: vt?.replicationEnabled ?? false,
        };
      }),
    );
    const flavor = s.flavor;
    return {
      id: s.id,
      name: s.name,
      status: s.status,
      projectId: s.tenant_id,
      flavor: flavor?.id
        ? {
            id: flavor.id,
            name: flavor.original_name ?? flavor.id,
            vcpus: flavor.vcpus ?? 0,
            ramMb: flavor.ram ?? 0,
            diskGb: flavor.disk ?? 0,
          }
        : null,
      image:
        s.image && typeof s.image === 'object'
          ? { id: s.image.id, name: s.image.id, status: 'active', minDiskGb: null }
          : null,
      volumes,
      networks: Object.entries(s.addresses ?? {}).map(([name, addrs]) => ({
        networkId: name,
        networkName: name,
        addresses: addrs.map((a) => a.addr),
      })),
      protectionGroup: pgRef(s.metadata?.[TAG.pg] ?? null),
      createdAt: s.created,
    };
  }

  /** How many of the groups the caller may see have this site as primary, and how many the peer. */
  const visibleCounts = async (caller: Caller) => {
    const all = isAdmin(caller) || isService(caller);
    const bySite = await repo.countProtectionGroupsByPrimarySite(
      all ? {} : { projectId: caller.projectId ?? [] },
    );
    const total = [...bySite.values()].reduce((a, n) => a + n, 0);
    const primary = bySite.get(key) ?? 0;
    return { primary, secondary: total - primary };
  };

  const siteState = {
    key: () => key,
    name: () => key,
    version: () => ctx.version,
    status: () => 'ACTIVE',
    authUrl: () => ctx.authUrl,
    startedAt: () => ctx.startedAt,
    // The site's role and counts over the groups the caller may see (a tenant learns nothing of others).
    async role(_: unknown, __: unknown, { caller }: RequestContext) {
      const { primary, secondary } = await visibleCounts(caller);
      return primary && secondary ? 'MIXED' : primary ? 'PRIMARY' : secondary ? 'SECONDARY' : 'IDLE';
    },
    async primaryProtectionGroupCount(_: unknown, __: unknown, { caller }: RequestContext) {
      return (await visibleCounts(caller)).primary;
    },
    async secondaryProtectionGroupCount(_: unknown, __: unknown, { caller }: RequestContext) {
      return (await visibleCounts(caller)).secondary;
    },
    async storage(_: unknown, __: unknown, { caller }: RequestContext) {
      requireAdmin(caller, 'Storage state');
      const validation = await driver.validate();
      const infos = driver.arrays();
      // What the replication monitor knows of every group (no array request per group), read only
      // when selected (the coordinator's health checks do not: they cost the same at 10 or 10,000 groups).
      const replicationGroups = async () =>
        (await monitor.groups()).map((g) => ({
          name: g.name,
          kind: g.pg.replicationType === 'async' ? 'PROTECTION_GROUP' : 'POD',
          protectionGroup: pgRef(g.pg.id),
          lagSeconds: g.lagSeconds,
          lastRecoveryPoint: g.lastPoint ? pointJson(g.lastPoint) : null,
          rpoMinutes: g.policy?.rpoMinutes ?? null,
          rpoCompliance: rpoCompliance(g.lagSeconds, g.policy?.rpoMinutes ?? null),
          replicationIntervalSeconds: g.policy?.replicationIntervalSeconds ?? null,
        }));
      return {
        driver: driver.name.toUpperCase(),
        arrays: validation.arrays.map((a) => ({
          name: a.array,
          role: a.role === 'primary' ? 'LOCAL' : 'PEER',
          url: driver.name === 'pure' ? a.endpoint : null,
          reachable: a.reachable && a.authenticated,
          apiVersion: infos.find((i) => i.name === a.array)?.version ?? null,
          error: a.error
            ? {
                code: a.reachable ? 'STORAGE_AUTH_FAILED' : 'STORAGE_UNREACHABLE',
                message: a.error,
                retryable: true,
              }
            : null,
        })),
        replicationLink: {
          state: validation.link.toUpperCase(),
          localArray: ctx.localArray,
          remoteArray: ctx.peerArray,
          type: 'async-replication',
          checkedAt: new Date(),
        },
        replicationGroups,
      };
    },
    async protectionGroupReplicas(
      _: unknown,
      args: { filter?: Json | null; first?: number; after?: string | null },
      { caller }: RequestContext,
      info: GraphQLResolveInfo,
    ) {
      const f = args.filter ?? {};
      const projectId =
        isAdmin(caller) || isService(caller)
          ? ((f.projectId as string | undefined) ?? undefined)
          : (caller.projectId ?? '-');
      if (!isAdmin(caller) && !isService(caller) && f.projectId && f.projectId !== caller.projectId) {
        throw new ProtectorError(
          'FORBIDDEN',
          `You can only list Protection Groups of your own project (${caller.projectId}).`,
        );
      }
      const page = await repo.listProtectionGroups(
        {
          projectId,
          status: (f.status as string[] | undefined)?.map((s) => s.toLowerCase() as never),
          name: (f.name as string | undefined) ?? undefined,
        },
        { first: args.first ?? 50, after: args.after ?? undefined },
      );
      const nodes = await replicasOf(page.nodes, caller, nodeFields(info));
      // An edge's cursor is the list's own (name, id) position: the same group has the same cursor on
      // every site, so a caller (the coordinator) can continue any site's list after any group.
      const edges = page.nodes
        .map((pg, i) => ({ cursor: protectionGroupCursor(pg), node: nodes[i] }))
        .filter((e): e is { cursor: string; node: Json } => !!e.node && (!f.role || e.node.role === f.role));
      const visible = edges.map((e) => e.node);
      return {
        nodes: visible,
        edges,
        pageInfo: page.pageInfo,
        totalCount: page.totalCount,
      };
    },
    protectionGroupReplica: (
      _: unknown,
      { id }: { id: string },
      request: RequestContext,
      info: GraphQLResolveInfo,
    ) => replica(id, request, info),
    cinderBackend(_: unknown, __: unknown, { caller }: RequestContext) {
      requireAdmin(caller, "The Cinder backend's state");
      return checkCinderBackend(cloud, ctx.cinderHost);
    },
    volumeTypes: () => volumeTypes(),
    async servers(_: unknown, { filter }: { filter?: Json | null }, { caller }: RequestContext) {
      const f = filter ?? {};
      const project =
        isAdmin(caller) || isService(caller)
          ? ((f.projectId as string | undefined) ?? null)
          : caller.projectId;
      if (!isAdmin(caller) && !isService(caller) && f.projectId && f.projectId !== caller.projectId) {
        throw new ProtectorError(
          'FORBIDDEN',
          `You can only list servers of your own project (${caller.projectId}).`,
        );
      }
      const list = await cloud.listServers({ allTenants: true, ...(project ? { projectId: project } : {}) });
      const types = await volumeTypes();
      const wanted = list.filter(
        (s) =>
          (!f.name || s.name.includes(String(f.name))) &&
          (!f.status || s.status === f.status) &&
          (!(f.ids as string[] | undefined)?.length || (f.ids as string[]).includes(s.id)),
      );
      return (await Promise.all(wanted.map((s) => serverJson(s.id, caller, types)))).filter(Boolean);
    },
    server: (_: unknown, { id }: { id: string }, { caller }: RequestContext) => serverJson(id, caller),
    async networks(_: unknown, __: unknown, { caller }: RequestContext) {
      const [networks, subnets] = await Promise.all([cloud.listNetworks(), cloud.listSubnets()]);
      return networks
        .filter((n) => n.shared || canSeeProject(caller, n.project_id))
        .map((n) =>
          networkJson(
            n,
            subnets.filter((s) => s.network_id === n.id),
            String((n as unknown as { description?: string }).description ?? '').startsWith(`${TAG.test}:`),
          ),
        );
    },
    async flavors() {
      return (await cloud.listFlavors()).map((f) => ({
        id: f.id,
        name: f.name,
        vcpus: f.vcpus,
        ramMb: f.ram,
        diskGb: f.disk,
      }));
    },
    async images() {
      return (await cloud.listImages()).map((i) => ({
        id: i.id,
        name: i.name,
        status: i.status,
        minDiskGb: (i as unknown as { min_disk?: number }).min_disk ?? null,
      }));
    },
    async recoveryPoints(
      _: unknown,
      { protectionGroupId }: { protectionGroupId: string },
      { caller }: RequestContext,
    ) {
      const pg = await repo.getProtectionGroup(protectionGroupId);
      if (!pg || !canSeeProject(caller, pg.projectId)) {
        throw new ProtectorError(
          'NOT_FOUND',
          `Protection Group '${protectionGroupId}' does not exist on site ${key}.`,
        );
      }
      const ref = await storageRef(ctx, pg);
      if (ref.targetArray !== ctx.localArray) return [];
      return (await driver.listRecoveryPoints(ref)).map(pointJson);
    },
    async stepExecutions(
      _: unknown,
      args: { filter?: Json | null; first?: number },
      { caller }: RequestContext,
    ) {
      requireAdmin(caller, 'The step audit');
      const f = args.filter ?? {};
      const audits = await repo.listRecentStepAudits({
        operationId: (f.operationId as string | undefined) ?? undefined,
        limit: args.first ?? 100,
      });
      const statuses = f.status as string[] | undefined;
      return audits
        .map((a) => ({
          operationId: a.operationId,
          operation: { __typename: 'Operation', id: a.operationId },
          stepKey: a.stepKey,
          step: a.name,
          protectionGroup: pgRef(
            ((a.request as Json | null)?.protectionGroupId as string | undefined) ?? null,
          ),
          status: a.status.toUpperCase(),
          attempt: a.attempt,
          startedAt: a.startedAt,
          finishedAt: a.finishedAt,
          error: a.errorCode ? { code: a.errorCode, message: a.errorMessage ?? '', retryable: false } : null,
        }))
        .filter((a) => !statuses?.length || statuses.includes(a.status))
        .filter((a) => !f.protectionGroupId || a.protectionGroup?.id === f.protectionGroupId);
    },
    async tenantMappings(_: unknown, __: unknown, { caller }: RequestContext) {
      requireAdmin(caller, 'Tenant mappings');
      return (await repo.listTenantMappings()).map(tenantMappingJson);
    },
  };

  const siteMutations = Object.fromEntries(
    SITE_STEP_NAMES.map((name) => [
      name,
      (_: unknown, args: { step: StepKey; input: never }, { caller }: RequestContext) => {
        requireService(caller, `Step ${name}`);
        return (steps[name] as (k: StepKey, i: never) => Promise<unknown>)(args.step, args.input);
      },
    ]),
  );

  const siteEvent = (e: SiteEvent) => ({
    ...e,
    site: site(key),
    protectionGroup: pgRef(e.protectionGroupId),
  });

  const resolvers = {
    DateTime: DateTimeScalar,
    Query: { [key]: () => ({}) },
    Mutation: { [key]: () => ({}) },
    Subscription: {
      [key]: {
        subscribe: async (
          _: unknown,
          { filter }: { filter?: { kinds?: string[]; protectionGroupId?: string } | null },
          { caller }: RequestContext,
        ) => {
          // A filter on a group the caller may not see is refused as if the group did not exist.
          if (filter?.protectionGroupId) {
            const pg = await repo.getProtectionGroup(filter.protectionGroupId);
            if (!pg || !canSeeProject(caller, pg.projectId))
              throw new ProtectorError(
                'NOT_FOUND',
                `Protection Group '${filter.protectionGroupId}' does not exist or is not visible to you.`,
              );
          }
          return ctx.events.subscribe(
            (e) =>
              // A group's events reach only those who may see the group's project.
              (e.projectId === null || canSeeProject(caller, e.projectId)) &&
              (!filter?.kinds?.length || filter.kinds.includes(e.kind)) &&
              (!filter?.protectionGroupId || e.protectionGroupId === filter.protectionGroupId),
          );
        },
        resolve: (e: SiteEvent) => siteEvent(e),
      },
    },
    SiteState: siteState,
    SiteMutations: siteMutations,
    ProtectionGroup: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      [key]: (pg: { id: string }, _: unknown, request: RequestContext, info: GraphQLResolveInfo) =>
        replica(pg.id, request, info),
    },
  };

  return buildSubgraphSchema([{ typeDefs: parse(siteSubgraphSdl(key)), resolvers: resolvers as never }]);
}
