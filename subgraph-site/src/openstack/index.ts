// The one OpenStack client (Keystone v3, Nova, Cinder, Neutron, Glance over undici), used against real and simulated clouds.
export {
  createOpenStackClient,
  type OpenStackClient,
  type OpenStackClientOptions,
  type WaitOptions,
} from './client.js';
export type { OpenStackCredentials, SessionOptions } from './session.js';
export type * from './types.js';
