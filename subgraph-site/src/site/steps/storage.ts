/** Steps on the array and the Cinder group: consistency group, array group, replicate now, promote/demote, reverse. */
import { crashPoint } from '@protector/platform';
import { isProtectorError, ProtectorError } from '@protector/schema';
import type { RecoveryPoint, ReplicationGroupRef } from '@protector/storage-drivers';
import { groupRef, storageGroupNameOf, storageRef } from '../context.js';
import { pointJson } from '../events.js';
import { memberToInput } from '../metadata.js';

import { type StepKey, type StepKit, short } from './kit.js';

export function storageSteps(kit: StepKit) {
  const { ctx, repo, cloud, driver, once, localProjectId, waitForPoint, arrayNameOf } = kit;
  /**
   * Makes this site's array the pod's promoted (writable) side, or demotes it (read-only: writes of a
   * VM left running there are refused by the array). A protection group has no promotion state: for
   * an async group the step does nothing, so one plan serves both modes.
   */
  const podRole =
    (step: 'promoteStorageGroup' | 'demoteStorageGroup') =>
    async (key: StepKey, input: { protectionGroupId: string }) =>
      once(key, step, input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const ref = await storageRef(ctx, pg);
        const promote = step === 'promoteStorageGroup';
        if (ref.mode === 'sync') {
          await (promote ? driver.promote(ref, ctx.localArray) : driver.demote(ref, ctx.localArray));
        }
        return { name: ref.name, kind: ref.mode === 'async' ? 'PROTECTION_GROUP' : 'POD', source: promote };
      });

  return {
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
        const apiTokens = ctx.arrayTokens(input.protectionGroupId);
        const ref: ReplicationGroupRef = {
          name: input.name,
          mode,
          sourceArray: input.source ? ctx.localArray : ctx.peerArray,
          targetArray: input.source ? ctx.peerArray : ctx.localArray,
          ...(apiTokens ? { apiTokens } : {}),
        };
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
          const ref = groupRef(ctx, pg, 'from-here');
          const group = await driver.getReplicationGroup(ref);
          if (group && ref.mode === 'sync' && group.volumes.length)
            await driver.removeVolumes(ref, group.volumes);
          if (group) await driver.deleteReplicationGroup(ref);
        }
        return {};
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
        if (point.complete) await repo.recordReplications([{ id: pg.id, at: point.createdAt }]);
        return { recoveryPoint: pointJson(point) };
      });
    },

    promoteStorageGroup: podRole('promoteStorageGroup'),
    demoteStorageGroup: podRole('demoteStorageGroup'),

    async reverseReplication(key: StepKey, input: { protectionGroupId: string }) {
      return once(key, 'reverseReplication', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const name = storageGroupNameOf(pg);
        const oldRef = groupRef(ctx, pg, 'to-here');
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
        crashPoint('site:reverseReplication:reversed');
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
  };
}
