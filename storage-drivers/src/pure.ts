/** `@protector/storage-drivers/pure`: the driver for FlashArray REST 2.x over HTTPS (loads no SQLite). */
export type { ArrayRequest, ArrayResponse } from './client/wire.js';
export { PureStorageDriver, type PureStorageDriverOptions } from './pure/pure-driver.js';
