import { randomBytes, randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  isoTimeZ,
  isRecord,
  optionalString,
  type Route,
  requireObject,
  requireRole,
} from './http.js';

interface NeutronDoc {
  id: string;
  name: string;
  project_id: string;
  description: string;
  created: number;
}

/** A stored Neutron network. */
export interface NetworkDoc extends NeutronDoc {
  admin_state_up: boolean;
  shared: boolean;
  external: boolean;
  mtu: number;
}

/** A stored IPv4 subnet. */
export interface SubnetDoc extends NeutronDoc {
  network_id: string;
  cidr: string;
  ip_version: 4;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  allocation_pools: { start: string; end: string }[];
  dns_nameservers: string[];
}

/** A stored Neutron port. */
export interface PortDoc extends NeutronDoc {
  network_id: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  device_id: string;
  device_owner: string;
  admin_state_up: boolean;
}

const ipToInt = (ip: string): number => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const intToIp = (n: number): string => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');

/** Parses an IPv4 CIDR into its first and last address, or fails with Neutron's 400. */
function parseCidr(cidr: string): { first: number; last: number } {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  const prefix = Number(match?.[2]);
  if (!match?.[1] || match[1].split('.').some((o) => Number(o) > 255) || prefix > 30) {
    throw new ApiError(
      400,
      `Invalid input for cidr. Reason: '${cidr}' is not a valid IPv4 subnet.`,
      'InvalidInput',
    );
  }
  const size = 2 ** (32 - prefix);
  const first = ipToInt(match[1]) - (ipToInt(match[1]) % size);
  return { first, last: first + size - 1 };
}

function notFound(kind: 'network' | 'subnet' | 'port', id: string): ApiError {
  const type = `${kind[0]?.toUpperCase()}${kind.slice(1)}NotFound`;
  return new ApiError(404, `${type.replace('NotFound', '')} ${id} could not be found.`, type);
}

/** Is a Neutron object visible to the caller (own project, shared network, or admin)? */
function canSee(req: ApiRequest, doc: NeutronDoc, shared = false): boolean {
  return req.auth.isAdmin || doc.project_id === req.auth.projectId || shared;
}

function loadNetwork(ctx: SimContext, req: ApiRequest, id: string): NetworkDoc {
  const network = ctx.store.get<NetworkDoc>('network', id);
  if (!network || !canSee(req, network, network.shared || network.external)) throw notFound('network', id);
  return network;
}

/** Picks the first free address of a subnet's allocation pools. */
function allocateAddress(ctx: SimContext, subnet: SubnetDoc): string {
  const used = new Set(
    ctx.store
      .list<PortDoc>('port', (p) => p.network_id === subnet.network_id)
      .flatMap((p) => p.fixed_ips.filter((ip) => ip.subnet_id === subnet.id).map((ip) => ip.ip_address)),
  );
  for (const pool of subnet.allocation_pools) {
    for (let n = ipToInt(pool.start); n <= ipToInt(pool.end); n++) {
      const ip = intToIp(n);
      if (!used.has(ip)) return ip;
    }
  }
  throw new ApiError(
    409,
    `No more IP addresses available on network ${subnet.network_id}.`,
    'IpAddressGenerationFailure',
  );
}

/** Options of {@link createPort}. */
export interface PortSpec {
  networkId: string;
  projectId: string;
  name?: string;
  deviceId?: string;
  deviceOwner?: string;
  fixedIps?: { subnet_id?: string; ip_address?: string }[];
}

/** Creates a port with an address on each requested subnet (or the network's first subnet). */
export function createPort(ctx: SimContext, spec: PortSpec): PortDoc {
  const subnets = ctx.store.list<SubnetDoc>('subnet', (s) => s.network_id === spec.networkId);
  const requested: { subnet_id?: string; ip_address?: string }[] = spec.fixedIps?.length
    ? spec.fixedIps
    : subnets.slice(0, 1).map((s) => ({ subnet_id: s.id }));
  const fixedIps = requested.map((want) => {
    const subnet = subnets.find((s) => s.id === want.subnet_id) ?? (want.subnet_id ? undefined : subnets[0]);
    if (!subnet) throw notFound('subnet', want.subnet_id ?? '');
    return { subnet_id: subnet.id, ip_address: want.ip_address ?? allocateAddress(ctx, subnet) };
  });
  const mac = ['fa', '16', '3e', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(
    ':',
  );
  return ctx.store.put<PortDoc>('port', {
    id: randomUUID(),
    name: spec.name ?? '',
    project_id: spec.projectId,
    description: '',
    created: ctx.now(),
    network_id: spec.networkId,
    mac_address: mac,
    fixed_ips: fixedIps,
    device_id: spec.deviceId ?? '',
    device_owner: spec.deviceOwner ?? '',
    admin_state_up: true,
  });
}

function common(doc: NeutronDoc): Record<string, unknown> {
  return {
    id: doc.id,
    name: doc.name,
    tenant_id: doc.project_id,
    project_id: doc.project_id,
    description: doc.description,
    tags: [],
    created_at: isoTimeZ(doc.created),
    updated_at: isoTimeZ(doc.created),
    revision_number: 1,
  };
}

/** One Neutron resource: how to render, create and delete it. */
interface NeutronResource<T extends NeutronDoc> {
  kind: 'network' | 'subnet' | 'port';
  visible(req: ApiRequest, doc: T): boolean;
  view(doc: T): Record<string, unknown>;
  create(req: ApiRequest, body: Record<string, unknown>, projectId: string): T;
  delete(doc: T): void;
}

function networkResource(ctx: SimContext): NeutronResource<NetworkDoc> {
  return {
    kind: 'network',
    visible: (req, n) => canSee(req, n, n.shared || n.external),
    view: (n) => ({
      ...common(n),
      status: 'ACTIVE',
      admin_state_up: n.admin_state_up,
      shared: n.shared,
      'router:external': n.external,
      subnets: ctx.store.list<SubnetDoc>('subnet', (s) => s.network_id === n.id).map((s) => s.id),
      mtu: n.mtu,
      availability_zones: ['nova'],
      availability_zone_hints: [],
      port_security_enabled: true,
      ipv4_address_scope: null,
      ipv6_address_scope: null,
    }),
    create: (req, body, projectId) => {
      if ((body.shared === true || body['router:external'] === true) && !req.auth.isAdmin) {
        throw new ApiError(
          403,
          '(rule:create_network:shared) is disallowed by policy',
          'PolicyNotAuthorized',
        );
      }
      return {
        id: randomUUID(),
        name: optionalString(body, 'name') ?? '',
        project_id: projectId,
        description: optionalString(body, 'description') ?? '',
        created: ctx.now(),
        admin_state_up: body.admin_state_up !== false,
        shared: body.shared === true,
        external: body['router:external'] === true,
        mtu: typeof body.mtu === 'number' ? body.mtu : 1450,
      };
    },
    delete: (n) => {
      const ports = ctx.store.list<PortDoc>(
        'port',
        (p) => p.network_id === n.id && p.device_owner !== 'network:dhcp',
      );
      if (ports.length > 0) {
        throw new ApiError(
          409,
          `Unable to complete operation on network ${n.id}. There are one or more ports still in use on the network.`,
          'NetworkInUse',
        );
      }
      for (const subnet of ctx.store.list<SubnetDoc>('subnet', (s) => s.network_id === n.id)) {
        ctx.store.delete('subnet', subnet.id);
      }
      ctx.store.delete('network', n.id);
    },
  };
}

function subnetResource(ctx: SimContext): NeutronResource<SubnetDoc> {
  const networkOf = (s: SubnetDoc) => ctx.store.get<NetworkDoc>('network', s.network_id);
  return {
    kind: 'subnet',
    visible: (req, s) => canSee(req, s, Boolean(networkOf(s)?.shared || networkOf(s)?.external)),
    view: (s) => ({
      ...common(s),
      network_id: s.network_id,
      cidr: s.cidr,
      ip_version: s.ip_version,
      gateway_ip: s.gateway_ip,
      enable_dhcp: s.enable_dhcp,
      allocation_pools: s.allocation_pools,
      dns_nameservers: s.dns_nameservers,
      host_routes: [],
      ipv6_ra_mode: null,
      ipv6_address_mode: null,
      subnetpool_id: null,
      service_types: [],
    }),
    create: (req, body, projectId) => {
      const networkId = optionalString(body, 'network_id');
      if (!networkId)
        throw new ApiError(400, "Failed to parse request. Required attribute 'network_id' not specified");
      loadNetwork(ctx, req, networkId);
      if (body.ip_version !== undefined && body.ip_version !== 4) {
        throw new ApiError(
          400,
          'Invalid input for ip_version. Reason: only IPv4 is simulated.',
          'InvalidInput',
        );
      }
      const cidr = optionalString(body, 'cidr') ?? '';
      const range = parseCidr(cidr);
      for (const other of ctx.store.list<SubnetDoc>('subnet', (s) => s.network_id === networkId)) {
        const o = parseCidr(other.cidr);
        if (range.first <= o.last && o.first <= range.last) {
          throw new ApiError(
            400,
            `Invalid input for operation: Requested subnet with cidr: ${cidr} for network: ${networkId} overlaps with another subnet.`,
            'InvalidInput',
          );
        }
      }
      const gateway =
        body.gateway_ip === null ? null : (optionalString(body, 'gateway_ip') ?? intToIp(range.first + 1));
      const pools = Array.isArray(body.allocation_pools)
        ? body.allocation_pools.filter(isRecord).map((p) => ({ start: String(p.start), end: String(p.end) }))
        : [{ start: intToIp(range.first + 2), end: intToIp(range.last - 1) }];
      return {
        id: randomUUID(),
        name: optionalString(body, 'name') ?? '',
        project_id: projectId,
        description: optionalString(body, 'description') ?? '',
        created: ctx.now(),
        network_id: networkId,
        cidr: `${intToIp(range.first)}/${cidr.split('/')[1]}`,
        ip_version: 4,
        gateway_ip: gateway,
        enable_dhcp: body.enable_dhcp !== false,
        allocation_pools: pools,
        dns_nameservers: Array.isArray(body.dns_nameservers) ? body.dns_nameservers.map(String) : [],
      };
    },
    delete: (s) => {
      const inUse = ctx.store.list<PortDoc>('port', (p) => p.fixed_ips.some((ip) => ip.subnet_id === s.id));
      if (inUse.length > 0) {
        throw new ApiError(
          409,
          `Unable to complete operation on subnet ${s.id}: One or more ports have an IP allocation from this subnet.`,
          'SubnetInUse',
        );
      }
      ctx.store.delete('subnet', s.id);
    },
  };
}

function portResource(ctx: SimContext): NeutronResource<PortDoc> {
  return {
    kind: 'port',
    visible: (req, p) => canSee(req, p),
    view: (p) => ({
      ...common(p),
      network_id: p.network_id,
      mac_address: p.mac_address,
      fixed_ips: p.fixed_ips,
      device_id: p.device_id,
      device_owner: p.device_owner,
      status: p.device_id ? 'ACTIVE' : 'DOWN',
      admin_state_up: p.admin_state_up,
      security_groups: [],
      allowed_address_pairs: [],
      'binding:vnic_type': 'normal',
      port_security_enabled: true,
    }),
    create: (req, body, projectId) => {
      const networkId = optionalString(body, 'network_id');
      if (!networkId)
        throw new ApiError(400, "Failed to parse request. Required attribute 'network_id' not specified");
      loadNetwork(ctx, req, networkId);
      return createPort(ctx, {
        networkId,
        projectId,
        name: optionalString(body, 'name') ?? '',
        deviceId: optionalString(body, 'device_id') ?? '',
        deviceOwner: optionalString(body, 'device_owner') ?? '',
        fixedIps: Array.isArray(body.fixed_ips)
          ? body.fixed_ips.filter(isRecord).map((ip) => ({
              subnet_id: optionalString(ip, 'subnet_id'),
              ip_address: optionalString(ip, 'ip_address'),
            }))
          : undefined,
      });
    },
    delete: (p) => {
      ctx.store.delete('port', p.id);
    },
  };
}

const PAGING_KEYS = new Set(['fields', 'limit', 'marker', 'sort_key', 'sort_dir']);

/** Neutron list filtering (`?name=x&id=a&id=b`) and `?fields=` projection. */
function listResponse(req: ApiRequest, collection: string, views: Record<string, unknown>[]): ApiResponse {
  const filters = [...new Set(req.query.keys())].filter((key) => !PAGING_KEYS.has(key));
  const fields = req.query.getAll('fields');
  const items = views
    .filter((view) =>
      filters.every((key) => !(key in view) || req.query.getAll(key).includes(String(view[key]))),
    )
    .map((view) => (fields.length ? Object.fromEntries(fields.map((f) => [f, view[f]])) : view));
  return { status: 200, body: { [collection]: items } };
}

function crudRoutes<T extends NeutronDoc>(ctx: SimContext, resource: NeutronResource<T>): Route[] {
  const { kind } = resource;
  const collection = `${kind}s`;
  const load = (req: ApiRequest): T => {
    const id = req.params.id ?? '';
    const doc = ctx.store.get<T>(kind, id);
    if (!doc || !resource.visible(req, doc)) throw notFound(kind, id);
    return doc;
  };
  return [
    {
      method: 'GET',
      path: `/v2.0/${collection}`,
      op: `list_${collection}`,
      handler: (req) =>
        listResponse(
          req,
          collection,
          ctx.store.list<T>(kind, (doc) => resource.visible(req, doc)).map(resource.view),
        ),
    },
    {
      method: 'GET',
      path: `/v2.0/${collection}/:id`,
      op: `show_${kind}`,
      handler: (req) => ({ status: 200, body: { [kind]: resource.view(load(req)) } }),
    },
    {
      method: 'POST',
      path: `/v2.0/${collection}`,
      op: `create_${kind}`,
      handler: (req) => {
        requireRole(req, `create_${kind}`, 'member');
        const body = requireObject(req.body, kind);
        const owner =
          optionalString(body, 'project_id') ?? optionalString(body, 'tenant_id') ?? req.auth.projectId ?? '';
        if (owner !== req.auth.projectId && !req.auth.isAdmin) {
          throw new ApiError(403, `(rule:create_${kind}) is disallowed by policy`, 'PolicyNotAuthorized');
        }
        const doc = resource.create(req, body, owner);
        ctx.store.put(kind, doc);
        return { status: 201, body: { [kind]: resource.view(doc) } };
      },
    },
    {
      method: 'DELETE',
      path: `/v2.0/${collection}/:id`,
      op: `delete_${kind}`,
      handler: (req) => {
        requireRole(req, `delete_${kind}`, 'member');
        const doc = load(req);
        if (doc.project_id !== req.auth.projectId && !req.auth.isAdmin) {
          throw new ApiError(403, `(rule:delete_${kind}) is disallowed by policy`, 'PolicyNotAuthorized');
        }
        resource.delete(doc);
        return { status: 204 };
      },
    },
  ];
}

/** Neutron v2.0 under `/network`: networks, subnets and ports. */
export function neutronRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      op: 'versions',
      public: true,
      handler: (req) => ({
        status: 200,
        body: {
          versions: [
            { id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${req.baseUrl}/network/v2.0/` }] },
          ],
        },
      }),
    },
    {
      method: 'GET',
      path: '/v2.0',
      op: 'extensions_root',
      handler: (req) => ({
        status: 200,
        body: {
          resources: ['network', 'subnet', 'port'].map((name) => ({
            name,
            collection: `${name}s`,
            links: [{ rel: 'self', href: `${req.baseUrl}/network/v2.0/${name}s` }],
          })),
        },
      }),
    },
    {
      method: 'GET',
      path: '/v2.0/extensions',
      op: 'list_extensions',
      handler: () => ({ status: 200, body: { extensions: [] } }),
    },
    ...crudRoutes(ctx, networkResource(ctx)),
    ...crudRoutes(ctx, subnetResource(ctx)),
    ...crudRoutes(ctx, portResource(ctx)),
  ];
}
