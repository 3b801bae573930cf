/**
 * @protector/platform: what the services are built on, and clients never load: the configuration
 * compiler, the in-process event hub, bounded concurrency and supergraph composition. The HTTP/WebSocket
 * server kit and the databases are subpaths (`/server`, `/db`, `/sqlite`), so a package loads
 * better-sqlite3 or TypeORM only when it asks for them. Test tooling is `@protector/test-kit`.
 */

export {
  adaptiveDelay,
  type Clock,
  every,
  keystoneTime,
  ManualClock,
  type ProgressReading,
  progressDelay,
  systemClock,
} from './clock.js';
export { type ComposedSupergraph, type ComposeSupergraphOptions, composeSupergraph } from './compose.js';
export {
  batchLoader,
  InFlight,
  lazily,
  limiter,
  mapLimit,
  Turns,
  turnsBySite,
  withTurn,
} from './concurrency.js';
export * from './config/index.js';
export { crashPoint } from './crash-points.js';
export {
  EventHub,
  type HubListener,
  type HubOptions,
  mapEvents,
  SKIP_EVENT,
  type SubscribeOptions,
} from './events.js';
