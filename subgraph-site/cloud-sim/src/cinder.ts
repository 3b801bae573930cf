/**
 * The simulated Cinder v3 under `/volume`: its microversions, version documents and the routes of
 * its modules (volumes, manage-existing, volume and group types, groups), in matching order.
 */
import { groupRoutes } from './cinder-groups.js';
import { manageRoutes } from './cinder-manage.js';
import { serviceRoutes } from './cinder-services.js';
import { typeRoutes } from './cinder-types.js';
import { volumeRoutes } from './cinder-volumes.js';
import type { SimContext } from './context.js';
import type { Route } from './http.js';

const versionDoc = (baseUrl: string): Record<string, unknown> => ({
  id: 'v3.0',
  status: 'CURRENT',
  version: CINDER_MICROVERSIONS.max,
  min_version: CINDER_MICROVERSIONS.min,
  updated: '2023-08-31T00:00:00Z',
  links: [{ rel: 'self', href: `${baseUrl}/volume/v3/` }],
  'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
});

/** The microversions this simulated Cinder accepts. */
export const CINDER_MICROVERSIONS = { min: '3.0', max: '3.70' } as const;

/** Cinder v3 under `/volume`: volumes, manage/unmanage, volume and group types, groups, services and pools. */
export function cinderRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      op: 'versions',
      public: true,
      handler: (req) => ({ status: 300, body: { versions: [versionDoc(req.baseUrl)] } }),
    },
    {
      method: 'GET',
      path: '/v3',
      op: 'version',
      public: true,
      handler: (req) => ({ status: 200, body: { versions: [versionDoc(req.baseUrl)] } }),
    },
    ...volumeRoutes(ctx),
    ...manageRoutes(ctx),
    ...typeRoutes(ctx),
    ...groupRoutes(ctx),
    ...serviceRoutes(ctx),
  ];
}
