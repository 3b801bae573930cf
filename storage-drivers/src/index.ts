/**
 * @protector/storage-drivers: the StorageDriver interface and what both drivers share. The drivers
 * and the simulator are subpaths, so a user of one loads nothing of the others:
 * `@protector/storage-drivers/mock`, `/pure`, `/fa-sim`.
 */

export { DEFAULT_RETRY, type RetryPolicy } from './client/array-client.js';
export { DEFAULT_SCHEDULE } from './driver/mechanism.js';
export { groupMemberName, type StorageLog, stderrLog } from './driver.js';
export type {
  ArrayCheck,
  ArrayIdentity,
  ArrayInfo,
  CompletedReplication,
  CompletedReplications,
  InitializeOptions,
  LinkState,
  MaterializeOptions,
  MaterializeRequest,
  PodArrayState,
  RecoveryPoint,
  ReplicationGroup,
  ReplicationGroupRef,
  ReplicationMode,
  ReplicationSchedule,
  ReplicationStatus,
  RetentionPolicy,
  StorageDriver,
  StorageValidation,
  Volume,
  VolumeSpec,
} from './types.js';
