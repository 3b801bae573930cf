import type { FaultInjector } from './faults.js';
import type { CloudStore } from './store.js';
import type { CloudVolumeBackend } from './volume-backend.js';

/** Simulated durations; change them at run time with `cloud.setTiming()`. */
export interface CloudTiming {
  /** Added to every call before it is served. @default 0 */
  latencyMs: number;
  /** How long a server stays in BUILD before ACTIVE (or ERROR). @default 500 */
  bootTimeMs: number;
  /** How long `os-stop` takes to reach SHUTOFF and `os-start` to reach ACTIVE. @default 0 */
  powerTimeMs: number;
  /** How long a volume or group stays `creating`. @default 0 */
  volumeCreateMs: number;
}

/** What every service handler of the simulator shares. */
export interface SimContext {
  readonly store: CloudStore;
  readonly faults: FaultInjector;
  readonly timing: CloudTiming;
  readonly region: string;
  readonly tokenLifetimeMs: number;
  readonly backend: CloudVolumeBackend | undefined;
  /** The Cinder host (`host@backend#pool`) of the array backend; see cinder-services.ts. */
  readonly arrayHost: string;
  /** The simulator's clock in ms since epoch (injectable for tests). */
  now(): number;
  /** The most items one list answers (Nova's `[api] max_limit`); see `paginate`. */
  readonly maxLimit: number;
}
