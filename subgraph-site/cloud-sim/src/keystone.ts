/**
 * The simulated Keystone v3: its version documents and the routes of its modules (tokens,
 * catalog, identity, application credentials).
 */
import type { SimContext } from './context.js';
import type { Route } from './http.js';
import { appCredentialRoutes } from './keystone-app-credentials.js';
import { catalogRoutes } from './keystone-catalog.js';
import { identityRoutes } from './keystone-identity.js';
import { tokenRoutes } from './keystone-tokens.js';

const versionDoc = (baseUrl: string): Record<string, unknown> => ({
  id: 'v3.14',
  status: 'stable',
  updated: '2020-04-07T00:00:00Z',
  links: [{ rel: 'self', href: `${baseUrl}/v3/` }],
  'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
});

/** Keystone v3: token issue/validate/revoke, projects, domains, users, roles, assignments, app credentials, catalog, regions. */
export function keystoneRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      op: 'versions',
      public: true,
      handler: (req) => ({ status: 300, body: { versions: { values: [versionDoc(req.baseUrl)] } } }),
    },
    {
      method: 'GET',
      path: '/v3',
      op: 'version',
      public: true,
      handler: (req) => ({ status: 200, body: { version: versionDoc(req.baseUrl) } }),
    },
    ...tokenRoutes(ctx),
    ...catalogRoutes(ctx),
    ...identityRoutes(ctx),
    ...appCredentialRoutes(ctx),
  ];
}
