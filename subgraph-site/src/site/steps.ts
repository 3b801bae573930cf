/**
 * The site-local steps the coordinator calls (service role only). Each runs once per
 * (operationId, stepKey): a repeat returns the recorded result; a step interrupted by a crash runs
 * again, and every step is written so that running it again is safe (it finds what it made before).
 */
import { createHash } from 'node:crypto';
import { isProtectorError, type Json, mapLimit, ProtectorError } from '@protector/schema';
import type { MaterializeRequest, RecoveryPoint, ReplicationGroupRef } from '@protector/storage-drivers';
import type {
  MemberInput,
  ProtectionGroupMember,
  ProtectionGroupReplica,
  ResourceMappingInput,
} from '../db/index.js';
import type { OpenStackClient, Server, Volume } from '../openstack/index.js';
import { type SiteContext, storageGroupNameOf, storageRef } from './context.js';
import { pointJson } from './events.js';
import {
  mappingFromInput,
  memberFromInput,
  memberToInput,
  metadataFromInput,
  replicaToGraphQL,
} from './metadata.js';

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

const GIB = 1024 ** 3;
/** How many members a recovery brings up at once. */
const MEMBER_CONCURRENCY = 8;
const short = (s: string, n = 8) => createHash('sha256').update(s).digest('hex').slice(0, n);
/** A stable UUID (version 5 layout) derived from `s`: the same input gives the same id on every run. */
const stableUuid = (s: string) => {
  const h = createHash('sha256').update(s).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export function createSiteSteps(ctx: SiteContext) {
  const { repo, cloud, driver } = ctx;

  /** Runs `fn` once per key and returns its result with the receipt of the run. */
  async function once<T extends Json>(key: StepKey, name: string, request: unknown, fn: () => Promise<T>) {
    const before = await repo.getStepAudit(key.operationId, key.stepKey);
    const result = await repo.runStepOnce(key.operationId, key.stepKey, name, request, () => fn());
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
    for (const v of volumes) {
      const type = types.find((t) => t.name === v.volume_type || t.id === v.volume_type);
      const specs = type ? (type.extra_specs ?? (await cloud.getVolumeTypeExtraSpecs(type.id))) : {};
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
          } Set replication_enabled='<is> True' and replication_type='<in> ${pg.replicationType}' on the type (openstack volume type set ${name} --property ...) on both sites, or use a volume of a replicated type.`,
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

  /** The array volume name of a Cinder volume (Pure Cinder driver naming unless the volume says otherwise). */
  const arrayNameOf = (v: Volume) => v.metadata?.array_volume_name ?? `volume-${v.id}-cinder`;

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
          const e = asError(err);
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
    for (;;) {
      const point = (await driver.listRecoveryPoints(ref)).find((p) => p.name === name);
      if (point?.complete) return point;
      if (Date.now() > deadline) {
        throw new ProtectorError(
          'RECOVERY_POINT_INCOMPLETE',
          `Recovery point '${name}' did not finish replicating within ${timeoutSeconds} s (progress ${(point?.progress ?? 0).toFixed(2)}).`,
          { point: name },
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return {
    async applyProtectionGroupMetadata(key: StepKey, input: { expectedVersion: number; metadata: Json }) {
      return once(key, 'applyProtectionGroupMetadata', input, async () => {
        const md = metadataFromInput(input.metadata);
        const newVersion = Number(input.metadata.metadataVersion);
        await repo.applyProtectionGroupMetadata(md, input.expectedVersion, { newVersion });
        await repo.replaceResourceMappings(
          md.id,
          ((input.metadata.resourceMappings as Json[]) ?? []).map(mappingFromInput),
        );
        return { replica: await replicaJson(md.id) };
      });
    },

    async deleteProtectionGroupReplica(
      key: StepKey,
      input: { protectionGroupId: string; expectedVersion: number },
    ) {
      return once(key, 'deleteProtectionGroupReplica', input, async () => {
        if (await repo.getProtectionGroup(input.protectionGroupId)) {
          await repo.deleteProtectionGroup(input.protectionGroupId, input.expectedVersion);
        }
        return {};
      });
    },

    async ensureConsistencyGroup(
      key: StepKey,
      input: { protectionGroupId: string; name?: string | null; volumeType: string },
    ) {
      return once(key, 'ensureConsistencyGroup', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        if (pg.consistencyGroupId) {
          try {
            await cloud.getGroup(pg.consistencyGroupId);
            return { consistencyGroupId: pg.consistencyGroupId };
          } catch (err) {
            if (!isProtectorError(err, 'NOT_FOUND')) throw err;
          }
        }
        const name = input.name ?? `pg-${pg.name}`;
        // The group lives in the Protection Group's project: Cinder only groups volumes of its own project.
        const projectId = await localProjectId(pg);
        const existing = (await cloud.listGroups({ projectId })).find((g) => g.name === name);
        let groupId = existing?.id;
        if (!groupId) {
          const types = await cloud.listVolumeTypes();
          const vt = types.find((t) => t.name === input.volumeType || t.id === input.volumeType);
          if (!vt) {
            throw new ProtectorError(
              'NOT_FOUND',
              `Volume type '${input.volumeType}' does not exist on site ${ctx.siteName}.`,
              {
                volumeType: input.volumeType,
              },
            );
          }
          const groupTypes = await cloud.listGroupTypes();
          const gt =
            groupTypes.find((t) => t.group_specs?.consistent_group_snapshot_enabled === '<is> True') ??
            groupTypes[0];
          if (!gt)
            throw new ProtectorError(
              'CLOUD_ERROR',
              `Site ${ctx.siteName} has no Cinder group type to create a consistency group with.`,
            );
          const group = await cloud.createGroup({
            name,
            groupType: gt.id,
            volumeTypes: [vt.id],
            description: `Protection Group ${pg.id}`,
            projectId,
          });
          groupId = group.id;
          await cloud.waitForGroupStatus(groupId, 'available', { timeoutMs: 120_000 });
        }
        await repo.recordConsistencyGroup(pg.id, groupId);
        return { consistencyGroupId: groupId };
      });
    },

    async deleteConsistencyGroup(key: StepKey, input: { protectionGroupId: string }) {
      return once(key, 'deleteConsistencyGroup', input, async () => {
        const pg = await repo.getProtectionGroup(input.protectionGroupId);
        if (pg?.consistencyGroupId) {
          try {
            const group = await cloud.getGroup(pg.consistencyGroupId);
            if (group.volumes?.length) await cloud.removeVolumesFromGroup(group.id, group.volumes);
            await cloud.deleteGroup(group.id, { deleteVolumes: false });
          } catch (err) {
            if (!isProtectorError(err, 'NOT_FOUND')) throw err;
          }
          await repo.recordConsistencyGroup(pg.id, null);
        }
        return {};
      });
    },

    async ensureStorageGroup(
      key: StepKey,
      input: {
        protectionGroupId: string;
        name: string;
        replicationType: string;
        source: boolean;
        replicationIntervalSeconds?: number | null;
        retention?: number | null;
      },
    ) {
      return once(key, 'ensureStorageGroup', input, async () => {
        await repo.requireProtectionGroup(input.protectionGroupId);
        const mode = input.replicationType.toLowerCase() as 'async' | 'sync';
        const ref: ReplicationGroupRef = input.source
          ? { name: input.name, mode, sourceArray: ctx.localArray, targetArray: ctx.peerArray }
          : { name: input.name, mode, sourceArray: ctx.peerArray, targetArray: ctx.localArray };
        const interval = input.replicationIntervalSeconds ?? ctx.defaults.replicationIntervalSeconds;
        const keep = input.retention ?? 24;
        await driver.ensureReplicationGroup(ref, {
          enabled: true,
          intervalSeconds: interval,
          // Keep `retention` points: all for interval x retention seconds.
          retention: { allForSeconds: interval * keep, perDay: 4, days: 7 },
        });
        return {
          name: input.name,
          kind: mode === 'async' ? 'PROTECTION_GROUP' : 'POD',
          source: input.source,
        };
      });
    },

    async deleteStorageGroup(key: StepKey, input: { protectionGroupId: string }) {
      return once(key, 'deleteStorageGroup', input, async () => {
        const pg = await repo.getProtectionGroup(input.protectionGroupId);
        if (pg) {
          // The group this array is the source of, in either direction (active or kept after a reprotect).
          const ref: ReplicationGroupRef = {
            name: storageGroupNameOf(pg),
            mode: pg.replicationType,
            sourceArray: ctx.localArray,
            targetArray: ctx.peerArray,
          };
          const group = await driver.getReplicationGroup(ref);
          if (group && ref.mode === 'sync' && group.volumes.length)
            await driver.removeVolumes(ref, group.volumes);
          if (group) await driver.deleteReplicationGroup(ref);
        }
        return {};
      });
    },

    async addMember(
      key: StepKey,
      input: { protectionGroupId: string; expectedVersion: number; member: Json },
    ) {
      return once(key, 'addMember', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        let member = memberFromInput(input.member);
        if (isPrimaryHere(pg)) {
          const serverId = member.siteServerIds?.[ctx.siteName];
          if (!serverId) {
            throw new ProtectorError(
              'BAD_USER_INPUT',
              `Member '${member.name}' has no placement on site ${ctx.siteName}, the group's primary: give the server id there.`,
            );
          }
          const { server, volumes } = await serverVolumes(serverId);
          if (!volumes.length) {
            throw new ProtectorError(
              'BAD_USER_INPUT',
              `Server '${server.name}' has no volumes attached; only volume-backed VMs can be protected.`,
            );
          }
          await checkVolumeTypes(pg, volumes);
          const previous = member.volumes ?? [];
          member = {
            ...member,
            name: member.name || server.name,
            status: 'protected',
            sitePlacements: {
              ...member.sitePlacements,
              [ctx.siteName]: {
                flavorId: await flavorIdOf(cloud, server),
                networkIds: await serverNetworks(cloud, server.id),
              },
            },
            volumes: volumes.map((v, i) => ({
              // Member volume ids are UUIDs, stable across repeats of the step.
              id:
                previous.find((p) => p.siteVolumeIds?.[ctx.siteName] === v.id)?.id ??
                stableUuid(`${member.id}/${v.id}`),
              sizeGb: v.size,
              bootIndex: i === 0 ? 0 : null,
              deviceName: v.device,
              volumeType: v.volume_type,
              arrayVolumeName: arrayNameOf(v),
              siteVolumeIds: { [ctx.siteName]: v.id },
            })),
          };
          if (pg.consistencyGroupId) {
            const group = await cloud.getGroup(pg.consistencyGroupId);
            const missing = volumes.map((v) => v.id).filter((id) => !(group.volumes ?? []).includes(id));
            if (missing.length) await cloud.addVolumesToGroup(pg.consistencyGroupId, missing);
          }
          const ref = await storageRef(ctx, pg);
          if (ref.sourceArray === ctx.localArray && (await driver.getReplicationGroup(ref))) {
            await driver.addVolumes(ref, volumes.map(arrayNameOf));
          }
        }
        const current = (await repo.listMembers(pg.id)).filter((m) => m.id !== member.id).map(memberToInput);
        await writeMembers(pg, input.expectedVersion, [...current, member]);
        return { replica: await replicaJson(pg.id) };
      });
    },

    async removeMember(
      key: StepKey,
      input: { protectionGroupId: string; expectedVersion: number; memberId: string },
    ) {
      return once(key, 'removeMember', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const members = await repo.listMembers(pg.id);
        const member = members.find((m) => m.id === input.memberId);
        if (!member) {
          throw new ProtectorError(
            'NOT_FOUND',
            `Protection Group '${pg.name}' has no member '${input.memberId}'.`,
            {
              memberId: input.memberId,
            },
          );
        }
        if (isPrimaryHere(pg)) {
          const volumeIds = member.volumes
            .map((v) => v.siteVolumeIds[ctx.siteName])
            .filter((x): x is string => !!x);
          if (pg.consistencyGroupId && volumeIds.length) {
            const group = await cloud.getGroup(pg.consistencyGroupId);
            const present = volumeIds.filter((id) => (group.volumes ?? []).includes(id));
            if (present.length) await cloud.removeVolumesFromGroup(pg.consistencyGroupId, present);
          }
          const ref = await storageRef(ctx, pg);
          if (ref.sourceArray === ctx.localArray && (await driver.getReplicationGroup(ref))) {
            await driver.removeVolumes(
              ref,
              member.volumes.map((v) => v.arrayVolumeName).filter((x): x is string => !!x),
            );
          }
        }
        await writeMembers(
          pg,
          input.expectedVersion,
          members.filter((m) => m.id !== member.id).map(memberToInput),
        );
        return { replica: await replicaJson(pg.id) };
      });
    },

    async stopServers(
      key: StepKey,
      input: { protectionGroupId: string; serverIds?: string[] | null; timeoutSeconds?: number | null },
    ) {
      return once(key, 'stopServers', input, () =>
        serverAction(input.protectionGroupId, input.serverIds, 'stop', input.timeoutSeconds ?? 300),
      );
    },

    async startServers(
      key: StepKey,
      input: { protectionGroupId: string; serverIds?: string[] | null; timeoutSeconds?: number | null },
    ) {
      return once(key, 'startServers', input, () =>
        serverAction(input.protectionGroupId, input.serverIds, 'start', input.timeoutSeconds ?? 300),
      );
    },

    /** Stops the servers so a workload never runs on both sites; a server already gone counts as fenced. */
    async fenceServers(
      key: StepKey,
      input: { protectionGroupId: string; serverIds?: string[] | null; timeoutSeconds?: number | null },
    ) {
      return once(key, 'fenceServers', input, async () => {
        const result = await serverAction(
          input.protectionGroupId,
          input.serverIds,
          'stop',
          input.timeoutSeconds ?? 300,
        );
        ctx.log(
          'WARNING',
          `fenced servers of ${input.protectionGroupId}: ${result.servers.map((s) => `${s.serverId}=${s.status}`).join(', ')}`,
        );
        return result;
      });
    },

    async replicateNow(
      key: StepKey,
      input: { protectionGroupId: string; wait?: boolean | null; timeoutSeconds?: number | null },
    ) {
      return once(key, 'replicateNow', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const ref = await storageRef(ctx, pg);
        if (ref.sourceArray !== ctx.localArray) {
          throw new ProtectorError(
            'INVALID_STATE',
            `Site ${ctx.siteName} is not the replication source of '${pg.name}'; run replicateNow on the site whose array replicates it.`,
          );
        }
        const suffix = `op-${short(`${key.operationId}/${key.stepKey}`, 12)}`;
        let point: RecoveryPoint;
        try {
          point = await driver.replicateNow(ref, { suffix });
        } catch (err) {
          // Run again after a crash: the snapshot of the first run is already there.
          if (!isProtectorError(err, 'ALREADY_EXISTS')) throw err;
          const found = (await driver.listRecoveryPoints(ref)).find((p) => p.name.endsWith(`.${suffix}`));
          if (!found) throw err;
          point = found;
        }
        if (input.wait ?? true) point = await waitForPoint(ref, point.name, input.timeoutSeconds ?? 3600);
        if (point.complete) await repo.recordReplication(pg.id, point.createdAt);
        return { recoveryPoint: pointJson(point) };
      });
    },

    async promoteStorageGroup(key: StepKey, input: { protectionGroupId: string }) {
      return once(key, 'promoteStorageGroup', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const ref = await storageRef(ctx, pg);
        await driver.promote(ref, ctx.localArray);
        return { name: ref.name, kind: ref.mode === 'async' ? 'PROTECTION_GROUP' : 'POD', source: true };
      });
    },

    async demoteStorageGroup(key: StepKey, input: { protectionGroupId: string }) {
      return once(key, 'demoteStorageGroup', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const ref = await storageRef(ctx, pg);
        await driver.demote(ref, ctx.localArray);
        return { name: ref.name, kind: ref.mode === 'async' ? 'PROTECTION_GROUP' : 'POD', source: false };
      });
    },

    async materializeRecoveryPoint(
      key: StepKey,
      input: {
        protectionGroupId: string;
        recoveryPoint?: string | null;
        resourceMappings: Json[];
        test?: boolean | null;
        testNetworkId?: string | null;
        memberIds?: string[] | null;
        bootServers?: boolean | null;
      },
    ) {
      return once(key, 'materializeRecoveryPoint', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const test = input.test ?? false;
        const ref = await storageRef(ctx, pg);
        if (ref.targetArray !== ctx.localArray) {
          throw new ProtectorError(
            'INVALID_STATE',
            `Site ${ctx.siteName} is the replication source of '${pg.name}', not its target; recover on the other site.`,
          );
        }
        const points = await driver.listRecoveryPoints(ref);
        const allMembers = await repo.listMembers(pg.id);
        const members = input.memberIds?.length
          ? allMembers.filter((m) => input.memberIds!.includes(m.id))
          : allMembers;
        // By default the newest complete point that holds every member's volumes (a member added since the
        // last replication is not in it yet), else the newest complete one.
        const wanted = members.flatMap((m) => m.volumes.map((v) => v.arrayVolumeName));
        const complete = points.filter((p) => p.complete);
        const point = input.recoveryPoint
          ? points.find((p) => p.name === input.recoveryPoint)
          : (complete.find((p) => wanted.every((v) => !!v && p.volumes.includes(v))) ?? complete[0]);
        if (!point) {
          throw new ProtectorError(
            'NOT_FOUND',
            input.recoveryPoint
              ? `Recovery point '${input.recoveryPoint}' of '${pg.name}' does not exist on site ${ctx.siteName}. List them with recoveryPoints(protectionGroup: "${pg.name}").`
              : `'${pg.name}' has no complete recovery point on site ${ctx.siteName} yet; wait for replication or run a sync.`,
          );
        }
        if (test && !input.testNetworkId) {
          throw new ProtectorError(
            'BAD_USER_INPUT',
            'A test recovery needs testNetworkId: create the isolated network first.',
          );
        }
        const mappings = input.resourceMappings.map(mappingFromInput);
        const opTag = short(key.operationId, 8);
        const tc = await tenantCloud(pg);
        // Priority groups in order (1 first); within one, members recover in parallel (bounded), each on
        // its own: one failing does not stop the others, nor the next priority.
        const recoverOne = async (
          member: ProtectionGroupMember,
        ): Promise<{ result: Json; update: ProtectionGroupMember }> => {
          try {
            const made = await recoverMember({
              cloud: tc,
              pg,
              member,
              point,
              ref,
              test,
              opTag,
              key,
              mappings,
              testNetworkId: input.testNetworkId ?? null,
              boot: input.bootServers ?? true,
            });
            const result = {
              memberId: member.id,
              memberName: member.name,
              status: 'SUCCEEDED',
              serverId: made.serverId,
              volumes: made.volumes,
              error: null,
            };
            const update: ProtectionGroupMember = {
              ...member,
              status: 'failed_over',
              siteServerIds: {
                ...member.siteServerIds,
                ...(made.serverId ? { [ctx.siteName]: made.serverId } : {}),
              },
              sitePlacements: {
                ...member.sitePlacements,
                ...(made.placement ? { [ctx.siteName]: made.placement } : {}),
              },
              volumes: member.volumes.map((v) => ({
                ...v,
                siteVolumeIds: {
                  ...v.siteVolumeIds,
                  [ctx.siteName]: made.volumes.find((x) => x.memberVolumeId === v.id)!.volumeId,
                },
              })),
            };
            return { result, update };
          } catch (err) {
            const result = {
              memberId: member.id,
              memberName: member.name,
              status: 'FAILED',
              serverId: null,
              volumes: [],
              error: asError(err),
            };
            const update: ProtectionGroupMember = {
              ...member,
              status: 'failover_failed',
              errorReason: (err as Error).message,
            };
            return { result, update };
          }
        };
        const priorities = [...new Set(members.map((m) => m.bootPriority))].sort((x, y) => x - y);
        const outcomes: { result: Json; update: ProtectionGroupMember }[] = [];
        for (const priority of priorities) {
          outcomes.push(
            ...(await mapLimit(
              members.filter((m) => m.bootPriority === priority),
              MEMBER_CONCURRENCY,
              recoverOne,
            )),
          );
        }
        const results = outcomes.map((o) => o.result);
        // A drill leaves the group's members as they are; a failover records where each one now runs.
        const updated = new Map(test ? [] : outcomes.map((o) => [o.update.id, o.update] as const));
        if (updated.size) {
          const current = await repo.requireProtectionGroup(pg.id);
          const all = (await repo.listMembers(pg.id)).map((m) => memberToInput(updated.get(m.id) ?? m));
          await repo.applyProtectionGroupMetadata({ id: pg.id, members: all }, current.metadataVersion);
        }
        return { recoveryPoint: pointJson(point), members: results };
      });
    },

    async createTestNetwork(
      key: StepKey,
      input: { protectionGroupId: string; name: string; cidr?: string | null },
    ) {
      return once(key, 'createTestNetwork', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const tc = await tenantCloud(pg);
        const existing = (await tc.listNetworks({ name: input.name })).find((n) => n.name === input.name);
        const network =
          existing ??
          (await tc.createNetwork({
            name: input.name,
            description: `${TAG.test}:${pg.id}`,
            admin_state_up: true,
          } as never));
        const subnets = await tc.listSubnets({ network_id: network.id });
        const subnet =
          subnets[0] ??
          (await tc.createSubnet({
            network_id: network.id,
            cidr: input.cidr ?? '192.168.250.0/24',
            ip_version: 4,
            name: `${input.name}-subnet`,
          } as never));
        return { network: networkJson(network, [subnet], true) };
      });
    },

    async deleteTestNetwork(key: StepKey, input: { protectionGroupId: string; networkId: string }) {
      return once(key, 'deleteTestNetwork', input, async () => {
        await deleteNetwork(input.networkId);
        return {};
      });
    },

    async cleanupTestFailover(
      key: StepKey,
      input: { protectionGroupId: string; testOperationId?: string | null },
    ) {
      return once(key, 'cleanupTestFailover', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const errors: Json[] = [];
        const mine = (md: Record<string, string> | undefined) =>
          md?.[TAG.pg] === pg.id &&
          md?.[TAG.test] === 'true' &&
          (!input.testOperationId || md?.[TAG.operation] === short(input.testOperationId, 8));
        const servers = (await cloud.listServers({ allTenants: true })).filter((s) => mine(s.metadata));
        const deletedServerIds: string[] = [];
        await Promise.all(
          servers.map(async (s) => {
            try {
              await cloud.deleteServer(s.id);
              await cloud.waitForServerDeleted(s.id, { timeoutMs: 120_000 });
              deletedServerIds.push(s.id);
            } catch (err) {
              if (isProtectorError(err, 'NOT_FOUND')) deletedServerIds.push(s.id);
              else errors.push(asError(err));
            }
          }),
        );
        const volumes = (await cloud.listVolumes({ allTenants: true })).filter((v) => mine(v.metadata));
        const deletedVolumeIds: string[] = [];
        const destroyedStorageVolumes: string[] = [];
        for (const v of volumes) {
          try {
            await cloud.waitForVolumeStatus(v.id, 'available', { timeoutMs: 60_000 }).catch(() => undefined);
            await cloud.deleteVolume(v.id);
            deletedVolumeIds.push(v.id);
            destroyedStorageVolumes.push(arrayNameOf(v));
          } catch (err) {
            if (!isProtectorError(err, 'NOT_FOUND')) errors.push(asError(err));
          }
        }
        // Array copies that never made it into Cinder (a drill interrupted between copy and manage):
        // named t-<operation>-<member volume> (see recoverMember), so findable when the drill is named.
        if (input.testOperationId) {
          const opTag = short(input.testOperationId, 8);
          const names = (await repo.listMembers(pg.id))
            .flatMap((m) => m.volumes.map((v) => `t-${opTag}-${short(v.id, 12)}`))
            .filter((name) => !destroyedStorageVolumes.includes(name));
          const found = await Promise.all(
            names.map((name) => driver.getVolumes(ctx.localArray, [name]).catch(() => [])),
          );
          const stray = found
            .flat()
            .filter((v) => !v.destroyed)
            .map((v) => v.name);
          if (stray.length) {
            try {
              await driver.destroyVolumes(ctx.localArray, stray, { eradicate: true });
              destroyedStorageVolumes.push(...stray);
            } catch (err) {
              errors.push(asError(err));
            }
          }
        }
        const deletedNetworkIds: string[] = [];
        for (const n of await cloud.listNetworks()) {
          if ((n as unknown as { description?: string }).description === `${TAG.test}:${pg.id}`) {
            try {
              await deleteNetwork(n.id);
              deletedNetworkIds.push(n.id);
            } catch (err) {
              errors.push(asError(err));
            }
          }
        }
        return { deletedServerIds, deletedVolumeIds, deletedNetworkIds, destroyedStorageVolumes, errors };
      });
    },

    async reverseReplication(key: StepKey, input: { protectionGroupId: string }) {
      return once(key, 'reverseReplication', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const name = storageGroupNameOf(pg);
        const oldRef: ReplicationGroupRef = {
          name,
          mode: pg.replicationType,
          sourceArray: ctx.peerArray,
          targetArray: ctx.localArray,
        };
        const members = await repo.listMembers(pg.id);
        // The array name of every member volume on this site, by member volume id.
        const names = new Map<string, string>();
        for (const m of members) {
          for (const v of m.volumes) {
            const id = v.siteVolumeIds[ctx.siteName];
            if (!id) {
              throw new ProtectorError(
                'INVALID_STATE',
                `Member '${m.name}' has no volume on site ${ctx.siteName}; fail the group over to this site before reprotecting.`,
              );
            }
            names.set(v.id, arrayNameOf(await cloud.getVolume(id)));
          }
        }
        // Disables the old direction (where reachable) and makes this array the source of exactly these volumes.
        await driver.reverseReplication(oldRef, [...names.values()]);
        // The member volumes replicate from here now: record their names on this array.
        const current = await repo.requireProtectionGroup(pg.id);
        const rewritten = members.map((m) =>
          memberToInput({
            ...m,
            volumes: m.volumes.map((v) => ({ ...v, arrayVolumeName: names.get(v.id) ?? v.arrayVolumeName })),
          }),
        );
        await repo.applyProtectionGroupMetadata({ id: pg.id, members: rewritten }, current.metadataVersion);
        return { name, kind: pg.replicationType === 'async' ? 'PROTECTION_GROUP' : 'POD', source: true };
      });
    },

    async setReplicationPolicy(
      key: StepKey,
      input: { protectionGroupId: string; expectedVersion: number; policy: Json },
    ) {
      return once(
        key,
        'setReplicationPolicy',
        {
          ...input,
          policy: { ...input.policy, primaryArrayToken: undefined, secondaryArrayToken: undefined },
        },
        async () => {
          const current = await repo.getReplicationPolicy(input.protectionGroupId);
          const p = input.policy;
          const pick = <T>(v: unknown, fallback: T): T =>
            v === undefined || v === null ? fallback : (v as T);
          await repo.setReplicationPolicy(
            input.protectionGroupId,
            {
              primaryArrayUrl: pick(p.primaryArrayUrl, current?.primaryArrayUrl ?? ''),
              secondaryArrayUrl: pick(p.secondaryArrayUrl, current?.secondaryArrayUrl ?? ''),
              primaryArrayToken: (p.primaryArrayToken as string | undefined) ?? undefined,
              secondaryArrayToken: (p.secondaryArrayToken as string | undefined) ?? undefined,
              purePgName: pick(p.purePgName, current?.purePgName ?? null),
              replicationIntervalSeconds: pick(
                p.replicationIntervalSeconds,
                current?.replicationIntervalSeconds ?? ctx.defaults.replicationIntervalSeconds,
              ),
              rpoMinutes: pick(p.rpoMinutes, current?.rpoMinutes ?? ctx.defaults.rpoMinutes),
            },
            input.expectedVersion,
          );
          // A changed interval reaches the array where this site replicates the group.
          const pg = await repo.requireProtectionGroup(input.protectionGroupId);
          const policy = (await repo.getReplicationPolicy(pg.id))!;
          if (pg.storageGroupName && pg.replicationType === 'async') {
            const ref = await storageRef(ctx, pg);
            if (ref.sourceArray === ctx.localArray && (await driver.getReplicationGroup(ref))) {
              const group = (await driver.getReplicationGroup(ref))!;
              await driver.setSchedule(ref, {
                ...group.schedule,
                intervalSeconds: policy.replicationIntervalSeconds,
              });
            }
          }
          return { replica: await replicaJson(pg.id) };
        },
      );
    },

    async setResourceMappings(
      key: StepKey,
      input: { protectionGroupId: string; expectedVersion: number; mappings: Json[] },
    ) {
      return once(key, 'setResourceMappings', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        await repo.applyProtectionGroupMetadata({ id: pg.id }, input.expectedVersion);
        await repo.replaceResourceMappings(pg.id, input.mappings.map(mappingFromInput));
        return { replica: await replicaJson(pg.id) };
      });
    },

    async setTenantMappings(key: StepKey, input: { mappings: Json[] }) {
      return once(key, 'setTenantMappings', input, async () => {
        for (const old of await repo.listTenantMappings()) await repo.deleteTenantMapping(old.localProjectId);
        for (const m of input.mappings) {
          const local = m.sourceSite === ctx.siteName;
          await repo.putTenantMapping({
            localSite: ctx.siteName,
            localProjectId: String(local ? m.sourceProjectId : m.targetProjectId),
            peerSite: String(local ? m.targetSite : m.sourceSite),
            peerProjectId: String(local ? m.targetProjectId : m.sourceProjectId),
          });
        }
        return { tenantMappings: (await repo.listTenantMappings()).map(tenantMappingJson) };
      });
    },
  };

  /** Copy, manage and boot one member; safe to repeat (it finds the copies and the server it made before). */
  /**
   * A member that ran on this site before (the original VMs on failback, or the copies of an earlier
   * failover) is recovered in place, as SRM does: its stopped server's volumes are overwritten with the
   * recovery point and the server is started. Nothing is left behind from cycle to cycle. Returns null
   * when there is nothing to reuse (first failover here, or the server or a volume is gone).
   */
  async function reuseMember(a: Parameters<typeof recoverMember>[0]) {
    const { member, point, ref } = a;
    const serverId = member.siteServerIds[ctx.siteName];
    const volumeIds = member.volumes.map((v) => v.siteVolumeIds[ctx.siteName]);
    if (!serverId || !member.volumes.length || volumeIds.some((id) => !id)) return null;
    if (member.volumes.some((v) => !v.arrayVolumeName)) return null;
    let server: Server;
    let volumes: Volume[];
    try {
      server = await a.cloud.getServer(serverId);
      volumes = await Promise.all(volumeIds.map((id) => a.cloud.getVolume(id!)));
    } catch (err) {
      if (isProtectorError(err, 'NOT_FOUND')) return null;
      throw err;
    }
    // Never overwrite the disks of a running VM.
    if (server.status !== 'SHUTOFF') {
      await a.cloud.stopServer(serverId).catch((err) => {
        if (!isProtectorError(err, 'INVALID_STATE')) throw err;
      });
      await a.cloud.waitForServerStatus(serverId, 'SHUTOFF', { timeoutMs: 300_000 });
    }
    await driver.materialize(
      ref,
      point.name,
      member.volumes.map((v, i) => ({
        sourceVolume: v.arrayVolumeName!,
        targetVolume: arrayNameOf(volumes[i]!),
      })),
      { overwrite: true },
    );
    await a.cloud.startServer(serverId).catch((err) => {
      if (!isProtectorError(err, 'INVALID_STATE')) throw err;
    });
    const active = await a.cloud.waitForServerStatus(serverId, 'ACTIVE', { timeoutMs: 300_000 });
    return {
      serverId,
      placement: {
        flavorId: await flavorIdOf(a.cloud, active),
        networkIds: await serverNetworks(a.cloud, serverId),
      },
      volumes: member.volumes.map((v, i) => ({ memberVolumeId: v.id, volumeId: volumeIds[i]! })),
    };
  }

  async function recoverMember(a: {
    pg: ProtectionGroupReplica;
    member: ProtectionGroupMember;
    point: RecoveryPoint;
    ref: ReplicationGroupRef;
    test: boolean;
    opTag: string;
    key: StepKey;
    mappings: readonly ResourceMappingInput[];
    testNetworkId: string | null;
    boot: boolean;
    /** The cloud as the group's tenant, where the recovered resources belong. */
    cloud: OpenStackClient;
  }): Promise<{
    serverId: string | null;
    placement: { flavorId: string | null; networkIds: string[] } | null;
    volumes: { memberVolumeId: string; volumeId: string }[];
  }> {
    const { pg, member, point, test, opTag } = a;
    if (!test && a.boot) {
      const reused = await reuseMember(a);
      if (reused) return reused;
    }
    const tags: Record<string, string> = {
      [TAG.pg]: pg.id,
      [TAG.operation]: opTag,
      [TAG.member]: member.id,
      ...(test ? { [TAG.test]: 'true' } : {}),
    };
    const requests: (MaterializeRequest & { memberVolumeId: string })[] = member.volumes.map((v) => {
      if (!v.arrayVolumeName) {
        throw new ProtectorError(
          'INVALID_STATE',
          `Volume ${v.id} of member '${member.name}' has no array volume name recorded.`,
        );
      }
      return {
        memberVolumeId: v.id,
        sourceVolume: v.arrayVolumeName,
        targetVolume: `${test ? 't' : 'r'}-${opTag}-${short(v.id, 12)}`,
      };
    });
    await driver.materialize(a.ref, point.name, requests);
    const cinderVolumes = await a.cloud.listVolumes();
    const placed: {
      memberVolumeId: string;
      volumeId: string;
      bootIndex: number | null;
      device: string | null;
    }[] = [];
    for (const r of requests) {
      const v = member.volumes.find((x) => x.id === r.memberVolumeId)!;
      let volume = cinderVolumes.find((cv) => cv.metadata?.array_volume_name === r.targetVolume);
      volume ??= await a.cloud.manageVolume({
        host: ctx.cinderHost,
        sourceName: r.targetVolume,
        name: `${member.name}-${v.deviceName?.replace('/dev/', '') ?? short(v.id, 6)}${test ? '-drill' : ''}`,
        volume_type: v.volumeType ?? undefined,
        bootable: v.bootIndex === 0,
        metadata: { ...tags, [TAG.memberVolume]: v.id },
      });
      // A repeat after a crash finds the volume already attached to the server it booted: in-use is done too.
      const current = await a.cloud.getVolume(volume.id);
      volume =
        current.status === 'in-use'
          ? current
          : await a.cloud
              .waitForVolumeStatus(volume.id, 'available', { timeoutMs: 120_000 })
              .catch(async (err) => {
                const now = await a.cloud.getVolume(current.id);
                if (now.status === 'in-use') return now;
                throw err;
              });
      placed.push({
        memberVolumeId: v.id,
        volumeId: volume.id,
        bootIndex: v.bootIndex,
        device: v.deviceName,
      });
    }
    if (!a.boot)
      return {
        serverId: null,
        placement: null,
        volumes: placed.map(({ memberVolumeId, volumeId }) => ({ memberVolumeId, volumeId })),
      };
    const boot = placed.find((p) => p.bootIndex === 0) ?? placed[0]!;
    const existing = (await a.cloud.listServers()).find(
      (s) =>
        s.metadata?.[TAG.operation] === opTag &&
        s.metadata?.[TAG.member] === member.id &&
        s.metadata?.[TAG.pg] === pg.id,
    );
    let server = existing;
    if (!server) {
      // The operation's mappings win over the group's stored ones, kind by kind.
      const stored = (await repo.listResourceMappings(pg.id)).filter((m) => m.targetSite === ctx.siteName);
      const given = a.mappings.filter((m) => m.targetSite === ctx.siteName);
      const ofKind = (kind: string) => {
        const mine = given.filter((m) => m.kind === kind);
        return mine.length ? mine : stored.filter((m) => m.kind === kind);
      };
      // The member's own flavor and networks where it ran, mapped to this site; else the group's mappings.
      const from = Object.entries(member.sitePlacements).find(([site]) => site !== ctx.siteName)?.[1];
      const mapTo = (kind: string, id: string) => ofKind(kind).find((m) => m.sourceId === id)?.targetId;
      let flavorId = (from?.flavorId && mapTo('flavor', from.flavorId)) || ofKind('flavor')[0]?.targetId;
      const ownNetworks = (from?.networkIds ?? [])
        .map((id) => mapTo('network', id))
        .filter((x): x is string => !!x);
      const networkIds = ownNetworks.length
        ? ownNetworks
        : [...new Set(ofKind('network').map((m) => m.targetId))];
      if (!flavorId) flavorId = (await a.cloud.listFlavors()).sort((x, y) => x.ram - y.ram)[0]?.id;
      if (!flavorId)
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `No flavor mapping for '${pg.name}' on site ${ctx.siteName}; set a flavor resource mapping.`,
        );
      const networks = test ? [{ uuid: a.testNetworkId! }] : networkIds.map((uuid) => ({ uuid }));
      server = await a.cloud.createServer({
        name: test ? `${member.name}-drill` : member.name,
        flavorRef: flavorId,
        networks: networks.length ? networks : 'none',
        block_device_mapping_v2: placed.map((p) => ({
          uuid: p.volumeId,
          source_type: 'volume',
          destination_type: 'volume',
          boot_index: p === boot ? 0 : -1,
          delete_on_termination: false,
        })),
        metadata: tags,
      });
    }
    const active = await a.cloud.waitForServerStatus(server.id, 'ACTIVE', { timeoutMs: 300_000 });
    return {
      serverId: active.id,
      placement: {
        flavorId: await flavorIdOf(a.cloud, active),
        networkIds: test ? [] : await serverNetworks(a.cloud, active.id),
      },
      volumes: placed.map(({ memberVolumeId, volumeId }) => ({ memberVolumeId, volumeId })),
    };
  }

  async function deleteNetwork(networkId: string): Promise<void> {
    try {
      for (const port of await cloud.listPorts({ network_id: networkId })) {
        await cloud.deletePort(port.id).catch((err) => {
          if (!isProtectorError(err, 'NOT_FOUND')) throw err;
        });
      }
      for (const subnet of await cloud.listSubnets({ network_id: networkId }))
        await cloud.deleteSubnet(subnet.id);
      await cloud.deleteNetwork(networkId);
    } catch (err) {
      if (!isProtectorError(err, 'NOT_FOUND')) throw err;
    }
  }
}

export type SiteSteps = ReturnType<typeof createSiteSteps>;

export function asError(err: unknown): { code: string; message: string; retryable: boolean } {
  if (err instanceof ProtectorError)
    return { code: err.code, message: err.message, retryable: err.retryable };
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err), retryable: false };
}

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
