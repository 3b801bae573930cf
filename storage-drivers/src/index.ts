/** @protector/storage-drivers: the StorageDriver interface, the mock and pure drivers, and the FlashArray simulator. */

export { type ArrayFaults, FlashArrayStore } from './array/store.js';
export { DEFAULT_RETRY, type RetryPolicy } from './client/array-client.js';
export { DEFAULT_SCHEDULE, type StorageLog, stderrLog } from './driver.js';
export {
  type FlashArraySimulatorOptions,
  type RunningSimulator,
  startFlashArraySimulator,
} from './fa-sim/server.js';
export {
  checkMockDataDir,
  DEFAULT_MOCK_ARRAYS,
  DEFAULT_MOCK_DATA_DIR,
  MOCK_DB_FILE,
  MockStorageDriver,
  type MockStorageDriverOptions,
} from './mock/mock-driver.js';
export { PureStorageDriver, type PureStorageDriverOptions } from './pure/pure-driver.js';
export type {
  ArrayCheck,
  ArrayInfo,
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
  VolumeContent,
  VolumeSpec,
} from './types.js';
