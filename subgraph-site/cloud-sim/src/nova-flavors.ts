/** Nova flavors: the stored flavor, its view (by microversion), list, show, extra specs, create. */
import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  atLeast,
  optionalString,
  type Route,
  requireObject,
  requireRole,
  requireString,
} from './http.js';
import { NOVA_API_PATH } from './nova-servers.js';

/** A stored Nova flavor. */
export interface FlavorDoc {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  ephemeral: number;
  swap: number;
  is_public: boolean;
  description: string | null;
  extra_specs: Record<string, string>;
}

function flavorView(req: ApiRequest, f: FlavorDoc, detail: boolean): Record<string, unknown> {
  const links = [{ rel: 'self', href: `${req.baseUrl}/compute/v2.1/flavors/${f.id}` }];
  const view: Record<string, unknown> = { id: f.id, name: f.name, links };
  if (atLeast(req.microversion, '2.55')) view.description = f.description;
  if (!detail) return view;
  Object.assign(view, {
    ram: f.ram,
    vcpus: f.vcpus,
    disk: f.disk,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
    'OS-FLV-DISABLED:disabled': false,
    swap: atLeast(req.microversion, '2.75') ? f.swap : f.swap || '',
    rxtx_factor: 1.0,
    'os-flavor-access:is_public': f.is_public,
  });
  if (atLeast(req.microversion, '2.61')) view.extra_specs = f.extra_specs;
  return view;
}

/** The flavor routes under `/compute/v2.1/flavors`. */
export function flavorRoutes(ctx: SimContext): Route[] {
  const v = NOVA_API_PATH;
  return [
    ...(['/flavors', '/flavors/detail'] as const).map(
      (path): Route => ({
        method: 'GET',
        path: `${v}${path}`,
        op: 'list_flavors',
        handler: (req) => ({
          status: 200,
          body: {
            flavors: ctx.store
              .list<FlavorDoc>('flavor', (f) => f.is_public || req.auth.isAdmin)
              .map((f) => flavorView(req, f, path.endsWith('detail'))),
          },
        }),
      }),
    ),
    {
      method: 'GET',
      path: `${v}/flavors/:id`,
      op: 'show_flavor',
      handler: (req) => {
        const flavor = ctx.store.get<FlavorDoc>('flavor', req.params.id ?? '');
        if (!flavor) throw new ApiError(404, `Flavor ${req.params.id} could not be found.`);
        return { status: 200, body: { flavor: flavorView(req, flavor, true) } };
      },
    },
    {
      method: 'GET',
      path: `${v}/flavors/:id/os-extra_specs`,
      op: 'list_flavor_extra_specs',
      handler: (req) => {
        const flavor = ctx.store.get<FlavorDoc>('flavor', req.params.id ?? '');
        if (!flavor) throw new ApiError(404, `Flavor ${req.params.id} could not be found.`);
        return { status: 200, body: { extra_specs: flavor.extra_specs } };
      },
    },
    {
      method: 'POST',
      path: `${v}/flavors`,
      op: 'create_flavor',
      handler: (req) => {
        requireRole(req, 'os_compute_api:os-flavor-manage:create');
        const body = requireObject(req.body, 'flavor');
        const name = requireString(body, 'name');
        const int = (key: string, fallback?: number): number => {
          const value = body[key] ?? fallback;
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
            throw new ApiError(400, `Invalid input for field/attribute ${key}. Value: ${String(value)}.`);
          }
          return value;
        };
        const flavor: FlavorDoc = {
          id: optionalString(body, 'id') ?? randomUUID(),
          name,
          ram: int('ram'),
          vcpus: int('vcpus'),
          disk: int('disk'),
          ephemeral: int('OS-FLV-EXT-DATA:ephemeral', 0),
          swap: body.swap === '' ? 0 : int('swap', 0),
          is_public: body['os-flavor-access:is_public'] !== false,
          description: optionalString(body, 'description') ?? null,
          extra_specs: {},
        };
        if (ctx.store.list<FlavorDoc>('flavor', (f) => f.name === name).length > 0) {
          throw new ApiError(409, `Flavor with name ${name} already exists.`);
        }
        if (ctx.store.get('flavor', flavor.id))
          throw new ApiError(409, `Flavor with ID ${flavor.id} already exists.`);
        ctx.store.put('flavor', flavor);
        return { status: 200, body: { flavor: flavorView(req, flavor, true) } };
      },
    },
  ];
}
