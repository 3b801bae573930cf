/** Steps that keep the site's copy of a Protection Group: metadata (compare-and-set), members, policy, mappings. */
import { mapLimit } from '@protector/platform';
import { type Json, ProtectorError } from '@protector/schema';
import { type SiteContext, storageGroupNameOf, storageRef } from '../context.js';
import { mappingFromInput, memberFromInput, memberToInput, metadataFromInput } from '../metadata.js';

import { type StepKey, type StepKit, stableUuid, tenantMappingJson } from './kit.js';

/**
 * A policy's array URLs name the arrays of the site's `[storage]` (either order: primary and secondary
 * are workload-relative). The mock driver ignores them, as the product documentation says.
 */
export function checkPolicyArraysOf(
  ctx: SiteContext,
  urls: { primaryArrayUrl: string; secondaryArrayUrl: string },
): void {
  if (ctx.driver.name === 'mock') return;
  const known = ctx.driver.arrays().map((a) => a.endpoint);
  const origin = (url: string) => {
    try {
      return new URL(url).origin;
    } catch {
      return url;
    }
  };
  for (const [field, url] of Object.entries(urls)) {
    if (url && !known.includes(origin(url))) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `${field} '${url}' is not an array of site ${ctx.siteName}'s [storage] (primary_array_url ${known[0]}, secondary_array_url ${known[1]}); a policy names the same arrays as [storage].`,
        { field },
      );
    }
  }
  if (urls.primaryArrayUrl && origin(urls.primaryArrayUrl) === origin(urls.secondaryArrayUrl)) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `primaryArrayUrl and secondaryArrayUrl both name ${urls.primaryArrayUrl}; give the two arrays of [storage].`,
    );
  }
}

export function metadataSteps(kit: StepKit) {
  const {
    ctx,
    repo,
    cloud,
    driver,
    once,
    replicaJson,
    writeMembers,
    checkVolumeTypes,
    flavorIdOf,
    serverNetworks,
    serverVolumes,
    isPrimaryHere,
    arrayNameOf,
  } = kit;
  return {
    async applyProtectionGroupMetadata(key: StepKey, input: { expectedVersion: number; metadata: Json }) {
      return once(key, 'applyProtectionGroupMetadata', input, async () => {
        const md = metadataFromInput(input.metadata);
        const newVersion = Number(input.metadata.metadataVersion);
        await repo.applyProtectionGroupMetadata(md, input.expectedVersion, { newVersion });
        // Omitted or null: the stored mappings stay (a status change writes none).
        const mappings = input.metadata.resourceMappings as Json[] | null | undefined;
        if (mappings != null) await repo.replaceResourceMappings(md.id, mappings.map(mappingFromInput));
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

    /**
     * Records new members; where this site is primary, reads each one's server, volumes, flavor and
     * networks from the cloud (`recovery_concurrency` servers at once), checks every volume type, then
     * adds all their volumes to the consistency and array groups in one call each. All or nothing: one
     * bad server fails the step before anything changes.
     */
    async addMembers(
      key: StepKey,
      input: { protectionGroupId: string; expectedVersion: number; members: Json[] },
    ) {
      return once(key, 'addMembers', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        let members = input.members.map(memberFromInput);
        if (isPrimaryHere(pg)) {
          const read = await mapLimit(members, ctx.recoveryConcurrency, async (member) => {
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
            const previous = member.volumes ?? [];
            const placement = {
              flavorId: await flavorIdOf(cloud, server),
              networkIds: await serverNetworks(cloud, server.id),
            };
            return {
              volumes,
              member: {
                ...member,
                name: member.name || server.name,
                status: 'protected' as const,
                sitePlacements: { ...member.sitePlacements, [ctx.siteName]: placement },
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
              },
            };
          });
          const volumes = read.flatMap((r) => r.volumes);
          await checkVolumeTypes(pg, volumes);
          members = read.map((r) => r.member);
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
        const adding = new Set(members.map((m) => m.id));
        const current = (await repo.listMembers(pg.id)).filter((m) => !adding.has(m.id)).map(memberToInput);
        await writeMembers(pg, input.expectedVersion, [...current, ...members]);
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
          const pg = await repo.requireProtectionGroup(input.protectionGroupId);
          const current = await repo.getReplicationPolicy(pg.id);
          const p = input.policy;
          const pick = <T>(v: unknown, fallback: T): T =>
            v === undefined || v === null || v === '' ? fallback : (v as T);
          const urls = {
            primaryArrayUrl: pick(p.primaryArrayUrl, current?.primaryArrayUrl ?? ''),
            secondaryArrayUrl: pick(p.secondaryArrayUrl, current?.secondaryArrayUrl ?? ''),
          };
          checkPolicyArraysOf(ctx, urls);
          // The array group takes the policy's name: the array that replicates it renames it (its
          // replicas and recovery points follow); a repeat after a crash finds the rename done.
          const purePgName = pick(p.purePgName, current?.purePgName ?? null);
          let storageGroupName = storageGroupNameOf(pg);
          if (purePgName && purePgName !== storageGroupName) {
            const ref = await storageRef(ctx, pg);
            if (ref.sourceArray === ctx.localArray) await driver.renameReplicationGroup(ref, purePgName);
            storageGroupName = purePgName;
          }
          await repo.applyProtectionGroupMetadata(
            {
              id: pg.id,
              storageGroupName,
              replicationPolicy: {
                ...urls,
                primaryArrayToken: (p.primaryArrayToken as string | undefined) ?? undefined,
                secondaryArrayToken: (p.secondaryArrayToken as string | undefined) ?? undefined,
                purePgName,
                // The [storage] defaults apply when the policy is created; changing them later changes
                // no existing policy (never retroactive).
                replicationIntervalSeconds: pick(
                  p.replicationIntervalSeconds,
                  current?.replicationIntervalSeconds ?? ctx.defaults.replicationIntervalSeconds,
                ),
                rpoMinutes: pick(p.rpoMinutes, current?.rpoMinutes ?? ctx.defaults.rpoMinutes),
              },
            },
            input.expectedVersion,
          );
          await ctx.policyTokens.refresh(pg.id);
          // A changed interval reaches the array where this site replicates the group.
          const changed = await repo.requireProtectionGroup(pg.id);
          const policy = (await repo.getReplicationPolicy(pg.id))!;
          if (changed.storageGroupName && changed.replicationType === 'async') {
            const ref = await storageRef(ctx, changed);
            const group = ref.sourceArray === ctx.localArray ? await driver.getReplicationGroup(ref) : null;
            if (group) {
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
}
