/**
 * Sync replication as ActiveCluster pods: the pod stretched to the target array, volumes moved into
 * it (`POD::VOL`, mirrored on every write), promotion state per array, and volume snapshots on the
 * target (`POD::VOL.<suffix>`), one recovery point per suffix.
 */
import { isProtectorError, type Json, ProtectorError } from '@protector/schema';
import type { PodArrayState } from '../types.js';
import { pickRef, podVolumeFilter, podVolumeName, toSyncPoints } from './mapping.js';
import { DEFAULT_SCHEDULE, type GroupArrays, type ReplicationMechanism } from './mechanism.js';

/** How long a pod may take to reach a requested promotion state, and how often it is asked. */
const PROMOTION_TIMEOUT_MS = 120_000;
const PROMOTION_POLL_MS = 250;

export const pods: ReplicationMechanism = {
  kind: 'Pod',

  async ensure({ ref, src }) {
    const [pod] = await src.listOrEmpty<Json>('/pods', { names: ref.name });
    const arrays = ((pod?.arrays as Json[] | undefined) ?? []).map((a) => a.name);
    if (arrays.includes(ref.targetArray)) return;
    // ActiveCluster stretches a pod only over a sync-replication connection: check before creating anything.
    const [conn] = await src.listOrEmpty<Json>('/array-connections', { names: ref.targetArray });
    if (conn && conn.type !== 'sync-replication') {
      throw new ProtectorError(
        'INVALID_STATE',
        `Arrays '${ref.sourceArray}' and '${ref.targetArray}' are connected for ${String(conn.type)}; a sync (pod) group needs a sync-replication array connection. Connect the arrays for sync replication, or protect the group with async replication.`,
        { group: ref.name, connection: String(conn.type) },
      );
    }
    if (!pod) await src.request({ method: 'POST', path: '/pods', query: { names: ref.name } });
    await src.request({
      method: 'POST',
      path: '/pods/arrays',
      query: { group_names: ref.name, member_names: ref.targetArray },
    });
  },

  async get({ ref, src, dst }) {
    // A stretched pod is the same on each of its arrays: read it where it answers (the source may be lost).
    const read = async (client: typeof src) => {
      const [pod] = await client.listOrEmpty<Json>('/pods', { names: ref.name });
      if (!pod) return null;
      const vols = await client.list<Json>('/volumes', {
        filter: podVolumeFilter(ref.name),
        destroyed: 'false',
      });
      return { pod, vols };
    };
    let found: Awaited<ReturnType<typeof read>>;
    let readFrom = ref.sourceArray;
    try {
      found = await read(src);
    } catch (err) {
      if (!isProtectorError(err, 'STORAGE_UNREACHABLE')) throw err;
      found = await read(dst);
      readFrom = ref.targetArray;
      if (!found?.pod.arrays || !(found.pod.arrays as Json[]).some((a) => a.name === ref.sourceArray))
        throw err;
    }
    if (!found) return null;
    const { pod, vols } = found;
    // REST 2.26 reports a pod's promotion_status as the array asked sees it (per pod, not per pod
    // array): ask each of the group's arrays; null for one that does not answer.
    const promotionOn = async (array: string): Promise<PodArrayState['promotionStatus']> => {
      if (array === readFrom) return pod.promotion_status as PodArrayState['promotionStatus'];
      const client = array === ref.sourceArray ? src : array === ref.targetArray ? dst : null;
      if (!client) return null;
      const [there] = await client.listOrEmpty<Json>('/pods', { names: ref.name }).catch(() => []);
      return (there?.promotion_status as PodArrayState['promotionStatus'] | undefined) ?? null;
    };
    return {
      ...pickRef(ref),
      targetName: ref.name,
      volumes: vols.map((v) => String(v.name)),
      schedule: { enabled: false, intervalSeconds: 0, retention: DEFAULT_SCHEDULE.retention },
      podArrays: await Promise.all(
        (pod.arrays as Json[]).map(async (a) => ({
          array: String(a.name),
          status: a.status as PodArrayState['status'],
          promotionStatus: await promotionOn(String(a.name)),
        })),
      ),
    };
  },

  memberName: (ref, volume) =>
    volume.startsWith(`${ref.name}::`) ? volume : podVolumeName(ref.name, volume),

  async rename(g: GroupArrays, to: string) {
    const group = await pods.get(g);
    // Renaming a pod renames its volumes (POD::VOL), which Cinder and the members know by name.
    if (group?.volumes.length) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Pod '${g.ref.name}' holds ${group.volumes.length} volume(s), and renaming a pod renames its volumes; set purePgName before adding members, or keep the pod's name.`,
        { volumes: group.volumes },
      );
    }
    await g.src.request({ method: 'PATCH', path: '/pods', query: { names: g.ref.name }, body: { name: to } });
  },
  async delete(g: GroupArrays) {
    const { ref, src } = g;
    const group = await pods.get(g);
    if (!group) return;
    if (group.volumes.length) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Pod '${ref.name}' still holds ${group.volumes.length} volume(s); remove them from the group before deleting it.`,
        { volumes: group.volumes },
      );
    }
    for (const a of group.podArrays.filter((p) => p.array !== ref.sourceArray)) {
      await src.request({
        method: 'DELETE',
        path: '/pods/arrays',
        query: { group_names: ref.name, member_names: a.array },
      });
    }
    await src.request({
      method: 'PATCH',
      path: '/pods',
      query: { names: ref.name },
      body: { destroyed: true },
    });
    await src.request({ method: 'DELETE', path: '/pods', query: { names: ref.name } });
  },

  async add({ ref, src }, group, volumes) {
    for (const v of volumes) {
      if (group.volumes.includes(v) || group.volumes.includes(podVolumeName(ref.name, v))) continue;
      await src.request({
        method: 'PATCH',
        path: '/volumes',
        query: { names: v },
        body: { pod: { name: ref.name } },
      });
    }
  },

  async remove({ src }, _group, present) {
    for (const v of present) {
      await src.request({ method: 'PATCH', path: '/volumes', query: { names: v }, body: { pod: null } });
    }
  },

  // Pods replicate every write; they take no schedule.
  applySchedule: null,

  async snapshot(g: GroupArrays, group, suffix) {
    const { ref, dst } = g;
    if (!group.volumes.length) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Pod '${ref.name}' holds no volumes; there is nothing to snapshot.`,
      );
    }
    // The target's copy is current only while its pod array is online (not missing writes).
    const there = group.podArrays.find((a) => a.array === ref.targetArray);
    if (there?.status !== 'online') {
      throw new ProtectorError(
        'REPLICATION_LINK_DOWN',
        `Pod '${ref.name}' is ${there?.status ?? 'not stretched'} on array '${ref.targetArray}'; its copy there is not current. Wait for the pod to resync, or recover from an earlier recovery point.`,
        { group: ref.name, array: ref.targetArray },
      );
    }
    await dst.request({
      method: 'POST',
      path: '/volume-snapshots',
      query: { source_names: group.volumes.join(',') },
      body: { suffix },
    });
    const points = await pods.points(g);
    return points.find((p) => p.name === `${ref.name}.${suffix}`)!;
  },

  async point(g, name, volumes) {
    // A pod's point is its volumes' snapshots of one suffix: without volumes, all of them are read.
    if (!volumes.length) return (await pods.points(g)).find((p) => p.name === name) ?? null;
    const { ref, dst } = g;
    const snaps = await dst.listOrEmpty<Json>('/volume-snapshots', {
      names: volumes.map((v) => pods.volumeSnapshot(name, v)).join(','),
      destroyed: 'false',
    });
    return toSyncPoints(ref, snaps).find((p) => p.name === name) ?? null;
  },

  async points({ ref, dst }) {
    const snaps = await dst.list<Json>('/volume-snapshots', {
      filter: podVolumeFilter(ref.name),
      destroyed: 'false',
    });
    return toSyncPoints(ref, snaps);
  },

  volumeSnapshot: (point, volume) => `${volume}.${point.slice(point.lastIndexOf('.') + 1)}`,

  async setPromotion(client, ref, state, clock) {
    await client.request({
      method: 'PATCH',
      path: '/pods',
      query: { names: ref.name },
      body: { requested_promotion_state: state },
    });
    // The array changes a pod's promotion asynchronously ('promoting' or 'demoting' on the way): the
    // step is done when the pod's promotion_status is the requested state.
    const deadline = clock.now() + PROMOTION_TIMEOUT_MS;
    for (;;) {
      const [pod] = await client.list<Json>('/pods', { names: ref.name });
      const now = String(pod?.promotion_status ?? '');
      if (now === state) return;
      if (!['promoting', 'demoting'].includes(now) || clock.now() > deadline) {
        throw new ProtectorError(
          'STORAGE_ERROR',
          `Pod '${ref.name}' on array ${client.endpoint} is ${now || 'gone'} after ${state === 'promoted' ? 'promotion' : 'demotion'} was requested${clock.now() > deadline ? ` (waited ${PROMOTION_TIMEOUT_MS / 1000} s)` : ''}.`,
          { group: ref.name, promotionStatus: now },
        );
      }
      await clock.sleep(PROMOTION_POLL_MS);
    }
  },
};
