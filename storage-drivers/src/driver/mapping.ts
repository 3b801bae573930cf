/**
 * How the driver's values map to FlashArray REST items and names: array items to `Volume` and
 * `RecoveryPoint`, and the names replication gives things (`SRC:PG` replicas, `POD::VOL` volumes).
 */
import type { Json } from '@protector/schema';
import type { RecoveryPoint, ReplicationGroupRef, Volume } from '../types.js';

/** Just the ref's fields (a ReplicationGroup passed as a ref carries more). */
export const pickRef = (ref: ReplicationGroupRef): ReplicationGroupRef => ({
  name: ref.name,
  mode: ref.mode,
  sourceArray: ref.sourceArray,
  targetArray: ref.targetArray,
  ...(ref.apiTokens ? { apiTokens: ref.apiTokens } : {}),
});

/** A protection group's name on its target array: `SOURCE:GROUP`. */
export const replicaName = (ref: ReplicationGroupRef): string => `${ref.sourceArray}:${ref.name}`;

/** A pod volume's name: `POD::VOLUME`. */
export const podVolumeName = (pod: string, volume: string): string => `${pod}::${volume}`;

/** The `filter` that selects a pod's volumes (or their snapshots) by name. */
export const podVolumeFilter = (pod: string): string => `name='${podVolumeName(pod, '*')}'`;

/** A volume as REST 2.26 returns it. (What it holds is sim-only data: no array reports it.) */
export function toVolume(array: string, item: Json): Volume {
  return {
    name: String(item.name),
    array,
    serial: String(item.serial ?? item.id),
    sizeBytes: Number(item.provisioned),
    destroyed: Boolean(item.destroyed),
    createdAt: new Date(Number(item.created)),
    source: ((item.source as Json | null)?.name as string | undefined) ?? null,
  };
}

/**
 * A protection group snapshot on the target array as a recovery point: when it was taken from the
 * snapshot, how far its replication got from its `/protection-group-snapshots/transfer` record (it is
 * complete once `completed` is set), and the volumes from its volume snapshots.
 */
export function toAsyncPoint(
  ref: ReplicationGroupRef,
  snap: Json,
  transfer: Json | undefined,
  volumes: readonly string[],
): RecoveryPoint {
  const completed = transfer?.completed;
  const done = completed !== null && completed !== undefined;
  return {
    name: String(snap.name),
    group: ref.name,
    sourceArray: ref.sourceArray,
    targetArray: ref.targetArray,
    createdAt: new Date(Number(snap.created)),
    completedAt: done ? new Date(Number(completed)) : null,
    progress: done ? 1 : Number(transfer?.progress ?? 0),
    complete: done,
    volumes,
  };
}

/** Volume snapshots `POINT.VOLUME` by the point they belong to: point name -> volume names. */
export function volumesByPoint(snaps: readonly Json[]): Map<string, string[]> {
  const byPoint = new Map<string, string[]>();
  for (const s of snaps) {
    const name = String(s.name);
    const dot = name.lastIndexOf('.');
    const point = name.slice(0, dot);
    byPoint.set(point, [...(byPoint.get(point) ?? []), name.slice(dot + 1)]);
  }
  return byPoint;
}

/**
 * A pod's volume snapshots on the target array as recovery points, one per suffix (`POD.<suffix>`),
 * newest first. Pod snapshots are taken on the mirrored volumes, so each is complete at once.
 */
export function toSyncPoints(ref: ReplicationGroupRef, snaps: readonly Json[]): RecoveryPoint[] {
  const bySuffix = new Map<string, Json[]>();
  for (const s of snaps) {
    const suffix = String(s.suffix);
    bySuffix.set(suffix, [...(bySuffix.get(suffix) ?? []), s]);
  }
  return [...bySuffix.entries()]
    .map(([suffix, list]): RecoveryPoint => {
      const created = new Date(Math.min(...list.map((s) => Number(s.created))));
      return {
        name: `${ref.name}.${suffix}`,
        group: ref.name,
        sourceArray: ref.sourceArray,
        targetArray: ref.targetArray,
        createdAt: created,
        completedAt: created,
        progress: 1,
        complete: true,
        volumes: list.map((s) => String((s.source as Json).name)),
      };
    })
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.name.localeCompare(a.name));
}
