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

export function toVolume(array: string, item: Json): Volume {
  const content = item.content as { origin: string; version: number } | null | undefined;
  return {
    name: String(item.name),
    array,
    serial: String(item.serial ?? item.id),
    sizeBytes: Number(item.provisioned),
    destroyed: Boolean(item.destroyed),
    createdAt: new Date(Number(item.created)),
    source: ((item.source as Json | null)?.name as string | undefined) ?? null,
    content: content ? { origin: content.origin, version: content.version } : null,
  };
}

/** A protection group snapshot on the target array as a recovery point. */
export function toAsyncPoint(ref: ReplicationGroupRef, item: Json): RecoveryPoint {
  const progress = Number(item.progress ?? 0);
  const prefix = `${String(item.name)}.`;
  return {
    name: String(item.name),
    group: ref.name,
    sourceArray: ref.sourceArray,
    targetArray: ref.targetArray,
    createdAt: new Date(Number(item.created)),
    completedAt: item.completed ? new Date(Number(item.completed)) : null,
    progress,
    complete: progress >= 1,
    volumes: ((item.volumes as Json[] | undefined) ?? []).map((v) => String(v.name).replace(prefix, '')),
  };
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
