/** The Keystone service catalog: as a token carries it, `GET /v3/auth/catalog`, and the admin service and endpoint lists. */
import type { SimContext } from './context.js';
import { ApiError, matchesQuery, type Route } from './http.js';
import { type CatalogServiceDoc, requireAdmin } from './keystone-model.js';

/** The service catalog as a project-scoped token carries it. */
export function renderCatalog(ctx: SimContext, baseUrl: string, projectId: string): unknown[] {
  return ctx.store.list<CatalogServiceDoc>('catalog_service').map((service) => ({
    id: service.id,
    type: service.type,
    name: service.name,
    endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
      id: `${service.id}-${iface}`,
      interface: iface,
      region: ctx.region,
      region_id: ctx.region,
      url: baseUrl + service.path.replace('$(project_id)s', projectId),
    })),
  }));
}

/** The catalog routes: the caller's catalog, services, endpoints. */
export function catalogRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v3/auth/catalog',
      op: 'get_catalog',
      handler: (req) => {
        if (!req.auth.projectId)
          throw new ApiError(403, 'A project-scoped token is required to produce a service catalog.');
        return { status: 200, body: { catalog: renderCatalog(ctx, req.baseUrl, req.auth.projectId) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/services',
      op: 'list_services',
      handler: (req) => {
        requireAdmin(req, 'list_services');
        const services = ctx.store
          .list<CatalogServiceDoc>('catalog_service')
          .map((s) => ({ id: s.id, type: s.type, name: s.name, enabled: true, description: '' }));
        return {
          status: 200,
          body: { services: services.filter((s) => matchesQuery(req.query, s, ['type', 'name'])) },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/endpoints',
      op: 'list_endpoints',
      handler: (req) => {
        requireAdmin(req, 'list_endpoints');
        const endpoints = ctx.store.list<CatalogServiceDoc>('catalog_service').flatMap((s) =>
          (['public', 'internal', 'admin'] as const).map((iface) => ({
            id: `${s.id}-${iface}`,
            service_id: s.id,
            interface: iface,
            region: ctx.region,
            region_id: ctx.region,
            url: req.baseUrl + s.path,
            enabled: true,
          })),
        );
        return {
          status: 200,
          body: {
            endpoints: endpoints.filter((e) =>
              matchesQuery(req.query, e, ['interface', 'service_id', 'region_id']),
            ),
          },
        };
      },
    },
  ];
}
