/**
 * Which arrays a pod spans and which volumes it holds (`POD::VOL`): the pod lookups that volumes,
 * snapshots and the pod handlers share.
 */
import type { ArrayModel, PodArrayRow, VolumeRow } from './model.js';
import { bad } from './rest.js';

/** The pod a volume belongs to, from its name (`POD::VOL`), or null. */
export const podOf = (volume: string): string | null =>
  volume.includes('::') ? volume.split('::')[0]! : null;

/** The pod's arrays in the order they joined. */
export function podArrays(m: ArrayModel, pod: string): PodArrayRow[] {
  return m.db.prepare('SELECT * FROM pod_arrays WHERE pod = ? ORDER BY position').all(pod) as PodArrayRow[];
}

export function podArray(m: ArrayModel, pod: string, array: string): PodArrayRow | undefined {
  return podArrays(m, pod).find((p) => p.array === array);
}

/** `array`'s membership of a pod that is not destroyed; 400 when there is none. */
export function requireLivePod(m: ArrayModel, pod: string, array: string): PodArrayRow {
  const row = m.db.prepare('SELECT * FROM pods WHERE name = ? AND destroyed = 0').get(pod);
  const member = podArray(m, pod, array);
  if (!row || !member) throw bad(`Pod '${pod}' does not exist.`, pod);
  return member;
}

/** The live volumes of a pod on one of its arrays. */
export function volumesInPod(m: ArrayModel, array: string, pod: string): VolumeRow[] {
  return m.db
    .prepare('SELECT * FROM volumes WHERE array = ? AND name LIKE ? AND destroyed = 0')
    .all(array, `${pod}::%`) as VolumeRow[];
}
