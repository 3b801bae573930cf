/**
 * Nova servers: the stored server and its status transitions (BUILD -> ACTIVE or ERROR, power
 * transitions completing on load), the server view, create (block devices, networks, boot
 * failures), list, show and delete.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { attachVolume, destroyVolume, detachVolume, loadVolume } from './cinder-model.js';
import type { SimContext } from './context.js';
import type { ImageDoc } from './glance.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  atLeast,
  collectionLinks,
  isoTime,
  isoTimeZ,
  isRecord,
  optionalString,
  paginate,
  type Route,
  requireObject,
  requireRole,
  requireString,
  stringMap,
} from './http.js';
import { createPort, type NetworkDoc, type PortDoc } from './neutron.js';
import {
  checkBootDisk,
  parseBlockDevices,
  type ServerDisk,
  serverDisks,
  validateBlockDevices,
} from './nova-block-devices.js';
import type { FlavorDoc } from './nova-flavors.js';

/** The path every Nova v2.1 route starts with. */
export const NOVA_API_PATH = '/v2.1';

export type ServerStatus = 'BUILD' | 'ACTIVE' | 'SHUTOFF' | 'ERROR';

export interface ServerVolume {
  id: string;
  device: string;
  delete_on_termination: boolean;
  boot: boolean;
}

/** A stored Nova server and the transition it is in. */
export interface ServerDoc {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  flavor_id: string;
  image_id: string | null;
  metadata: Record<string, string>;
  status: ServerStatus;
  task_state: string | null;
  /** A transition in progress: the status the server reaches at `at`. */
  pending?: { status: ServerStatus; at: number };
  fault?: { code: number; message: string; created: number };
  launched_at: number | null;
  created: number;
  updated: number;
  port_ids: string[];
  /** Ports Nova created itself (deleted with the server). */
  own_port_ids: string[];
  volumes: ServerVolume[];
  key_name: string | null;
  description: string | null;
}

export const VM_STATES: Record<ServerStatus, string> = {
  BUILD: 'building',
  ACTIVE: 'active',
  SHUTOFF: 'stopped',
  ERROR: 'error',
};
const POWER_STATES: Record<ServerStatus, number> = { BUILD: 0, ACTIVE: 1, SHUTOFF: 4, ERROR: 0 };

/** Loads a server, completing a transition whose time has come. */
export function loadServerDoc(ctx: SimContext, id: string): ServerDoc | undefined {
  const server = ctx.store.get<ServerDoc>('server', id);
  return server && settled(ctx, server);
}

/** The server with a transition whose time has come completed (and stored). */
function settled(ctx: SimContext, server: ServerDoc): ServerDoc {
  if (server.pending && server.pending.at <= ctx.now()) {
    const { status, at } = server.pending;
    server.status = status;
    server.task_state = null;
    server.updated = at;
    if (status === 'ACTIVE') server.launched_at ??= at;
    delete server.pending;
    ctx.store.put('server', server);
  }
  return server;
}

export function loadServer(ctx: SimContext, req: ApiRequest, id: string): ServerDoc {
  const server = loadServerDoc(ctx, id);
  if (!server || (server.project_id !== req.auth.projectId && !req.auth.isAdmin)) {
    throw new ApiError(404, `Instance ${id} could not be found.`);
  }
  return server;
}

function serverView(ctx: SimContext, req: ApiRequest, s: ServerDoc): Record<string, unknown> {
  const flavor = ctx.store.get<FlavorDoc>('flavor', s.flavor_id);
  const addresses: Record<string, unknown[]> = {};
  for (const portId of s.port_ids) {
    const port = ctx.store.get<PortDoc>('port', portId);
    if (!port) continue;
    const network = ctx.store.get<NetworkDoc>('network', port.network_id);
    const list = addresses[network?.name ?? port.network_id] ?? [];
    for (const ip of port.fixed_ips) {
      list.push({
        version: 4,
        addr: ip.ip_address,
        'OS-EXT-IPS:type': 'fixed',
        'OS-EXT-IPS-MAC:mac_addr': port.mac_address,
      });
    }
    addresses[network?.name ?? port.network_id] = list;
  }
  const view: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status: s.status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: s.metadata,
    hostId: s.status === 'ACTIVE' ? 'sim-host-0' : '',
    image: s.image_id ? { id: s.image_id, links: [] } : '',
    flavor: atLeast(req.microversion, '2.47')
      ? {
          original_name: flavor?.name,
          vcpus: flavor?.vcpus,
          ram: flavor?.ram,
          disk: flavor?.disk,
          ephemeral: flavor?.ephemeral,
          swap: flavor?.swap,
          extra_specs: flavor?.extra_specs ?? {},
        }
      : {
          id: s.flavor_id,
          links: [{ rel: 'bookmark', href: `${req.baseUrl}/compute/flavors/${s.flavor_id}` }],
        },
    created: isoTimeZ(s.created),
    updated: isoTimeZ(s.updated),
    addresses,
    accessIPv4: '',
    accessIPv6: '',
    links: [{ rel: 'self', href: `${req.baseUrl}/compute/v2.1/servers/${s.id}` }],
    key_name: s.key_name,
    config_drive: '',
    progress: 0,
    security_groups: [{ name: 'default' }],
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': 'nova',
    'OS-EXT-STS:power_state': POWER_STATES[s.status],
    'OS-EXT-STS:task_state': s.task_state,
    'OS-EXT-STS:vm_state': VM_STATES[s.status],
    'OS-SRV-USG:launched_at': s.launched_at ? isoTime(s.launched_at) : null,
    'OS-SRV-USG:terminated_at': null,
    'os-extended-volumes:volumes_attached': s.volumes.map((v) =>
      atLeast(req.microversion, '2.3')
        ? { id: v.id, delete_on_termination: v.delete_on_termination }
        : { id: v.id },
    ),
  };
  if (s.status === 'ERROR' && s.fault) {
    view.fault = { code: s.fault.code, message: s.fault.message, created: isoTimeZ(s.fault.created) };
  }
  if (req.auth.isAdmin) {
    view['OS-EXT-SRV-ATTR:host'] = s.status === 'ERROR' ? null : 'sim-host-0';
    view['OS-EXT-SRV-ATTR:instance_name'] = `instance-${s.id.slice(0, 8)}`;
  }
  if (atLeast(req.microversion, '2.9')) view.locked = false;
  if (atLeast(req.microversion, '2.19')) view.description = s.description;
  if (atLeast(req.microversion, '2.26')) view.tags = [];
  return view;
}

/** Why the boot fails after Nova accepted the request (the server goes to ERROR with this fault), if it does. */
function bootFailure(
  ctx: SimContext,
  id: string,
  disks: readonly ServerDisk[],
): { code: number; message: string } | undefined {
  for (const { volume } of disks) {
    // A volume Nova had Cinder create that ended in error (Nova waited for it in vain).
    if (volume.status === 'error') {
      return {
        code: 500,
        message: `Build of instance ${id} aborted: Volume ${volume.id} did not finish being created even after we waited 0 seconds or 1 attempts. And its status is error.`,
      };
    }
  }
  const fault = ctx.faults.take('compute', 'boot_server');
  if (fault) {
    return {
      code: fault.error ?? 500,
      message:
        fault.message ??
        `Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance ${id}.`,
    };
  }
  return undefined;
}

function requestedNetworks(
  ctx: SimContext,
  req: ApiRequest,
  server: Record<string, unknown>,
): { network?: string; port?: string }[] {
  const networks = server.networks;
  if (networks === 'none') return [];
  if (networks === undefined || networks === 'auto') {
    if (networks === undefined && atLeast(req.microversion, '2.37')) {
      throw new ApiError(400, "Invalid input for field/attribute server. 'networks' is a required property.");
    }
    const own = ctx.store.list<NetworkDoc>(
      'network',
      (n) => n.project_id === req.auth.projectId && !n.external,
    )[0];
    return own ? [{ network: own.id }] : [];
  }
  if (!Array.isArray(networks)) throw new ApiError(400, 'Invalid input for field/attribute networks.');
  return networks.map((raw) => {
    const entry = isRecord(raw) ? raw : {};
    const port = optionalString(entry, 'port');
    if (port) {
      const doc = ctx.store.get<PortDoc>('port', port);
      if (!doc || (doc.project_id !== req.auth.projectId && !req.auth.isAdmin))
        throw new ApiError(400, `Port ${port} could not be found.`);
      if (doc.device_id) throw new ApiError(409, `Port ${port} is still in use.`);
      return { port };
    }
    const uuid = optionalString(entry, 'uuid') ?? '';
    const network = ctx.store.get<NetworkDoc>('network', uuid);
    const usable =
      network && (network.project_id === req.auth.projectId || network.shared || req.auth.isAdmin);
    if (!usable) throw new ApiError(400, `Network ${uuid} could not be found.`);
    return { network: uuid };
  });
}

async function createServer(ctx: SimContext, req: ApiRequest): Promise<ApiResponse> {
  requireRole(req, 'os_compute_api:servers:create', 'member');
  const body = requireObject(req.body, 'server');
  const name = requireString(body, 'name');
  // In Nova's order: the block device mappings' format, the image (or the mappings), the flavor, the
  // boot disk, then the mappings against the cloud (nova/api/openstack/compute/servers.py create,
  // nova/compute/api.py _create_instance).
  const bdms = parseBlockDevices(body);
  const imageRef = optionalString(body, 'imageRef') || undefined;
  if (!imageRef && bdms.length === 0) throw new ApiError(400, 'Missing imageRef attribute');
  const flavorRef =
    String(body.flavorRef ?? '')
      .split('/')
      .pop() ?? '';
  const flavor = ctx.store.get<FlavorDoc>('flavor', flavorRef);
  if (!flavor) throw new ApiError(400, `Flavor ${flavorRef} could not be found.`);
  if (imageRef) {
    const image = ctx.store.get<ImageDoc>('image', imageRef.split('/').pop() ?? '');
    if (!image) throw new ApiError(400, `Can not find requested image`);
  } else {
    checkBootDisk(ctx, req, bdms);
  }
  // Without mappings, Nova boots from the image: one local disk at boot index 0.
  validateBlockDevices(
    ctx,
    req,
    flavor,
    bdms.length > 0
      ? bdms
      : [
          {
            source: 'image',
            destination: 'local',
            uuid: imageRef ?? null,
            bootIndex: 0,
            volumeSize: null,
            volumeType: null,
            guestFormat: null,
            deleteOnTermination: true,
            noDevice: false,
          },
        ],
  );
  const networks = requestedNetworks(ctx, req, body);
  const projectId = req.auth.projectId ?? '';
  const id = randomUUID();
  const now = ctx.now();
  const disks = await serverDisks(ctx, req, id, bdms);
  const failure = bootFailure(ctx, id, disks);
  const server: ServerDoc = {
    id,
    name,
    project_id: projectId,
    user_id: req.auth.userId,
    flavor_id: flavor.id,
    image_id: imageRef ?? null,
    metadata: stringMap(body.metadata),
    status: 'BUILD',
    task_state: 'spawning',
    pending: { status: failure ? 'ERROR' : 'ACTIVE', at: now + ctx.timing.bootTimeMs },
    ...(failure ? { fault: { ...failure, created: now + ctx.timing.bootTimeMs } } : {}),
    launched_at: null,
    created: now,
    updated: now,
    port_ids: [],
    own_port_ids: [],
    volumes: [],
    key_name: optionalString(body, 'key_name') ?? null,
    description: optionalString(body, 'description') ?? null,
  };
  ctx.store.transaction(() => {
    for (const wanted of networks) {
      if (wanted.port) {
        const port = ctx.store.get<PortDoc>('port', wanted.port) as PortDoc;
        ctx.store.put('port', { ...port, device_id: id, device_owner: 'compute:nova' });
        server.port_ids.push(port.id);
      } else if (wanted.network) {
        const port = createPort(ctx, {
          networkId: wanted.network,
          projectId,
          deviceId: id,
          deviceOwner: 'compute:nova',
        });
        server.port_ids.push(port.id);
        server.own_port_ids.push(port.id);
      }
    }
    if (!failure) {
      for (const [index, disk] of disks.entries()) {
        const device = `/dev/vd${String.fromCharCode(97 + index)}`;
        attachVolume(ctx, disk.volume, id, device);
        server.volumes.push({
          id: disk.volume.id,
          device,
          delete_on_termination: disk.deleteOnTermination,
          boot: disk.boot,
        });
      }
    }
    ctx.store.put('server', server);
  });
  return {
    status: 202,
    headers: { Location: `${req.baseUrl}/compute/v2.1/servers/${id}` },
    body: {
      server: {
        id,
        links: [{ rel: 'self', href: `${req.baseUrl}/compute/v2.1/servers/${id}` }],
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: [{ name: 'default' }],
        adminPass: randomBytes(9).toString('base64url'),
      },
    },
  };
}

async function deleteServer(ctx: SimContext, req: ApiRequest): Promise<ApiResponse> {
  requireRole(req, 'os_compute_api:servers:delete', 'member');
  const server = loadServer(ctx, req, req.params.id ?? '');
  for (const v of server.volumes) {
    detachVolume(ctx, v.id, server.id);
    const volume = loadVolume(ctx, v.id);
    if (v.delete_on_termination && volume) await destroyVolume(ctx, volume);
  }
  for (const portId of server.port_ids) {
    const port = ctx.store.get<PortDoc>('port', portId);
    if (!port) continue;
    if (server.own_port_ids.includes(portId)) ctx.store.delete('port', portId);
    else ctx.store.put('port', { ...port, device_id: '', device_owner: '' });
  }
  // Nova soft-deletes the row: a list with changes-since still shows the server, as DELETED.
  ctx.store.delete('server', server.id);
  ctx.store.put<DeletedServerDoc>('deleted_server', { ...server, updated: ctx.now(), deleted_at: ctx.now() });
  return { status: 204 };
}

/** A deleted server's row: what it was, and when it was deleted. */
interface DeletedServerDoc extends ServerDoc {
  deleted_at: number;
}

/** `changes-since` (ISO 8601), as Nova reads it; null when absent. */
function changesSince(req: ApiRequest): number | null {
  const text = req.query.get('changes-since');
  if (text === null) return null;
  const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$/.test(text)
    ? Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`)
    : Number.NaN;
  if (Number.isNaN(at)) {
    throw new ApiError(
      400,
      `Invalid input for query parameters changes-since. Value: ${text}. '${text}' is not a 'date-time'`,
    );
  }
  return at;
}

function listServers(ctx: SimContext, req: ApiRequest, detail: boolean): ApiResponse {
  const allTenants = req.auth.isAdmin && ['1', 'true', 'True'].includes(req.query.get('all_tenants') ?? '');
  const project = allTenants
    ? (req.query.get('project_id') ?? req.query.get('tenant_id'))
    : req.auth.projectId;
  let namePattern: RegExp | undefined;
  try {
    namePattern = req.query.has('name') ? new RegExp(req.query.get('name') ?? '') : undefined;
  } catch {
    throw new ApiError(400, `Invalid regular expression in name filter: ${req.query.get('name')}`);
  }
  const status = req.query.get('status')?.toUpperCase();
  // changes-since: the servers changed at or after it (Nova compares updated_at), deleted ones too.
  const since = changesSince(req);
  const ofProject = (s: ServerDoc) => !project || s.project_id === project;
  // With changes-since, as Nova's index on updated_at would: only rows changed since, or with a
  // transition that may have completed since, are read.
  const live = (
    since === null
      ? ctx.store.list<ServerDoc>('server', ofProject)
      : ctx.store.listWhere<ServerDoc>(
          'server',
          "json_extract(body, '$.updated') >= ? OR json_extract(body, '$.pending') IS NOT NULL",
          [since],
          ofProject,
        )
  )
    .map((s) => settled(ctx, s))
    .filter((s) => since === null || s.updated >= since);
  const deleted =
    since === null
      ? []
      : ctx.store.listWhere<DeletedServerDoc>(
          'deleted_server',
          "json_extract(body, '$.updated') >= ?",
          [since],
          ofProject,
        );
  const servers = [...live, ...deleted].filter(
    (s) =>
      (!namePattern || namePattern.test(s.name)) &&
      (!status || (isDeleted(s) ? 'DELETED' : s.status) === status),
  );
  const { page, next } = paginate(req, servers, ctx.maxLimit);
  return {
    status: 200,
    body: {
      ...(next ? { servers_links: collectionLinks(next) } : {}),
      servers: page.map((s) =>
        detail
          ? isDeleted(s)
            ? deletedView(ctx, req, s)
            : serverView(ctx, req, s)
          : {
              id: s.id,
              name: s.name,
              links: [{ rel: 'self', href: `${req.baseUrl}/compute/v2.1/servers/${s.id}` }],
            },
      ),
    },
  };
}

const isDeleted = (s: ServerDoc): s is DeletedServerDoc => 'deleted_at' in s;

/** A deleted server as a changes-since list shows it. */
function deletedView(ctx: SimContext, req: ApiRequest, s: DeletedServerDoc): Record<string, unknown> {
  return {
    ...serverView(ctx, req, { ...s, port_ids: [], volumes: [] }),
    status: 'DELETED',
    hostId: '',
    'OS-EXT-STS:power_state': 0,
    'OS-EXT-STS:task_state': null,
    'OS-EXT-STS:vm_state': 'deleted',
    'OS-SRV-USG:terminated_at': isoTime(s.deleted_at),
  };
}

/** The server routes: list, list with details, create, show, delete. */
export function serverRoutes(ctx: SimContext): Route[] {
  const v = NOVA_API_PATH;
  return [
    {
      method: 'GET',
      path: `${v}/servers`,
      op: 'list_servers',
      handler: (req) => listServers(ctx, req, false),
    },
    {
      method: 'GET',
      path: `${v}/servers/detail`,
      op: 'list_servers',
      handler: (req) => listServers(ctx, req, true),
    },
    { method: 'POST', path: `${v}/servers`, op: 'create_server', handler: (req) => createServer(ctx, req) },
    {
      method: 'GET',
      path: `${v}/servers/:id`,
      op: 'show_server',
      handler: (req) => ({
        status: 200,
        body: { server: serverView(ctx, req, loadServer(ctx, req, req.params.id ?? '')) },
      }),
    },
    {
      method: 'DELETE',
      path: `${v}/servers/:id`,
      op: 'delete_server',
      handler: (req) => deleteServer(ctx, req),
    },
  ];
}
