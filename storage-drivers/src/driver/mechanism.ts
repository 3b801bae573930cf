/**
 * What a replication mode does on the arrays: the interface async replication (protection groups)
 * and sync replication (ActiveCluster pods) each implement, and the default replication schedule.
 */
import type { Clock } from '@protector/platform';
import type { ArrayClient } from '../client/array-client.js';
import type { RecoveryPoint, ReplicationGroup, ReplicationGroupRef, ReplicationSchedule } from '../types.js';

export const DEFAULT_SCHEDULE: ReplicationSchedule = {
  enabled: true,
  intervalSeconds: 300,
  retention: { allForSeconds: 86_400, perDay: 4, days: 7 },
};

/** A group ref (already checked) with the clients of its source and target arrays. */
export interface GroupArrays {
  readonly ref: ReplicationGroupRef;
  readonly src: ArrayClient;
  readonly dst: ArrayClient;
}

export interface ReplicationMechanism {
  /** What the product calls the group in messages, e.g. `Protection group`. */
  readonly kind: string;
  /** Creates the group and connects it to the target when absent (idempotent). */
  ensure(g: GroupArrays): Promise<void>;
  /** The group as its source array shows it; null when it does not exist. */
  get(g: GroupArrays): Promise<ReplicationGroup | null>;
  /** Renames the group on its source array (the array renames its replicas, snapshots and pod volumes). */
  rename(g: GroupArrays, to: string): Promise<void>;
  /** Destroys and eradicates the group (absent: nothing to do); volumes are kept. */
  delete(g: GroupArrays): Promise<void>;
  /** Adds the volumes of `volumes` that `group` does not hold yet. */
  add(g: GroupArrays, group: ReplicationGroup, volumes: readonly string[]): Promise<void>;
  /** Removes `present`, volumes `group` holds. */
  remove(g: GroupArrays, group: ReplicationGroup, present: readonly string[]): Promise<void>;
  /** Sets the replication schedule and retention; null when the mode takes none. */
  readonly applySchedule: ((g: GroupArrays, schedule: ReplicationSchedule) => Promise<void>) | null;
  /** Takes a recovery point named by `suffix` now and answers it as the target array lists it. */
  snapshot(g: GroupArrays, group: ReplicationGroup, suffix: string): Promise<RecoveryPoint>;
  /** Every recovery point on the target array, newest first. */
  points(g: GroupArrays): Promise<RecoveryPoint[]>;
  /**
   * Recovery point `name` (null when the target holds none), with the snapshots of `volumes` (member
   * names) only: what a copy of those volumes needs, read by name whatever the group's size (a
   * protection group's point without volumes reads none; a pod's reads all of them).
   */
  point(g: GroupArrays, name: string, volumes: readonly string[]): Promise<RecoveryPoint | null>;
  /**
   * The name the array gives member `volume` of the group: a pod's volumes are `POD::VOL` (given
   * either way); a protection group's keep their names.
   */
  memberName(ref: ReplicationGroupRef, volume: string): string;
  /** The name, on the target array, of the snapshot of `volume` in recovery point `point`. */
  volumeSnapshot(point: string, volume: string): string;
  /**
   * Makes the group writable (`promoted`) or read-only on the array `client` talks to, and waits until
   * the array reports it (it gets there asynchronously); null when the mode has no such state.
   */
  readonly setPromotion:
    | ((
        client: ArrayClient,
        ref: ReplicationGroupRef,
        state: 'promoted' | 'demoted',
        clock: Clock,
      ) => Promise<void>)
    | null;
}
