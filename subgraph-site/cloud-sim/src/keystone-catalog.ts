/**
 * The Keystone service catalog: as a token carries it, `GET /v3/auth/catalog`, and the services,
 * endpoints and regions the admin API lists and shows, as a real Keystone renders them (checked by
 * keystone-tokens-contract.test.ts). Each catalog service has a public, an internal and an admin
 * endpoint in the cloud's region, at the cloud's base URL.
 */
import { createHash } from 'node:crypto';
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, matchesQuery, type Route } from './http.js';
import { type CatalogServiceDoc, collectionLinks, requireAdmin } from './keystone-model.js';

const INTERFACES = ['public', 'internal', 'admin'] as const;

/** An endpoint's id: 32 hex digits as Keystone's, the same for a service and interface each time. */
const endpointId = (serviceId: string, iface: string) =>
  createHash('sha256').update(`${serviceId}/${iface}`).digest('hex').slice(0, 32);

interface Endpoint {
  id: string;
  service: CatalogServiceDoc;
  interface: (typeof INTERFACES)[number];
}

const endpointsOf = (ctx: SimContext): Endpoint[] =>
  ctx.store
    .list<CatalogServiceDoc>('catalog_service')
    .flatMap((service) =>
      INTERFACES.map((iface) => ({ id: endpointId(service.id, iface), service, interface: iface })),
    );

/** The service catalog as a project-scoped token carries it (`$(project_id)s` substituted). */
export function renderCatalog(ctx: SimContext, baseUrl: string, projectId: string): unknown[] {
  return ctx.store.list<CatalogServiceDoc>('catalog_service').map((service) => ({
    endpoints: INTERFACES.map((iface) => ({
      id: endpointId(service.id, iface),
      interface: iface,
      region_id: ctx.region,
      url: baseUrl + service.path.replace('$(project_id)s', projectId),
      region: ctx.region,
    })),
    id: service.id,
    type: service.type,
    name: service.name,
  }));
}

/** A service as the admin API renders it (a description only when it has one). */
const serviceView = (s: CatalogServiceDoc, baseUrl: string): Record<string, unknown> => ({
  ...(s.description === undefined ? {} : { description: s.description }),
  id: s.id,
  type: s.type,
  name: s.name,
  enabled: true,
  links: { self: `${baseUrl}/v3/services/${s.id}` },
});

/** An endpoint as the admin API renders it (its URL a template: `$(project_id)s` kept). */
const endpointView = (ctx: SimContext, e: Endpoint, baseUrl: string): Record<string, unknown> => ({
  id: e.id,
  interface: e.interface,
  region_id: ctx.region,
  service_id: e.service.id,
  url: baseUrl + e.service.path,
  enabled: true,
  region: ctx.region,
  links: { self: `${baseUrl}/v3/endpoints/${e.id}` },
});

/** The cloud's one region, as `keystone-manage bootstrap --bootstrap-region-id` makes it. */
const regionView = (ctx: SimContext, baseUrl: string): Record<string, unknown> => ({
  id: ctx.region,
  description: '',
  links: { self: `${baseUrl}/v3/regions/${ctx.region}` },
  parent_region_id: null,
});

/** The catalog routes: the caller's catalog, services, endpoints, regions. */
export function catalogRoutes(ctx: SimContext): Route[] {
  const service = (req: ApiRequest) => {
    const found = ctx.store.get<CatalogServiceDoc>('catalog_service', req.params.id ?? '');
    if (!found) throw new ApiError(404, `Could not find service: ${req.params.id}.`);
    return found;
  };
  return [
    {
      method: 'GET',
      path: '/v3/auth/catalog',
      op: 'get_catalog',
      handler: (req) => {
        // Keystone's Forbidden here has its own words, which it shows only with insecure_debug.
        if (!req.auth.projectId)
          throw new ApiError(403, 'You are not authorized to perform the requested action.');
        return {
          status: 200,
          body: {
            catalog: renderCatalog(ctx, req.baseUrl, req.auth.projectId),
            links: { self: `${req.baseUrl}/v3/auth/catalog` },
          },
        };
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
          .map((s) => serviceView(s, req.baseUrl))
          .filter((s) => matchesQuery(req.query, s, ['type', 'name']));
        return { status: 200, body: { services, links: collectionLinks(req) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/services/:id',
      op: 'get_service',
      handler: (req) => {
        requireAdmin(req, 'get_service');
        return { status: 200, body: { service: serviceView(service(req), req.baseUrl) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/endpoints',
      op: 'list_endpoints',
      handler: (req) => {
        requireAdmin(req, 'list_endpoints');
        const endpoints = endpointsOf(ctx)
          .map((e) => endpointView(ctx, e, req.baseUrl))
          .filter((e) => matchesQuery(req.query, e, ['interface', 'service_id', 'region_id']));
        return { status: 200, body: { endpoints, links: collectionLinks(req) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/endpoints/:id',
      op: 'get_endpoint',
      handler: (req) => {
        requireAdmin(req, 'get_endpoint');
        const endpoint = endpointsOf(ctx).find((e) => e.id === req.params.id);
        if (!endpoint) throw new ApiError(404, `Could not find endpoint: ${req.params.id}.`);
        return { status: 200, body: { endpoint: endpointView(ctx, endpoint, req.baseUrl) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/regions',
      op: 'list_regions',
      handler: (req) => ({
        status: 200,
        body: { regions: [regionView(ctx, req.baseUrl)], links: collectionLinks(req) },
      }),
    },
    {
      method: 'GET',
      path: '/v3/regions/:id',
      op: 'get_region',
      handler: (req) => {
        if (req.params.id !== ctx.region) throw new ApiError(404, `Could not find region: ${req.params.id}.`);
        return { status: 200, body: { region: regionView(ctx, req.baseUrl) } };
      },
    },
  ];
}
