/**
 * MockStorageDriver: FlashArray behaviour simulated in SQLite (the product's Mock storage driver).
 * Two site processes pointed at the same data dir see the same two arrays and the link between them.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, systemClock } from '@protector/platform';
import { ProtectorError } from '@protector/schema';
import { FlashArrayStore } from '../array/store.js';
import { startTicker } from '../array/ticker.js';
import { ArrayClient, type ArrayClientOptions, type RetryPolicy } from '../client/array-client.js';
import { LocalArrayTransport } from '../client/local-transport.js';
import { checkConcurrency, FlashArrayDriver, type StorageLog, stderrLog } from '../driver.js';
import type { InitializeOptions } from '../types.js';

export const DEFAULT_MOCK_DATA_DIR = '/var/lib/protector/mock_storage';
export const DEFAULT_MOCK_ARRAYS = ['mock-array-a', 'mock-array-b'] as const;
/** The SQLite file inside the data dir that holds the simulated arrays. */
export const MOCK_DB_FILE = 'flasharray.sqlite';

export interface MockStorageDriverOptions {
  /** @default /var/lib/protector/mock_storage */
  readonly dataDir?: string;
  /** The primary (this site's) array first. @default ['mock-array-a', 'mock-array-b'] */
  readonly arrays?: readonly [string, string];
  /** Simulated time to replicate one group snapshot. @default 2000 */
  readonly transferMs?: number;
  /** Run schedules and transfers on a timer this often, so they progress with no requests. 0 = off. @default 0 */
  readonly tickMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Items per page of a list request. @default DEFAULT_PAGE_SIZE */
  readonly pageSize?: number;
  /** Array requests sent at once for bulk volume work. @default DEFAULT_CONCURRENCY */
  readonly concurrency?: number;
  readonly log?: StorageLog;
  /** Simulated array time, retry backoff and the tick timer run on it. @default systemClock */
  readonly clock?: Clock;
}

/** Fails at start, with the product's advice, when the data dir is missing or not writable. */
export function checkMockDataDir(dataDir: string): void {
  const missing = !existsSync(dataDir);
  let writable = !missing;
  if (!missing) {
    try {
      accessSync(dataDir, constants.W_OK | constants.X_OK);
    } catch {
      writable = false;
    }
  }
  if (missing || !writable) {
    throw new ProtectorError(
      'CONFIG_INVALID',
      `Mock storage directory ${dataDir} ${missing ? 'does not exist' : 'is not writable by this user'}. ` +
        `Create it and give it to the protector service user: sudo mkdir -p ${dataDir} && ` +
        `sudo chown -R protector:protector ${dataDir} (or set [DEFAULT] mock_storage_dir to a writable directory).`,
      { dataDir },
    );
  }
}

export class MockStorageDriver extends FlashArrayDriver {
  readonly name = 'mock' as const;
  private stopTicker: (() => void) | null = null;

  private constructor(
    /** The simulated arrays: faults, link state and host writes for labs and tests. */
    readonly simulator: FlashArrayStore,
    readonly dataDir: string,
    private readonly arrayNames: readonly [string, string],
    private readonly tickMs: number,
    client: ArrayClientOptions & { readonly clock: Clock },
    log: StorageLog,
  ) {
    super(
      {
        primary: new ArrayClient(new LocalArrayTransport(simulator, arrayNames[0]), client),
        secondary: new ArrayClient(new LocalArrayTransport(simulator, arrayNames[1]), client),
      },
      log,
      client.clock,
    );
  }

  /** Checks the data dir and opens the SQLite model; `initialize()` then logs the product's start-up lines. */
  static create(opts: MockStorageDriverOptions = {}): MockStorageDriver {
    const dataDir = opts.dataDir ?? DEFAULT_MOCK_DATA_DIR;
    checkMockDataDir(dataDir);
    const arrays = opts.arrays ?? DEFAULT_MOCK_ARRAYS;
    const clock = opts.clock ?? systemClock;
    const store = FlashArrayStore.open({
      file: join(dataDir, MOCK_DB_FILE),
      arrays,
      transferMs: opts.transferMs,
      now: () => clock.now(),
    });
    const driver = new MockStorageDriver(
      store,
      dataDir,
      arrays,
      opts.tickMs ?? 0,
      { retry: opts.retry, pageSize: opts.pageSize, clock },
      opts.log ?? stderrLog,
    );
    driver.concurrency = checkConcurrency(opts.concurrency);
    return driver;
  }

  override async initialize(opts?: InitializeOptions): Promise<void> {
    await super.initialize(opts);
    this.log(
      'WARNING',
      'protector.engine.storage.mock',
      'Mock storage driver active — not suitable for production use',
    );
    if (this.tickMs > 0 && !this.stopTicker) {
      this.stopTicker = startTicker(this.clock, this.tickMs, () => this.simulator.tick());
    }
  }

  protected override configuredName(role: 'primary' | 'secondary'): string {
    return this.arrayNames[role === 'primary' ? 0 : 1];
  }

  protected clientWithToken(role: 'primary' | 'secondary'): ArrayClient {
    return this.clients[role];
  }

  protected hint(_role: 'primary' | 'secondary', code: string): string {
    return code === 'STORAGE_UNREACHABLE'
      ? `the simulated array is marked down in ${join(this.dataDir, MOCK_DB_FILE)}; clear the fault to bring it back`
      : 'the simulated array refused the request';
  }

  protected initializedMessage(): string {
    return `MockStorageDriver initialized: data_dir=${this.dataDir}`;
  }

  override async close(): Promise<void> {
    this.stopTicker?.();
    this.stopTicker = null;
    await super.close();
    this.simulator.close();
  }
}
