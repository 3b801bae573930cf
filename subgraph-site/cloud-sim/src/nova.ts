import { randomBytes, randomUUID } from 'node:crypto';
import { attachVolume, destroyVolume, detachVolume, loadVolume, paginate, type VolumeDoc } from './cinder.js';
import type { SimContext } from './context.js';
import type { ImageDoc } from './glance.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  atLeast,
  isoTime,
  isoTimeZ,
  isRecord,
  optionalString,
  type Route,
  requireObject,
  requireRole,
  requireString,
  stringMap,
} from './http.js';
import { createPort, type NetworkDoc, type PortDoc } from './neutron.js';

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

type ServerStatus = 'BUILD' | 'ACTIVE' | 'SHUTOFF' | 'ERROR';

interface ServerVolume {
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

/** The microversions this simulated Nova accepts. */
export const NOVA_MICROVERSIONS = { min: '2.1', max: '2.96' } as const;

const VM_STATES: Record<ServerStatus, string> = {
  BUILD: 'building',
  ACTIVE: 'active',
  SHUTOFF: 'stopped',
  ERROR: 'error',
};
const POWER_STATES: Record<ServerStatus, number> = { BUILD: 0, ACTIVE: 1, SHUTOFF: 4, ERROR: 0 };

/** Loads a server, completing a transition whose time has come. */
function loadServerDoc(ctx: SimContext, id: string): ServerDoc | undefined {
  const server = ctx.store.get<ServerDoc>('server', id);
  if (server?.pending && server.pending.at <= ctx.now()) {
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

function loadServer(ctx: SimContext, req: ApiRequest, id: string): ServerDoc {
  const server = loadServerDoc(ctx, id);
  if (!server || (server.project_id !== req.auth.projectId && !req.auth.isAdmin)) {
    throw new ApiError(404, `Instance ${id} could not be found.`);
  }
  return server;
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

const isBootIndexZero = (value: unknown): boolean => value === 0 || value === '0';

/** The volume-backed disks a create request asks for, checked to exist. */
function requestedVolumes(ctx: SimContext, req: ApiRequest, server: Record<string, unknown>) {
  const mappings = Array.isArray(server.block_device_mapping_v2) ? server.block_device_mapping_v2 : [];
  return mappings.map((raw, index) => {
    const bdm = isRecord(raw) ? raw : {};
    if (bdm.source_type !== 'volume' || (bdm.destination_type ?? 'volume') !== 'volume') {
      throw new ApiError(
        400,
        `Block Device Mapping is Invalid: source_type '${String(bdm.source_type)}' with destination_type ` +
          `'${String(bdm.destination_type)}' is not supported by this cloud.`,
      );
    }
    const id = String(bdm.uuid ?? '');
    const volume = loadVolume(ctx, id);
    if (!volume || (volume.project_id !== req.auth.projectId && !req.auth.isAdmin)) {
      throw new ApiError(400, `Block Device Mapping is Invalid: failed to get volume ${id}.`);
    }
    return {
      volume,
      boot: isBootIndexZero(bdm.boot_index),
      device: `/dev/vd${String.fromCharCode(97 + index)}`,
      deleteOnTermination: bdm.delete_on_termination === true,
    };
  });
}

/** Why the boot would fail, if it would: a volume that cannot be attached or booted, or an injected fault. */
function bootFailure(
  ctx: SimContext,
  id: string,
  volumes: { volume: VolumeDoc; boot: boolean }[],
): { code: number; message: string } | undefined {
  for (const { volume, boot } of volumes) {
    if (volume.status !== 'available') {
      return {
        code: 500,
        message: `Build of instance ${id} aborted: Volume ${volume.id} status must be available, but the current status is ${volume.status}.`,
      };
    }
    if (boot && !volume.bootable) {
      return {
        code: 500,
        message: `Build of instance ${id} aborted: Block Device ${volume.id} is not bootable.`,
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

function createServer(ctx: SimContext, req: ApiRequest): ApiResponse {
  requireRole(req, 'os_compute_api:servers:create', 'member');
  const body = requireObject(req.body, 'server');
  const name = requireString(body, 'name');
  const flavorRef =
    String(body.flavorRef ?? '')
      .split('/')
      .pop() ?? '';
  const flavor = ctx.store.get<FlavorDoc>('flavor', flavorRef);
  if (!flavor) throw new ApiError(400, `Flavor ${flavorRef} could not be found.`);
  const volumes = requestedVolumes(ctx, req, body);
  const imageRef = optionalString(body, 'imageRef') || undefined;
  if (imageRef) {
    const image = ctx.store.get<ImageDoc>('image', imageRef.split('/').pop() ?? '');
    if (!image) throw new ApiError(400, `Can not find requested image`);
  } else if (!volumes.some((v) => v.boot)) {
    throw new ApiError(
      400,
      'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.',
    );
  }
  const networks = requestedNetworks(ctx, req, body);
  const projectId = req.auth.projectId ?? '';
  const id = randomUUID();
  const now = ctx.now();
  const failure = bootFailure(ctx, id, volumes);
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
      for (const v of volumes) {
        attachVolume(ctx, v.volume, id, v.device);
        server.volumes.push({
          id: v.volume.id,
          device: v.device,
          delete_on_termination: v.deleteOnTermination,
          boot: v.boot,
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
  ctx.store.delete('server', server.id);
  return { status: 204 };
}

/** Starts a power transition, refusing it with Nova's 409 when the state does not allow it. */
function powerAction(ctx: SimContext, server: ServerDoc, action: 'start' | 'stop'): void {
  const allowed: ServerStatus[] = action === 'start' ? ['SHUTOFF'] : ['ACTIVE', 'ERROR'];
  // Nova checks vm_state first, then that no task is under way.
  let state: string | undefined;
  if (!allowed.includes(server.status)) state = `vm_state ${VM_STATES[server.status]}`;
  else if (server.task_state) state = `task_state ${server.task_state}`;
  if (state) throw new ApiError(409, `Cannot '${action}' instance ${server.id} while it is in ${state}`);
  const now = ctx.now();
  server.task_state = action === 'start' ? 'powering-on' : 'powering-off';
  server.pending = { status: action === 'start' ? 'ACTIVE' : 'SHUTOFF', at: now + ctx.timing.powerTimeMs };
  server.updated = now;
  ctx.store.put('server', server);
}

function serverAction(ctx: SimContext, req: ApiRequest): ApiResponse {
  const server = loadServer(ctx, req, req.params.id ?? '');
  const [action] = isRecord(req.body) ? Object.keys(req.body) : [];
  switch (action) {
    case 'os-start':
      requireRole(req, 'os_compute_api:servers:start', 'member');
      powerAction(ctx, server, 'start');
      break;
    case 'os-stop':
      requireRole(req, 'os_compute_api:servers:stop', 'member');
      powerAction(ctx, server, 'stop');
      break;
    default:
      throw new ApiError(400, `There is no such action: ${action ?? ''}`);
  }
  loadServerDoc(ctx, server.id);
  return { status: 202 };
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
  const servers = ctx.store
    .list<ServerDoc>('server', (s) => !project || s.project_id === project)
    .map((s) => loadServerDoc(ctx, s.id) as ServerDoc)
    .filter((s) => (!namePattern || namePattern.test(s.name)) && (!status || s.status === status));
  const page = paginate(req.query, servers);
  return {
    status: 200,
    body: {
      servers: page.map((s) =>
        detail
          ? serverView(ctx, req, s)
          : {
              id: s.id,
              name: s.name,
              links: [{ rel: 'self', href: `${req.baseUrl}/compute/v2.1/servers/${s.id}` }],
            },
      ),
    },
  };
}

function attachmentView(req: ApiRequest, server: ServerDoc, v: ServerVolume): Record<string, unknown> {
  const view: Record<string, unknown> = { id: v.id, serverId: server.id, volumeId: v.id, device: v.device };
  if (atLeast(req.microversion, '2.79')) view.delete_on_termination = v.delete_on_termination;
  return view;
}

function attachServerVolume(ctx: SimContext, req: ApiRequest): ApiResponse {
  requireRole(req, 'os_compute_api:os-volumes-attachments:create', 'member');
  const server = loadServer(ctx, req, req.params.id ?? '');
  const body = requireObject(req.body, 'volumeAttachment');
  const volumeId = requireString(body, 'volumeId');
  if (!['ACTIVE', 'SHUTOFF'].includes(server.status) || server.task_state) {
    const state = server.task_state
      ? `task_state ${server.task_state}`
      : `vm_state ${VM_STATES[server.status]}`;
    throw new ApiError(409, `Cannot 'attach_volume' instance ${server.id} while it is in ${state}`);
  }
  const volume = loadVolume(ctx, volumeId);
  if (!volume || (volume.project_id !== server.project_id && !req.auth.isAdmin)) {
    throw new ApiError(404, `Volume ${volumeId} could not be found.`);
  }
  if (volume.status !== 'available') {
    throw new ApiError(
      400,
      `Invalid volume: volume '${volumeId}' status must be 'available'. Currently in '${volume.status}'`,
    );
  }
  const used = new Set(server.volumes.map((v) => v.device));
  let letter = 98;
  while (used.has(`/dev/vd${String.fromCharCode(letter)}`)) letter++;
  const attached: ServerVolume = {
    id: volumeId,
    device: optionalString(body, 'device') ?? `/dev/vd${String.fromCharCode(letter)}`,
    delete_on_termination: body.delete_on_termination === true,
    boot: false,
  };
  ctx.store.transaction(() => {
    attachVolume(ctx, volume, server.id, attached.device);
    server.volumes.push(attached);
    ctx.store.put('server', server);
  });
  return { status: 200, body: { volumeAttachment: attachmentView(req, server, attached) } };
}

function serverVolume(server: ServerDoc, volumeId: string): ServerVolume {
  const attached = server.volumes.find((v) => v.id === volumeId);
  if (!attached) throw new ApiError(404, `Volume ${volumeId} is not attached to instance ${server.id}.`);
  return attached;
}

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
  const v = '/v2.1';
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
    {
      method: 'POST',
      path: `${v}/servers/:id/action`,
      op: 'server_action',
      handler: (req) => serverAction(ctx, req),
    },
    {
      method: 'GET',
      path: `${v}/servers/:id/os-volume_attachments`,
      op: 'list_volume_attachments',
      handler: (req) => {
        const server = loadServer(ctx, req, req.params.id ?? '');
        return {
          status: 200,
          body: { volumeAttachments: server.volumes.map((a) => attachmentView(req, server, a)) },
        };
      },
    },
    {
      method: 'POST',
      path: `${v}/servers/:id/os-volume_attachments`,
      op: 'attach_volume',
      handler: (req) => attachServerVolume(ctx, req),
    },
    {
      method: 'GET',
      path: `${v}/servers/:id/os-volume_attachments/:volume_id`,
      op: 'show_volume_attachment',
      handler: (req) => {
        const server = loadServer(ctx, req, req.params.id ?? '');
        const attached = serverVolume(server, req.params.volume_id ?? '');
        return { status: 200, body: { volumeAttachment: attachmentView(req, server, attached) } };
      },
    },
    {
      method: 'DELETE',
      path: `${v}/servers/:id/os-volume_attachments/:volume_id`,
      op: 'detach_volume',
      handler: (req) => {
        requireRole(req, 'os_compute_api:os-volumes-attachments:delete', 'member');
        const server = loadServer(ctx, req, req.params.id ?? '');
        const attached = serverVolume(server, req.params.volume_id ?? '');
        if (attached.boot) throw new ApiError(400, 'Cannot detach a root device volume');
        ctx.store.transaction(() => {
          detachVolume(ctx, attached.id, server.id);
          server.volumes = server.volumes.filter((x) => x.id !== attached.id);
          ctx.store.put('server', server);
        });
        return { status: 202 };
      },
    },
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
