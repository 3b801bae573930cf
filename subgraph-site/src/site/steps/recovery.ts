/** Recovering members from a recovery point: array copy, Cinder manage, boot (or in place, where a member ran before). */

import { crashPoint, lazily, limiter, mapLimit } from '@protector/platform';
import { errorJson, isProtectorError, type Json, ProtectorError } from '@protector/schema';
import {
  groupMemberName,
  type MaterializeRequest,
  type RecoveryPoint,
  type ReplicationGroupRef,
} from '@protector/storage-drivers';
import type { ProtectionGroupMember, ProtectionGroupReplica, ResourceMappingInput } from '../../db/index.js';
import type { CreateServerRequest, OpenStackClient, Server, Volume } from '../../openstack/index.js';
import { storageRef } from '../context.js';
import { pointJson } from '../events.js';
import { mappingFromInput, memberToInput } from '../metadata.js';

import { type StepKey, type StepKit, short, TAG } from './kit.js';

export function recoverySteps(kit: StepKit) {
  const { ctx, repo, driver, once, tenantCloud, flavorIdOf, serverNetworks, arrayNameOf } = kit;
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
    crashPoint('site:materializeRecoveryPoint:copied');
    const active = await a.bootTurn(async () => {
      await a.cloud.startServer(serverId).catch((err) => {
        if (!isProtectorError(err, 'INVALID_STATE')) throw err;
      });
      return a.cloud.waitForServerStatus(serverId, 'ACTIVE', { timeoutMs: 300_000 });
    });
    return {
      serverId,
      placement: {
        flavorId: await flavorIdOf(a.cloud, active),
        networkIds: await serverNetworks(a.cloud, serverId),
      },
      volumes: member.volumes.map((v, i) => ({ memberVolumeId: v.id, volumeId: volumeIds[i]! })),
    };
  }

  /** Copy, manage and boot one member; safe to repeat (it finds the copies and the server it made before). */
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
    /** What the tenant held when this attempt began: where a repeat finds what a cut attempt made. */
    before: { volumes(): Promise<Volume[]>; servers(): Promise<Server[]> };
    /** A turn to boot (at most `recovery_concurrency` at once); preparing a member takes none. */
    bootTurn: <T>(fn: () => Promise<T>) => Promise<T>;
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
    // A repeat after a crash adopts what the cut attempt made. Cinder keeps the metadata given at manage
    // and its Pure driver renames the array copy volume-<id>-cinder, so a managed copy is found by its
    // tags, not by its r-/t- name (gone from the array once managed).
    const ours = (cv: Volume, memberVolumeId: string) =>
      cv.metadata?.[TAG.pg] === pg.id &&
      cv.metadata?.[TAG.operation] === opTag &&
      cv.metadata?.[TAG.member] === member.id &&
      cv.metadata?.[TAG.memberVolume] === memberVolumeId;
    const cinderVolumes = await a.before.volumes();
    // A manage Cinder refused after accepting it (error_managing) is dropped and asked for again.
    for (const cv of cinderVolumes) {
      if (cv.status === 'error_managing' && requests.some((r) => ours(cv, r.memberVolumeId))) {
        await a.cloud.deleteVolume(cv.id).catch((err) => {
          if (!isProtectorError(err, 'NOT_FOUND')) throw err;
        });
      }
    }
    const managed = new Map(
      requests.flatMap((r) => {
        const found = cinderVolumes.find(
          (cv) => cv.status !== 'error_managing' && ours(cv, r.memberVolumeId),
        );
        return found ? [[r.memberVolumeId, found] as const] : [];
      }),
    );
    // Copies only what Cinder does not hold yet (a repeat finds its own earlier copies on the array).
    const toCopy = requests.filter((r) => !managed.has(r.memberVolumeId));
    if (toCopy.length) await driver.materialize(a.ref, point.name, toCopy);
    crashPoint('site:materializeRecoveryPoint:copied');
    const placed: {
      memberVolumeId: string;
      volumeId: string;
      bootIndex: number | null;
      device: string | null;
    }[] = [];
    for (const r of requests) {
      const v = member.volumes.find((x) => x.id === r.memberVolumeId)!;
      let volume =
        managed.get(r.memberVolumeId) ??
        (await a.cloud
          .manageVolume({
            host: ctx.cinderHost,
            sourceName: r.targetVolume,
            name: `${member.name}-${v.deviceName?.replace('/dev/', '') ?? short(v.id, 6)}${test ? '-drill' : ''}`,
            volume_type: v.volumeType ?? undefined,
            bootable: v.bootIndex === 0,
            metadata: { ...tags, [TAG.memberVolume]: v.id },
          })
          .catch((err) => {
            // Cinder refuses a host without a cinder-volume service at once ("Host '...' not found").
            if (isProtectorError(err) && /Host '.*' not found/.test(err.message)) {
              throw new ProtectorError(
                'CONFIG_INVALID',
                `Cinder refused to manage array volume '${r.targetVolume}' into [cinder] volume_host = '${ctx.cinderHost}': ${err.message}. Set [cinder] volume_host on site ${ctx.siteName} to the FlashArray backend's pool (host@backend#pool, as \`cinder get-pools\` lists it), restart protector-site and check it with 'protector site validate ${ctx.siteName}'.`,
                { option: '[cinder] volume_host', host: ctx.cinderHost },
              );
            }
            throw err;
          }));
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
                if (now.status === 'error_managing') {
                  throw new ProtectorError(
                    'CLOUD_ERROR',
                    `Cinder could not manage array volume '${r.targetVolume}' on host '${ctx.cinderHost}' (volume ${now.id} is in status error_managing): the host's pool must exist and fit volume type '${v.volumeType ?? 'default'}', and the array copy must exist. Check [cinder] volume_host with 'protector site validate ${ctx.siteName}'.`,
                    { volumeId: now.id, host: ctx.cinderHost, sourceName: r.targetVolume },
                  );
                }
                throw err;
              });
      placed.push({
        memberVolumeId: v.id,
        volumeId: volume.id,
        bootIndex: v.bootIndex,
        device: v.deviceName,
      });
    }
    crashPoint('site:materializeRecoveryPoint:managed');
    if (!a.boot)
      return {
        serverId: null,
        placement: null,
        volumes: placed.map(({ memberVolumeId, volumeId }) => ({ memberVolumeId, volumeId })),
      };
    const boot = placed.find((p) => p.bootIndex === 0) ?? placed[0]!;
    // The server a cut attempt booted, else what to boot: both known before the turn to boot comes.
    const existing = (await a.before.servers()).find(
      (s) =>
        s.metadata?.[TAG.operation] === opTag &&
        s.metadata?.[TAG.member] === member.id &&
        s.metadata?.[TAG.pg] === pg.id,
    );
    const request = existing ? null : await serverRequest(a, placed, boot, tags);
    const active = await a.bootTurn(async () => {
      const server = existing ?? (await a.cloud.createServer(request!));
      return a.cloud.waitForServerStatus(server.id, 'ACTIVE', { timeoutMs: 300_000, current: server });
    });
    return {
      serverId: active.id,
      placement: {
        flavorId: await flavorIdOf(a.cloud, active),
        networkIds: test ? [] : await serverNetworks(a.cloud, active.id),
      },
      volumes: placed.map(({ memberVolumeId, volumeId }) => ({ memberVolumeId, volumeId })),
    };
  }

  /**
   * What Nova is asked to boot for a prepared member: its own flavor and networks where it ran, mapped
   * to this site, else the group's mappings (the operation's win over the stored ones, kind by kind).
   */
  async function serverRequest(
    a: Parameters<typeof recoverMember>[0],
    placed: readonly { volumeId: string }[],
    boot: { volumeId: string },
    tags: Record<string, string>,
  ): Promise<CreateServerRequest> {
    const { pg, member, test } = a;
    const stored = (await repo.listResourceMappings(pg.id)).filter((m) => m.targetSite === ctx.siteName);
    const given = a.mappings.filter((m) => m.targetSite === ctx.siteName);
    const ofKind = (kind: string) => {
      const mine = given.filter((m) => m.kind === kind);
      return mine.length ? mine : stored.filter((m) => m.kind === kind);
    };
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
    return {
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
    };
  }

  return {
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
      return once(key, 'materializeRecoveryPoint', input, async (attempt) => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const test = input.test ?? false;
        const ref = await storageRef(ctx, pg);
        if (ref.targetArray !== ctx.localArray) {
          throw new ProtectorError(
            'INVALID_STATE',
            `Site ${ctx.siteName} is the replication source of '${pg.name}', not its target; recover on the other site.`,
          );
        }
        let points = await driver.listRecoveryPoints(ref);
        if (pg.replicationType === 'sync' && !input.recoveryPoint) {
          // A pod mirrors every write: recover what this array holds now (zero loss), through a snapshot
          // named by this step, so a repeat after a crash uses the same one.
          const suffix = `op-${short(`${key.operationId}/${key.stepKey}`, 12)}`;
          if (!points.some((p) => p.name === `${ref.name}.${suffix}`)) {
            await driver.replicateNow(ref, { suffix });
            points = await driver.listRecoveryPoints(ref);
          }
          points = points.filter((p) => p.name === `${ref.name}.${suffix}`);
        }
        const allMembers = await repo.listMembers(pg.id);
        const members = input.memberIds?.length
          ? allMembers.filter((m) => input.memberIds!.includes(m.id))
          : allMembers;
        // By default the newest complete point that holds every member's volumes (a member added since the
        // last replication is not in it yet), else the newest complete one.
        const wanted = members.flatMap((m) =>
          m.volumes.map((v) => v.arrayVolumeName && groupMemberName(ref, v.arrayVolumeName)),
        );
        const complete = points.filter((p) => p.complete);
        // A repeat after a crash recovers from the point the cut attempt chose (newer ones may have
        // landed since): every member then comes from one point, and its copies are adopted.
        const chosen = (attempt.progress as { recoveryPoint?: string } | null)?.recoveryPoint;
        const named = chosen ?? input.recoveryPoint;
        const point = named
          ? points.find((p) => p.name === named)
          : (complete.find((p) => {
              const has = new Set(p.volumes);
              return wanted.every((v) => !!v && has.has(v));
            }) ?? complete[0]);
        if (point && !chosen) await attempt.note({ recoveryPoint: point.name });
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
        // Listed once for all members (not once per member), when the first one needs them.
        const before = { volumes: lazily(() => tc.listVolumes()), servers: lazily(() => tc.listServers()) };
        // `recovery_concurrency` members boot at once while as many more are prepared (array copies,
        // Cinder manage), so each boot turn goes straight to a member that is ready.
        const bootTurn = limiter(ctx.recoveryConcurrency);
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
              before,
              bootTurn,
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
              error: errorJson(err),
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
              ctx.recoveryConcurrency * 2,
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
  };
}
