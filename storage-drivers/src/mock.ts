/** `@protector/storage-drivers/mock`: the Mock driver and the FlashArray model it runs on (SQLite). */
export { type ArrayFaults, FlashArrayStore } from './array/store.js';
export {
  checkMockDataDir,
  DEFAULT_MOCK_ARRAYS,
  DEFAULT_MOCK_DATA_DIR,
  MOCK_DB_FILE,
  MockStorageDriver,
  type MockStorageDriverOptions,
} from './mock/mock-driver.js';
