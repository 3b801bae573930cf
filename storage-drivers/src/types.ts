/**
 * The one storage interface both drivers implement. Names and units follow FlashArray:
 * sizes in bytes (multiples of 512), object names 1-63 letters, digits and '-'.
 */

/** Async replication is a FlashArray protection group; sync is an ActiveCluster pod. */
export type ReplicationMode = 'async' | 'sync';

export type LinkState = 'connected' | 'connecting' | 'disconnected' | 'unknown';

/** What identifies an array: its name and id as `GET /arrays` reports them, at its endpoint. */
export interface ArrayIdentity {
  readonly endpoint: string;
  readonly name: string;
  readonly id: string;
  readonly version: string;
}

/** One of the two arrays a driver talks to; `primary`/`secondary` as configured in `[storage]`. */
export interface ArrayInfo extends ArrayIdentity {
  readonly role: 'primary' | 'secondary';
  /** False while the array does not answer or refuses the token; `error` says why. */
  readonly available: boolean;
  readonly error: string | null;
}

export interface InitializeOptions {
  /**
   * Identities seen on an earlier start. An array that cannot be reached now is addressed by the
   * identity last seen at its endpoint, so a site starts (and fails over) with its peer's array gone.
   */
  readonly known?: readonly ArrayIdentity[];
  /** Called with both identities whenever an array is identified (at start, or when it answers again). */
  readonly remember?: (identities: readonly ArrayIdentity[]) => void;
}

/** Where a replication group lives: its name on the source array and the array it replicates to. */
export interface ReplicationGroupRef {
  readonly name: string;
  readonly mode: ReplicationMode;
  readonly sourceArray: string;
  readonly targetArray: string;
  /**
   * API tokens by array name for this group's calls (its replication policy's); an array without one
   * is called with the driver's `[storage]` token. The mock driver has no tokens and ignores them.
   */
  readonly apiTokens?: Readonly<Record<string, string>>;
}

/** FlashArray `target_retention`: keep everything for `allForSeconds`, then `perDay` for `days`. */
export interface RetentionPolicy {
  readonly allForSeconds: number;
  readonly perDay: number;
  readonly days: number;
}

export interface ReplicationSchedule {
  readonly enabled: boolean;
  readonly intervalSeconds: number;
  readonly retention: RetentionPolicy;
}

export interface ReplicationGroup extends ReplicationGroupRef {
  /** The group's name as the target array shows it (`SRC:PG` for async, the pod name for sync). */
  readonly targetName: string;
  readonly volumes: readonly string[];
  readonly schedule: ReplicationSchedule;
  /** Sync only: each array of the pod with its status and promotion state. */
  readonly podArrays: readonly PodArrayState[];
}

export interface PodArrayState {
  readonly array: string;
  readonly status: 'online' | 'offline' | 'resyncing';
  /** The pod's promotion status as that array reports it; null while the array does not answer. */
  readonly promotionStatus: 'promoted' | 'demoted' | 'promoting' | 'demoting' | null;
}

export interface VolumeSpec {
  readonly name: string;
  readonly sizeBytes: number;
}

export interface Volume {
  readonly name: string;
  readonly array: string;
  readonly serial: string;
  readonly sizeBytes: number;
  readonly destroyed: boolean;
  readonly createdAt: Date;
  /** The volume this one was copied from (for a copy of a snapshot, the snapshot's source volume), if any. */
  readonly source: string | null;
}

/** A replicated snapshot of a group on the target array: complete, or still transferring. */
export interface RecoveryPoint {
  /** Name on the target array, e.g. `array-a:pg-web.1700000000`. */
  readonly name: string;
  readonly group: string;
  readonly sourceArray: string;
  readonly targetArray: string;
  readonly createdAt: Date;
  readonly completedAt: Date | null;
  /** Transfer progress 0..1. */
  readonly progress: number;
  readonly complete: boolean;
  /** Source volume names this point holds a snapshot of. */
  readonly volumes: readonly string[];
}

/** Copy one source volume's snapshot of a recovery point into a new (or overwritten) target volume. */
export interface MaterializeRequest {
  readonly sourceVolume: string;
  readonly targetVolume: string;
}

export interface MaterializeOptions {
  /** Replace an existing target volume's data (FlashArray `overwrite=true`). */
  readonly overwrite?: boolean;
}

export interface ReplicationStatus {
  readonly group: string;
  readonly link: LinkState;
  /** Seconds between now and the creation of the last complete recovery point; null when there is none. */
  readonly lagSeconds: number | null;
  readonly lastPoint: RecoveryPoint | null;
  /** A transfer that has started but not finished. */
  readonly inProgress: RecoveryPoint | null;
}

/** A recovery point that completed replication: what `completedReplications` reports per group. */
export interface CompletedReplication {
  /** The group's name on its source array (`ReplicationGroupRef.name`). */
  readonly group: string;
  /** The point's name on the target array. */
  readonly point: string;
  readonly createdAt: Date;
  readonly completedAt: Date;
}

/** What completed on one array since a time of that array: per group, its newest completed point. */
export interface CompletedReplications {
  readonly completed: ReadonlyMap<string, CompletedReplication>;
  /** The newest completion the array reported (at or after `since`): the next call's `since`. */
  readonly until: Date | null;
}

export interface ArrayCheck {
  readonly array: string;
  readonly role: 'primary' | 'secondary';
  readonly endpoint: string;
  readonly reachable: boolean;
  readonly authenticated: boolean;
  readonly error: string | null;
}

/** The answer to `site validate`: can we reach and log in to both arrays, and are they connected? */
export interface StorageValidation {
  readonly ok: boolean;
  readonly driver: 'mock' | 'pure';
  readonly arrays: readonly ArrayCheck[];
  readonly link: LinkState;
  readonly problems: readonly string[];
}

/** Storage operations every DR step ends in. One interface; `mock` and `pure` implement it. */
export interface StorageDriver {
  readonly name: 'mock' | 'pure';
  /**
   * Identifies both arrays and logs "<Driver> initialized: ..." as in the product docs. An array that is
   * unreachable or refuses its token does not stop it: it is marked unavailable (with the reason) and
   * identified again by `validate()` or `reconnect()` once it answers.
   */
  initialize(opts?: InitializeOptions): Promise<void>;
  close(): Promise<void>;
  /** Both arrays, primary first, with their availability. Valid after `initialize()`. */
  arrays(): readonly ArrayInfo[];
  /** Asks both arrays who they are and whether they are connected; updates their availability. */
  validate(): Promise<StorageValidation>;
  /** Asks only the unavailable arrays again; returns the ones that answered. */
  reconnect(): Promise<readonly ArrayInfo[]>;

  createVolumes(array: string, specs: readonly VolumeSpec[]): Promise<Volume[]>;
  getVolumes(array: string, names: readonly string[]): Promise<Volume[]>;
  /** Renames a volume; a repeat finds it done. A pod volume stays in its pod (`POD::NEW`). */
  renameVolume(array: string, from: string, to: string): Promise<Volume>;
  /** Destroys (recoverable for 24 h on an array) or, with `eradicate`, removes for good. Missing names are ignored. */
  destroyVolumes(array: string, names: readonly string[], opts?: { eradicate?: boolean }): Promise<void>;

  /** Creates the group and its target when absent (idempotent); applies the schedule when given. */
  ensureReplicationGroup(ref: ReplicationGroupRef, schedule?: ReplicationSchedule): Promise<ReplicationGroup>;
  getReplicationGroup(ref: ReplicationGroupRef): Promise<ReplicationGroup | null>;
  /**
   * Renames the group (a replication policy's `pure_pg_name`); its replicas and recovery points follow.
   * Repeating a rename that was done answers the renamed group; a name the array already uses is refused.
   */
  renameReplicationGroup(ref: ReplicationGroupRef, to: string): Promise<ReplicationGroup>;
  /** Destroys and eradicates the group on the source (and its target copy); volumes are kept. */
  deleteReplicationGroup(ref: ReplicationGroupRef): Promise<void>;
  addVolumes(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup>;
  removeVolumes(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup>;
  setSchedule(ref: ReplicationGroupRef, schedule: ReplicationSchedule): Promise<ReplicationGroup>;

  /** Takes a group snapshot and starts replicating it now; returns the target-side point (maybe incomplete). */
  replicateNow(ref: ReplicationGroupRef, opts?: { suffix?: string }): Promise<RecoveryPoint>;
  /** Every recovery point on the target, newest first, complete or not. */
  listRecoveryPoints(ref: ReplicationGroupRef): Promise<RecoveryPoint[]>;
  /**
   * One recovery point by name (null when the target holds none), read whatever the group's size: its
   * `volumes` lists only those of `volumes` it holds (none when not given).
   */
  getRecoveryPoint(
    ref: ReplicationGroupRef,
    name: string,
    volumes?: readonly string[],
  ): Promise<RecoveryPoint | null>;
  /** Copies a complete recovery point's volume snapshots into volumes on the target array. */
  materialize(
    ref: ReplicationGroupRef,
    point: string,
    requests: readonly MaterializeRequest[],
    opts?: MaterializeOptions,
  ): Promise<Volume[]>;

  /** Sync (pods) only: make the pod writable on `array`. */
  promote(ref: ReplicationGroupRef, array: string): Promise<ReplicationGroup>;
  /** Sync (pods) only: make the pod read-only on `array`. */
  demote(ref: ReplicationGroupRef, array: string): Promise<ReplicationGroup>;
  /**
   * Reprotect: after a failover, replicate `volumes` (now on the old target) back to the old source.
   * Disables the old direction's schedule where the old source is reachable. Returns the reversed group.
   */
  reverseReplication(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup>;

  replicationStatus(ref: ReplicationGroupRef): Promise<ReplicationStatus>;
  /**
   * Set-based watch of many async groups replicating to `targetArray`: the points that completed at or
   * after `since` (that array's time), the newest per group. One listing of the array's transfers per
   * array credential, whatever the number of groups, then one read of the new points' snapshots: its
   * cost follows what changed, not how many groups there are. With `since` null it only learns `until`
   * (callers read each group's state once with `replicationStatus`).
   */
  completedReplications(
    targetArray: string,
    refs: readonly ReplicationGroupRef[],
    since: Date | null,
  ): Promise<CompletedReplications>;
}
