// The simulated OpenStack cloud (Keystone, Nova, Cinder, Neutron, Glance over HTTP, SQLite-backed) for labs and tests.
export { createSimulatedCloud, type SimulatedCloud, type SimulatedCloudOptions } from './cloud.js';
export type { CloudTiming } from './context.js';
export { FaultInjector, type FaultRule } from './faults.js';
export type { CloudService } from './http.js';
export { type SeededUser, type SeedOptions, type SeedResult, seedCloud } from './seed.js';
export { CloudStore } from './store.js';
export {
  arrayVolumeNameFor,
  type CloudVolumeBackend,
  createInMemoryVolumeBackend,
  type InMemoryVolumeBackend,
} from './volume-backend.js';
