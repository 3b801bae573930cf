/**
 * Async replication as FlashArray protection groups: the group on the source with the target allowed
 * on the other array, member volumes, schedule and retention, and group snapshots replicated to the
 * target (`SOURCE:GROUP.<suffix>`), which are the recovery points.
 */
import type { Json } from '@protector/schema';
import type { RecoveryPoint } from '../types.js';
import { pickRef, replicaName, toAsyncPoint, volumesByPoint } from './mapping.js';
import type { GroupArrays, ReplicationMechanism } from './mechanism.js';

/**
 * The group's recovery points on its target array, newest first (or just `point`): the snapshots,
 * their transfer records (where REST 2.x keeps replication progress) and their volume snapshots (of
 * the volumes `only` names, when given: each read by name, so one member's check costs the same in a group of
 * any size).
 */
async function readPoints(
  { ref, dst }: GroupArrays,
  point?: string,
  only?: readonly string[],
): Promise<RecoveryPoint[]> {
  const replica = replicaName(ref);
  const volumeSnapQuery = point && only ? only.map((v) => protectionGroups.volumeSnapshot(point, v)) : null;
  const [snaps, transfers, volumeSnaps] = await Promise.all([
    dst.listOrEmpty<Json>('/protection-group-snapshots', {
      ...(point ? { names: point } : { source_names: replica }),
      destroyed: 'false',
      sort: 'created-,name-',
    }),
    dst.listOrEmpty<Json>('/protection-group-snapshots/transfer', {
      names: point ?? replica,
      destroyed: 'false',
    }),
    volumeSnapQuery?.length === 0
      ? []
      : dst.listOrEmpty<Json>('/volume-snapshots', {
          ...(volumeSnapQuery
            ? { names: volumeSnapQuery.join(',') }
            : { filter: `name='${point ?? replica}.*'` }),
          destroyed: 'false',
        }),
  ]);
  const transfer = new Map(transfers.map((t) => [String(t.name), t]));
  const volumes = volumesByPoint(volumeSnaps);
  return snaps.map((s) =>
    toAsyncPoint(ref, s, transfer.get(String(s.name)), volumes.get(String(s.name)) ?? []),
  );
}

export const protectionGroups: ReplicationMechanism = {
  kind: 'Protection group',

  async ensure({ ref, src, dst }) {
    const [existing] = await src.listOrEmpty<Json>('/protection-groups', { names: ref.name });
    if (!existing) {
      await src.request({ method: 'POST', path: '/protection-groups', query: { names: ref.name } });
    } else if (existing.destroyed) {
      await src.request({
        method: 'PATCH',
        path: '/protection-groups',
        query: { names: ref.name },
        body: { destroyed: false },
      });
    }
    const targets = await src.list<Json>('/protection-groups/targets', { group_names: ref.name });
    if (!targets.some((t) => (t.member as Json).name === ref.targetArray)) {
      await src.request({
        method: 'POST',
        path: '/protection-groups/targets',
        query: { group_names: ref.name, member_names: ref.targetArray },
      });
    }
    await dst.request({
      method: 'PATCH',
      path: '/protection-groups/targets',
      query: { group_names: replicaName(ref) },
      body: { allowed: true },
    });
  },

  async get({ ref, src }) {
    const [group] = await src.listOrEmpty<Json>('/protection-groups', { names: ref.name });
    if (!group || group.destroyed) return null;
    const members = await src.list<Json>('/protection-groups/volumes', { group_names: ref.name });
    const sched = group.replication_schedule as { enabled: boolean; frequency: number };
    const ret = group.target_retention as { all_for_sec: number; per_day: number; days: number };
    return {
      ...pickRef(ref),
      targetName: replicaName(ref),
      volumes: members.map((m) => String((m.member as Json).name)),
      schedule: {
        enabled: sched.enabled,
        intervalSeconds: Math.round(sched.frequency / 1000),
        retention: { allForSeconds: ret.all_for_sec, perDay: ret.per_day, days: ret.days },
      },
      podArrays: [],
    };
  },

  memberName: (_ref, volume) => volume,

  async rename({ ref, src }, to) {
    await src.request({
      method: 'PATCH',
      path: '/protection-groups',
      query: { names: ref.name },
      body: { name: to },
    });
  },
  async delete({ ref, src }) {
    const [group] = await src.listOrEmpty<Json>('/protection-groups', { names: ref.name });
    if (!group) return;
    if (!group.destroyed) {
      await src.request({
        method: 'PATCH',
        path: '/protection-groups',
        query: { names: ref.name },
        body: { destroyed: true },
      });
    }
    await src.request({ method: 'DELETE', path: '/protection-groups', query: { names: ref.name } });
  },

  async add({ ref, src }, group, volumes) {
    const missing = volumes.filter((v) => !group.volumes.includes(v));
    if (missing.length) {
      await src.request({
        method: 'POST',
        path: '/protection-groups/volumes',
        query: { group_names: ref.name, member_names: missing.join(',') },
      });
    }
  },

  async remove({ ref, src }, _group, present) {
    if (present.length) {
      await src.request({
        method: 'DELETE',
        path: '/protection-groups/volumes',
        query: { group_names: ref.name, member_names: present.join(',') },
      });
    }
  },

  async applySchedule({ ref, src }, schedule) {
    await src.request({
      method: 'PATCH',
      path: '/protection-groups',
      query: { names: ref.name },
      body: {
        replication_schedule: { enabled: schedule.enabled, frequency: schedule.intervalSeconds * 1000 },
        target_retention: {
          all_for_sec: schedule.retention.allForSeconds,
          per_day: schedule.retention.perDay,
          days: schedule.retention.days,
        },
      },
    });
  },

  async snapshot(g, _group, suffix) {
    await g.src.request({
      method: 'POST',
      path: '/protection-group-snapshots',
      query: { source_names: g.ref.name, replicate_now: 'true' },
      body: { suffix },
    });
    const [point] = await readPoints(g, `${replicaName(g.ref)}.${suffix}`);
    return point!;
  },

  points: (g) => readPoints(g),

  point: async (g, name, volumes) => (await readPoints(g, name, volumes))[0] ?? null,

  volumeSnapshot: (point, volume) => `${point}.${volume}`,

  setPromotion: null,
};
