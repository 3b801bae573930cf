/**
 * The simulated Nova v2.1 under `/compute`: its microversions, version documents and the routes
 * of its modules (servers, server actions, volume attachments, flavors), in matching order.
 */
import type { SimContext } from './context.js';
import type { Route } from './http.js';
import { actionRoutes } from './nova-actions.js';
import { attachmentRoutes } from './nova-attachments.js';
import { flavorRoutes } from './nova-flavors.js';
import { NOVA_API_PATH, serverRoutes } from './nova-servers.js';

/** The microversions this simulated Nova accepts. */
export const NOVA_MICROVERSIONS = { min: '2.1', max: '2.96' } as const;

const versionDoc = (baseUrl: string): Record<string, unknown> => ({
  id: 'v2.1',
  status: 'CURRENT',
  version: NOVA_MICROVERSIONS.max,
  min_version: NOVA_MICROVERSIONS.min,
  updated: '2013-07-23T11:33:21Z',
  links: [{ rel: 'self', href: `${baseUrl}/compute/v2.1/` }],
  'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
});

/** Nova v2.1 under `/compute`: servers, power actions, flavors, volume attachments. */
export function novaRoutes(ctx: SimContext): Route[] {
  const v = NOVA_API_PATH;
  return [
    {
      method: 'GET',
      path: '/',
      op: 'versions',
      public: true,
      handler: (req) => ({ status: 200, body: { versions: [versionDoc(req.baseUrl)] } }),
    },
    {
      method: 'GET',
      path: v,
      op: 'version',
      public: true,
      handler: (req) => ({ status: 200, body: { version: versionDoc(req.baseUrl) } }),
    },
    ...serverRoutes(ctx),
    ...actionRoutes(ctx),
    ...attachmentRoutes(ctx),
    ...flavorRoutes(ctx),
  ];
}
