/**
 * What every family of site steps shares: the site context, running a step once per key, and the
 * helpers several steps use (tenant clouds, members, servers, recovery points).
 */
import { createHash } from 'node:crypto';
import { crashPoint, type ProgressReading, progressDelay } from '@protector/platform';
import { errorJson, isProtectorError, type Json, ProtectorError } from '@protector/schema';
import type { RecoveryPoint, ReplicationGroupRef } from '@protector/storage-drivers';
import type { MemberInput, ProtectionGroupReplica, StepAttempt } from '../../db/index.js';
import type { OpenStackClient, Server, Volume } from '../../openstack/index.js';
import type { SiteContext } from '../context.js';
import { replicaToGraphQL } from '../metadata.js';

/** Idempotency key of a step, from `SiteStepInput`. */
export interface StepKey {
  readonly operationId: string;
  readonly stepKey: string;
  readonly attempt?: number;
}

/** Tags the product puts on cloud resources it creates, so cleanup finds exactly those. */
export const TAG = {
  pg: 'protector_pg',
  operation: 'protector_operation',
  test: 'protector_test',
  member: 'protector_member',
  memberVolume: 'protector_member_volume',
} as const;

export const GIB = 1024 ** 3;
export const short = (s: string, n = 8) => createHash('sha256').update(s).digest('hex').slice(0, n);
/** A stable UUID (version 5 layout) derived from `s`: the same input gives the same id on every run. */
export const stableUuid = (s: string) => {
  const h = createHash('sha256').update(s).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

/** The shared helpers of the site steps, bound to one site. */
export function createStepKit(ctx: SiteContext) {
  const { repo, cloud, driver } = ctx;

  /** Runs `fn` once per key and returns its result with the receipt of the run. */
  async function once<T extends Json>(
    key: StepKey,
    name: string,
    request: unknown,
    fn: (attempt: StepAttempt) => Promise<T>,
  ) {
    const before = await repo.getStepAudit(key.operationId, key.stepKey);
    const result = await repo.runStepOnce(key.operationId, key.stepKey, name, request, async (attempt) => {
      crashPoint(`site:${name}:before`);
      const done = await fn(attempt);
      // The work is done but not recorded: a repeat must adopt it (fault tests cut here).
      crashPoint(`site:${name}:after`);
      return done;
    });
    const audit = await repo.getStepAudit(key.operationId, key.stepKey);
    return {
      ...(result as T),
      step: {
        operationId: key.operationId,
        stepKey: key.stepKey,
        replayed: before?.status === 'succeeded',
        startedAt: (audit?.startedAt ?? new Date()).toISOString(),
        finishedAt: (audit?.finishedAt ?? new Date()).toISOString(),
      },
    };
  }

  async function replicaJson(id: string): Promise<Json> {
    const pg = await repo.requireProtectionGroup(id);
    const [members, policy, mappings] = await Promise.all([
      repo.listMembers(id),
      repo.getReplicationPolicy(id),
      repo.listResourceMappings(id),
    ]);
    return replicaToGraphQL(ctx.siteName, pg, { members, policy, mappings });
  }

  const isPrimaryHere = (pg: ProtectionGroupReplica) => pg.currentPrimarySite === ctx.siteName;

  /**
   * The cloud as the group's tenant project, so recovered servers, volumes and drill networks belong to
   * the tenant. Falls back to the service project (with a warning) where the service user has no role.
   */
  async function tenantCloud(pg: ProtectionGroupReplica): Promise<OpenStackClient> {
    const scoped = ctx.cloudFor(pg.projectId);
    try {
      await scoped.tokenInfo();
      return scoped;
    } catch (err) {
      if (!isProtectorError(err)) throw err;
      ctx.log(
        'WARNING',
        `the service user cannot act in project ${pg.projectId} (${err.message}); resources recovered for '${pg.name}' go to the service project. Give it the member or admin role in that project.`,
      );
      return cloud;
    }
  }

  /** The group's project in this site's cloud: its own, or the one a tenant mapping pairs with it. */
  async function localProjectId(pg: ProtectionGroupReplica): Promise<string> {
    const mappings = await repo.listTenantMappings();
    if (mappings.some((m) => m.localProjectId === pg.projectId)) return pg.projectId;
    return mappings.find((m) => m.peerProjectId === pg.projectId)?.localProjectId ?? pg.projectId;
  }

  /** Rewrites the member list with a compare-and-set on the version. */
  async function writeMembers(
    pg: ProtectionGroupReplica,
    expectedVersion: number,
    members: readonly MemberInput[],
  ) {
    await repo.applyProtectionGroupMetadata({ id: pg.id, members }, expectedVersion);
  }

  /** The seed's rule: every volume type must be replication-enabled and of the group's replication type. */
  async function checkVolumeTypes(pg: ProtectionGroupReplica, volumes: readonly Volume[]): Promise<void> {
    const types = await cloud.listVolumeTypes();
    const specsOf = new Map<string, Promise<Record<string, string>>>();
    for (const v of volumes) {
      const type = types.find((t) => t.name === v.volume_type || t.id === v.volume_type);
      if (type && !specsOf.has(type.id)) {
        specsOf.set(
          type.id,
          type.extra_specs ? Promise.resolve(type.extra_specs) : cloud.getVolumeTypeExtraSpecs(type.id),
        );
      }
      const specs = type ? await specsOf.get(type.id)! : {};
      const enabled = /^<is>\s*true$/i.test(String(specs.replication_enabled ?? '').trim());
      const kind = /^<in>\s*(async|sync)$/i
        .exec(String(specs.replication_type ?? '').trim())?.[1]
        ?.toLowerCase();
      if (!enabled || (kind && kind !== pg.replicationType)) {
        const name = type?.name ?? v.volume_type ?? 'none';
        throw new ProtectorError(
          'VOLUME_TYPE_NOT_REPLICATED',
          `Volume type '${name}' does not support replication.${
            enabled
              ? ` Its replication_type is '${kind}' but Protection Group '${pg.name}' replicates ${pg.replicationType}.`
              : ''
          } Retype volume ${v.id} to a type with replication_enabled='<is> True' and replication_type='<in> ${pg.replicationType}' on both sites (openstack volume set --type <type> --retype-policy on-demand ${v.id}); Cinder refuses to change the properties of a type volumes use ('Volume Type is currently in use.').`,
          { volumeType: name, volumeId: v.id },
        );
      }
    }
  }

  /** A server's flavor id (Nova 2.47+ shows only the flavor's name and sizes: look the name up). */
  async function flavorIdOf(c: OpenStackClient, server: Server): Promise<string | null> {
    if (server.flavor?.id) return server.flavor.id;
    const name = server.flavor?.original_name;
    return name ? ((await c.listFlavors()).find((f) => f.name === name)?.id ?? null) : null;
  }

  /** Networks a server is plugged into (from its ports). */
  async function serverNetworks(c: OpenStackClient, serverId: string): Promise<string[]> {
    const ports = await c.listPorts({ device_id: serverId });
    return [...new Set(ports.map((p) => p.network_id))];
  }

  /**
   * The array volume of a Cinder volume: Cinder's Pure driver names the volumes it creates and the ones
   * it manages `volume-<id>-cinder` (a pod volume is `POD::volume-<id>-cinder`, which the driver accepts
   * under this name for its group).
   */
  const arrayNameOf = (v: Pick<Volume, 'id'>) => `volume-${v.id}-cinder`;

  async function serverVolumes(
    serverId: string,
  ): Promise<{ server: Server; volumes: (Volume & { device: string })[] }> {
    const server = await cloud.getServer(serverId);
    const attachments = await cloud.listVolumeAttachments(serverId);
    const volumes = await Promise.all(
      attachments.map(async (a) => ({ ...(await cloud.getVolume(a.volumeId)), device: a.device })),
    );
    return { server, volumes: volumes.sort((a, b) => a.device.localeCompare(b.device)) };
  }

  /** Servers of the group on this site (or the ones named). */
  async function groupServerIds(pgId: string, serverIds?: readonly string[] | null): Promise<string[]> {
    if (serverIds?.length) return [...serverIds];
    const members = await repo.listMembers(pgId);
    return members.map((m) => m.siteServerIds[ctx.siteName] ?? m.serverId).filter((x): x is string => !!x);
  }

  async function serverAction(
    pgId: string,
    serverIds: readonly string[] | null | undefined,
    action: 'stop' | 'start',
    timeoutSeconds: number,
  ) {
    await repo.requireProtectionGroup(pgId);
    const ids = await groupServerIds(pgId, serverIds);
    const results = await Promise.all(
      ids.map(async (id) => {
        try {
          const s = await cloud.getServer(id);
          const want = action === 'stop' ? 'SHUTOFF' : 'ACTIVE';
          if (s.status !== want) {
            if (action === 'stop') await cloud.stopServer(id);
            else await cloud.startServer(id);
          }
          const after = await cloud.waitForServerStatus(id, want, { timeoutMs: timeoutSeconds * 1000 });
          return {
            serverId: id,
            name: after.name,
            status: 'SUCCEEDED',
            serverStatus: after.status,
            error: null,
          };
        } catch (err) {
          if (isProtectorError(err, 'NOT_FOUND')) {
            return { serverId: id, name: null, status: 'SKIPPED', serverStatus: 'DELETED', error: null };
          }
          const e = errorJson(err);
          return { serverId: id, name: null, status: 'FAILED', serverStatus: null, error: e };
        }
      }),
    );
    return { servers: results };
  }

  async function waitForPoint(
    ref: ReplicationGroupRef,
    name: string,
    timeoutSeconds: number,
  ): Promise<RecoveryPoint> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    let before: ProgressReading | null = null;
    for (let attempt = 0; ; attempt++) {
      const point = await driver.getRecoveryPoint(ref, name);
      if (point?.complete) return point;
      if (Date.now() > deadline) {
        throw new ProtectorError(
          'RECOVERY_POINT_INCOMPLETE',
          `Recovery point '${name}' did not finish replicating within ${timeoutSeconds} s (progress ${(point?.progress ?? 0).toFixed(2)}).`,
          { point: name },
        );
      }
      // Asks again when the transfer should be done at the rate it is going; soon at first, then at
      // most every 200 ms.
      const now = { at: Date.now(), progress: point?.progress ?? 0 };
      await new Promise((r) => setTimeout(r, progressDelay(200, attempt, before, now)));
      before = now;
    }
  }
  return {
    ctx,
    repo,
    cloud,
    driver,
    once,
    replicaJson,
    tenantCloud,
    localProjectId,
    writeMembers,
    checkVolumeTypes,
    flavorIdOf,
    serverNetworks,
    serverVolumes,
    groupServerIds,
    serverAction,
    waitForPoint,
    isPrimaryHere,
    arrayNameOf,
  };
}

export type StepKit = ReturnType<typeof createStepKit>;

export function networkJson(
  n: {
    id: string;
    name: string;
    status: string;
    project_id?: string;
    shared?: boolean;
    'router:external'?: boolean;
  },
  subnets: { id: string; name: string; cidr: string }[],
  testNetwork: boolean,
): Json {
  return {
    id: n.id,
    name: n.name,
    status: n.status,
    projectId: n.project_id ?? null,
    shared: n.shared ?? false,
    external: n['router:external'] ?? false,
    subnets: subnets.map((s) => ({ id: s.id, name: s.name, cidr: s.cidr })),
    testNetwork,
  };
}

export function tenantMappingJson(m: {
  localSite: string;
  localProjectId: string;
  peerSite: string;
  peerProjectId: string;
}): Json {
  return {
    sourceSite: { __typename: 'Site', name: m.localSite },
    sourceProjectId: m.localProjectId,
    targetSite: { __typename: 'Site', name: m.peerSite },
    targetProjectId: m.peerProjectId,
  };
}

export const sizeBytes = (gb: number) => gb * GIB;
