/**
 * Pods (ActiveCluster): create, stretch to and unstretch from arrays, promote and demote, destroy and
 * eradicate; and synchronous mirroring: host writes reach every reachable pod array, and an array
 * that missed writes is resynced once a peer can reach it again.
 */
import { flashArrayNameProblem } from '@protector/schema';
import { arrayRef, arrayRow, linkStatus, linkType } from './arrays.js';
import type { ArrayModel, PodArrayRow } from './model.js';
import { podArray, podArrays, podOf, requireLivePod, volumesInPod } from './pod-members.js';
import type { Item } from './query.js';
import { ArrayError, type Body, bad, names, type Query, required, requireExisting } from './rest.js';
import { liveVolume, setContent } from './volumes.js';

/** A pod as REST 2.26 returns it: its arrays with their status, and the pod's promotion as `array` sees it. */
function podItem(m: ArrayModel, array: string, pod: string): Item {
  const arrays = podArrays(m, pod);
  const me = arrays.find((a) => a.array === array)?.promotion ?? 'demoted';
  return {
    id: pod,
    name: pod,
    arrays: arrays.map((a) => ({
      ...arrayRef(m, a.array),
      status: a.status,
      frozen_at: null,
      mediator_status: 'online',
      pre_elected: false,
      progress: null,
    })),
    array_count: arrays.length,
    // A demotion in progress still reads promoted (REST 2.26 knows promoted, promoting and demoted).
    promotion_status: me === 'demoting' ? 'promoted' : me,
    requested_promotion_state: me === 'promoting' || me === 'promoted' ? 'promoted' : 'demoted',
    destroyed: false,
    source: null,
  };
}

/** A pod and one of its arrays, as `/pods/arrays` lists them (REST `Member`). */
const podMember = (m: ArrayModel, pod: string, array: string): Item => ({
  group: { id: pod, name: pod },
  member: arrayRef(m, array),
});

/** Brings every volume of `pod` on array `to` up to its content on array `from`, creating the missing ones. */
function copyPodVolumes(m: ArrayModel, pod: string, from: string, to: string): void {
  for (const v of volumesInPod(m, from, pod)) {
    setContent(m, to, v.name, v.content_origin, v.content_version, v.provisioned);
  }
}

/** `GET /pods`: the live pods this array is a member of, optionally by `names` (each must exist). */
export function selectPods(m: ArrayModel, array: string, q: Query): Item[] {
  const wanted = names(q.names);
  const pods = (
    m.db
      .prepare(
        'SELECT p.name FROM pods p JOIN pod_arrays a ON a.pod = p.name WHERE a.array = ? AND p.destroyed = 0 ORDER BY p.name',
      )
      .all(array) as { name: string }[]
  ).map((r) => r.name);
  requireExisting('Pod', wanted, pods);
  return pods.filter((p) => !wanted.length || wanted.includes(p)).map((p) => podItem(m, array, p));
}

/** `POST /pods`: a pod on this array alone, online and promoted. */
export function postPods(m: ArrayModel, array: string, q: Query): Item[] {
  const list = required(q, 'names');
  return list.map((name) => {
    const problem = flashArrayNameProblem(name);
    if (problem) throw bad(problem, name);
    if (m.db.prepare('SELECT 1 FROM pods WHERE name = ?').get(name))
      throw bad(`Pod '${name}' already exists.`, name);
    m.db.prepare('INSERT INTO pods (name, created) VALUES (?, ?)').run(name, m.now());
    m.db.prepare("INSERT INTO pod_arrays VALUES (?, ?, 'online', 'promoted', 0)").run(name, array);
    return podItem(m, array, name);
  });
}

/** `POST /pods/arrays`: stretches pods to connected arrays, which get a mirror of every pod volume. */
export function stretchPod(m: ArrayModel, array: string, q: Query): Item[] {
  const pods = required(q, 'group_names');
  const members = required(q, 'member_names');
  return pods.flatMap((pod) => {
    requireLivePod(m, pod, array);
    return members.map((target) => {
      arrayRow(m, target);
      if (podArray(m, pod, target))
        throw bad(`Array '${target}' is already a member of pod '${pod}'.`, target);
      if (linkStatus(m, array, target) !== 'connected') {
        throw bad(`Array '${target}' is not connected to this array; cannot stretch pod '${pod}'.`, target);
      }
      if (linkType(m, array, target) !== 'sync-replication') {
        throw bad(
          `Array '${target}' is connected for async-replication only; stretching pod '${pod}' needs a sync-replication connection.`,
          target,
        );
      }
      const position = podArrays(m, pod).length;
      m.db
        .prepare("INSERT INTO pod_arrays VALUES (?, ?, 'online', 'promoted', ?)")
        .run(pod, target, position);
      copyPodVolumes(m, pod, array, target);
      return podMember(m, pod, target);
    });
  });
}

/** `DELETE /pods/arrays`: takes arrays out of stretched pods; their copies of the pod volumes go. */
export function unstretchPod(m: ArrayModel, q: Query): void {
  for (const pod of names(q.group_names)) {
    for (const member of names(q.member_names)) {
      if (!podArray(m, pod, member)) throw bad(`Array '${member}' is not a member of pod '${pod}'.`, member);
      if (podArrays(m, pod).length < 2) throw bad(`Pod '${pod}' is not stretched.`, pod);
      m.db.prepare('DELETE FROM pod_arrays WHERE pod = ? AND array = ?').run(pod, member);
      m.db.prepare('DELETE FROM volumes WHERE array = ? AND name LIKE ?').run(member, `${pod}::%`);
    }
  }
}

/** Renames a pod on every array; its volumes `OLD::VOL` (and their snapshots) become `NEW::VOL`. */
function renamePod(m: ArrayModel, pod: string, to: string): void {
  const problem = flashArrayNameProblem(to);
  if (problem) throw bad(problem, to);
  if (m.db.prepare('SELECT 1 FROM pods WHERE name = ?').get(to)) throw bad(`Pod '${to}' already exists.`, to);
  const rest = pod.length + 3;
  m.db.prepare('UPDATE pods SET name = ? WHERE name = ?').run(to, pod);
  m.db.prepare('UPDATE pod_arrays SET pod = ? WHERE pod = ?').run(to, pod);
  for (const [table, column] of [
    ['volumes', 'name'],
    ['volume_snaps', 'name'],
    ['volume_snaps', 'volume'],
  ] as const) {
    m.db
      .prepare(`UPDATE ${table} SET ${column} = ? || substr(${column}, ?) WHERE substr(${column}, 1, ?) = ?`)
      .run(`${to}::`, rest, rest - 1, `${pod}::`);
  }
}

/** `PATCH /pods`: name, promotion state (stretched pods only) on this array, or destroy (empty pods only). */
export function patchPods(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const list = required(q, 'names');
  return list.map((given) => {
    let pod = given;
    requireLivePod(m, pod, array);
    if (typeof body.name === 'string' && body.name !== pod) {
      renamePod(m, pod, body.name);
      pod = body.name;
    }
    const state = body.requested_promotion_state;
    if (state !== undefined) {
      if (state !== 'promoted' && state !== 'demoted') {
        throw bad(`Invalid requested_promotion_state '${String(state)}'. Use 'promoted' or 'demoted'.`, pod);
      }
      if (podArrays(m, pod).length < 2) {
        throw bad(`Pod '${pod}' is not stretched; promotion state can only change on a stretched pod.`, pod);
      }
      // Asynchronous, as on an array: 'promoting' or 'demoting' until the next tick completes it.
      const me = podArray(m, pod, array);
      if (me?.promotion !== state) {
        m.db
          .prepare('UPDATE pod_arrays SET promotion = ? WHERE pod = ? AND array = ?')
          .run(state === 'promoted' ? 'promoting' : 'demoting', pod, array);
      }
    }
    if (body.destroyed === true) {
      if (volumesInPod(m, array, pod).length)
        throw bad(`Pod '${pod}' contains volumes and cannot be destroyed.`, pod);
      m.db.prepare('UPDATE pods SET destroyed = 1 WHERE name = ?').run(pod);
    }
    return podItem(m, array, pod);
  });
}

/** `DELETE /pods`: only destroyed pods can be eradicated. */
export function eradicatePods(m: ArrayModel, array: string, list: string[]): void {
  for (const pod of list) {
    const row = m.db.prepare('SELECT destroyed FROM pods WHERE name = ?').get(pod) as
      | { destroyed: number }
      | undefined;
    if (!row || !podArray(m, pod, array)) throw bad(`Pod '${pod}' does not exist.`, pod);
    if (!row.destroyed) throw bad(`Pod '${pod}' must be destroyed before it can be eradicated.`, pod);
    m.db.prepare('DELETE FROM pod_arrays WHERE pod = ?').run(pod);
    m.db.prepare('DELETE FROM pods WHERE name = ?').run(pod);
  }
}

/** `GET /pods/arrays`: each array of the named pods (their status is on `GET /pods`). */
export function selectPodArrays(m: ArrayModel, q: Query): Item[] {
  return names(q.group_names).flatMap((pod) => podArrays(m, pod).map((a) => podMember(m, pod, a.array)));
}

/**
 * A host write to a volume: its content version advances. For a pod volume the write is mirrored
 * synchronously to every pod array that can be reached; the others fall offline until resynced.
 */
export function hostWrite(m: ArrayModel, array: string, volume: string): { origin: string; version: number } {
  if (arrayRow(m, array).down) throw new ArrayError(503, `Array '${array}' is down.`, array);
  const vol = liveVolume(m, array, volume);
  const origin = vol.content_origin ?? vol.serial;
  const version = vol.content_version + 1;
  const pod = podOf(volume);
  if (pod) {
    const me = podArray(m, pod, array);
    if (!me || me.status !== 'online' || me.promotion !== 'promoted') {
      throw bad(`Pod '${pod}' is not writable on array '${array}'.`, volume);
    }
    for (const peer of podArrays(m, pod)) {
      if (peer.array === array) continue;
      if (peer.status === 'online' && linkStatus(m, array, peer.array) === 'connected') {
        setContent(m, peer.array, volume, origin, version);
      } else {
        m.db
          .prepare("UPDATE pod_arrays SET status = 'offline' WHERE pod = ? AND array = ?")
          .run(pod, peer.array);
      }
    }
  }
  setContent(m, array, volume, origin, version);
  return { origin, version };
}

/** Completes the promotions and demotions requested since the last tick. */
export function completePromotions(m: ArrayModel): void {
  m.db.prepare("UPDATE pod_arrays SET promotion = 'promoted' WHERE promotion = 'promoting'").run();
  m.db.prepare("UPDATE pod_arrays SET promotion = 'demoted' WHERE promotion = 'demoting'").run();
}

/** Brings every pod array that fell behind back online from an online peer that can reach it. */
export function resyncPods(m: ArrayModel): void {
  for (const row of m.db
    .prepare("SELECT * FROM pod_arrays WHERE status != 'online'")
    .all() as PodArrayRow[]) {
    const donor = podArrays(m, row.pod).find(
      (p) => p.status === 'online' && linkStatus(m, p.array, row.array) === 'connected',
    );
    if (!donor || arrayRow(m, row.array).down) continue;
    copyPodVolumes(m, row.pod, donor.array, row.array);
    m.db
      .prepare("UPDATE pod_arrays SET status = 'online' WHERE pod = ? AND array = ?")
      .run(row.pod, row.array);
  }
}
