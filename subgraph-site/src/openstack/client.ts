import { setTimeout as sleep } from 'node:timers/promises';
import { adaptiveDelay } from '@protector/platform';
import { isProtectorError, ProtectorError } from '@protector/schema';
import { ServerWatch } from './server-watch.js';
import { KeystoneSession, parseTokenInfo, type SessionOptions } from './session.js';
import type {
  CreateFlavorRequest,
  CreateGroupRequest,
  CreateServerRequest,
  CreateVolumeRequest,
  Flavor,
  Group,
  GroupType,
  Image,
  ListFilter,
  ManageVolumeRequest,
  Network,
  OpenStackService,
  Port,
  Server,
  ServerFilter,
  Subnet,
  TokenInfo,
  Volume,
  VolumeAttachment,
  VolumeFilter,
  VolumePool,
  VolumeService,
  VolumeType,
} from './types.js';

/** Options of {@link createOpenStackClient}. */
export interface OpenStackClientOptions extends SessionOptions {
  /** Interval between polls of the wait methods. @default 2000 */
  pollIntervalMs?: number;
  /** How long the wait methods wait before giving up. @default 600000 */
  waitTimeoutMs?: number;
}

/** Options of one wait. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** A wait for a server, which may start from the server as just read (one request fewer). */
export interface ServerWaitOptions extends WaitOptions {
  current?: Server;
}

/** Volume statuses from which a volume never reaches another status on its own. */
const VOLUME_ERROR_STATUSES = [
  'error',
  'error_managing',
  'error_deleting',
  'error_extending',
  'error_restoring',
];

/** The one OpenStack client of the product: Keystone, Nova, Cinder, Neutron and Glance over undici. */
export interface OpenStackClient {
  /** The client's own token (authenticating if needed). */
  tokenInfo(): Promise<TokenInfo>;
  /** Validates a user's token (`GET /v3/auth/tokens`); UNAUTHENTICATED when invalid or expired. */
  validateToken(subjectToken: string): Promise<TokenInfo>;
  /** The endpoint the client uses for a service, from the catalog. */
  endpoint(service: OpenStackService): Promise<string>;

  createServer(server: CreateServerRequest): Promise<Server>;
  getServer(id: string): Promise<Server>;
  listServers(filter?: ServerFilter): Promise<Server[]>;
  deleteServer(id: string): Promise<void>;
  startServer(id: string): Promise<void>;
  stopServer(id: string): Promise<void>;
  /** Polls until the server has `status`; fails at once when it goes to ERROR, with Nova's fault. */
  waitForServerStatus(id: string, status: 'ACTIVE' | 'SHUTOFF', options?: ServerWaitOptions): Promise<Server>;
  /** Polls until the server is gone. */
  waitForServerDeleted(id: string, options?: WaitOptions): Promise<void>;
  listVolumeAttachments(serverId: string): Promise<VolumeAttachment[]>;
  attachVolume(serverId: string, volumeId: string, device?: string): Promise<VolumeAttachment>;
  detachVolume(serverId: string, volumeId: string): Promise<void>;

  listFlavors(): Promise<Flavor[]>;
  getFlavor(id: string): Promise<Flavor>;
  createFlavor(flavor: CreateFlavorRequest): Promise<Flavor>;

  createVolume(volume: CreateVolumeRequest): Promise<Volume>;
  getVolume(id: string): Promise<Volume>;
  listVolumes(filter?: VolumeFilter): Promise<Volume[]>;
  deleteVolume(id: string): Promise<void>;
  /** Cinder "manage existing": adopts a backend (array) volume as a Cinder volume. */
  manageVolume(request: ManageVolumeRequest): Promise<Volume>;
  /** Removes a volume from Cinder, leaving it on the backend. */
  unmanageVolume(id: string): Promise<void>;
  setVolumeBootable(id: string, bootable: boolean): Promise<void>;
  /** Polls until the volume has `status`; fails at once on an error status. */
  waitForVolumeStatus(id: string, status: string, options?: WaitOptions): Promise<Volume>;
  listVolumeTypes(): Promise<VolumeType[]>;
  getVolumeType(id: string): Promise<VolumeType>;
  getVolumeTypeExtraSpecs(id: string): Promise<Record<string, string>>;
  /** Cinder's services (admin only), e.g. `{ binary: 'cinder-volume' }` for the volume backends. */
  listVolumeServices(filter?: { binary?: string; host?: string }): Promise<VolumeService[]>;
  /** The pools Cinder's scheduler knows (admin only); `detail` adds their capabilities. */
  listVolumePools(options?: { detail?: boolean }): Promise<VolumePool[]>;

  listGroupTypes(): Promise<GroupType[]>;
  createGroup(group: CreateGroupRequest): Promise<Group>;
  getGroup(id: string): Promise<Group>;
  /** The token's project's groups, or (admin) those of `projectId`. */
  listGroups(filter?: { projectId?: string }): Promise<Group[]>;
  /** Deletes a group; with `deleteVolumes` its volumes too (Cinder refuses otherwise when it has any). */
  deleteGroup(id: string, options?: { deleteVolumes?: boolean }): Promise<void>;
  addVolumesToGroup(groupId: string, volumeIds: string[]): Promise<void>;
  removeVolumesFromGroup(groupId: string, volumeIds: string[]): Promise<void>;
  /** Polls until the group has `status` (e.g. `available` after creation). */
  waitForGroupStatus(id: string, status: string, options?: WaitOptions): Promise<Group>;

  listNetworks(filter?: ListFilter): Promise<Network[]>;
  createNetwork(network: Partial<Network> & { name: string }): Promise<Network>;
  deleteNetwork(id: string): Promise<void>;
  listSubnets(filter?: ListFilter): Promise<Subnet[]>;
  createSubnet(subnet: Partial<Subnet> & { network_id: string; cidr: string }): Promise<Subnet>;
  deleteSubnet(id: string): Promise<void>;
  listPorts(filter?: ListFilter): Promise<Port[]>;
  createPort(port: Partial<Port> & { network_id: string }): Promise<Port>;
  deletePort(id: string): Promise<void>;

  listImages(filter?: ListFilter): Promise<Image[]>;
  getImage(id: string): Promise<Image>;
}

const enc = encodeURIComponent;

/** Creates the OpenStack client; it authenticates lazily on the first call. */
export function createOpenStackClient(options: OpenStackClientOptions): OpenStackClient {
  const session = new KeystoneSession(options);
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  const waitTimeoutMs = options.waitTimeoutMs ?? 600_000;

  const call = async <T>(
    service: OpenStackService,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    query?: Record<string, string | number | boolean | undefined>,
    projectId?: string,
  ): Promise<T> => (await session.request<T>(service, { method, path, body, query, projectId })).body;

  /**
   * Every item of a list the service answers page by page (Nova and Cinder at most 1000 items, with a
   * `<key>_links` next link; Glance 25 by default, with `next`). The next page is asked for with the
   * marker the link gives, at this session's own endpoint: a link's host is never followed, so the
   * token goes nowhere else.
   */
  async function listAll<T>(
    service: OpenStackService,
    path: string,
    key: string,
    query: Record<string, string | number | boolean | undefined> = {},
  ): Promise<T[]> {
    const items: T[] = [];
    let marker: string | undefined;
    for (;;) {
      const body = await call<Record<string, unknown>>(service, 'GET', path, undefined, { ...query, marker });
      const page = (body[key] as T[] | undefined) ?? [];
      items.push(...page);
      const links = body[`${key}_links`] as { rel?: string; href?: string }[] | undefined;
      const next =
        links?.find((l) => l.rel === 'next')?.href ?? (typeof body.next === 'string' ? body.next : null);
      const after = next ? (new URL(next, 'http://next').searchParams.get('marker') ?? undefined) : undefined;
      if (!after || page.length === 0 || after === marker) return items;
      marker = after;
    }
  }

  /** Polls `load` until `done`; `failed` names a terminal failure; timeouts are CLOUD_ERROR. */
  async function poll<T>(
    what: string,
    load: () => Promise<T>,
    done: (item: T) => boolean,
    failed: (item: T) => string | undefined,
    wait: WaitOptions = {},
  ): Promise<T> {
    const timeoutMs = wait.timeoutMs ?? waitTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const item = await load();
      if (done(item)) return item;
      const failure = failed(item);
      if (failure) throw new ProtectorError('CLOUD_ERROR', `${what} failed: ${failure}`, { what });
      if (Date.now() >= deadline) {
        throw new ProtectorError('CLOUD_ERROR', `${what} did not finish within ${timeoutMs} ms.`, {
          what,
          timeoutMs,
        });
      }
      // Adaptive: soon at first, then no more often than the interval.
      await sleep(adaptiveDelay(wait.intervalMs ?? pollIntervalMs, attempt));
    }
  }

  // Servers waited on are watched together: one changes-since list per project per tick. Another
  // project's servers (the service user acting on a tenant's) are listed as admin, by project.
  const serverWatch = new ServerWatch(
    async (projectId, changesSince) => {
      const own = (await session.token()).info.projectId === projectId;
      return client.listServers(own ? { changesSince } : { changesSince, allTenants: true, projectId });
    },
    Math.max(10, Math.round(pollIntervalMs / 4)),
  );

  const neutronList = async <T>(collection: string, filter: ListFilter = {}): Promise<T[]> =>
    (await call<Record<string, T[]>>('network', 'GET', `/${collection}`, undefined, filter))[collection] ??
    [];
  const neutronCreate = async <T>(kind: string, body: unknown): Promise<T> =>
    (await call<Record<string, T>>('network', 'POST', `/${kind}s`, { [kind]: body }))[kind] as T;

  const client: OpenStackClient = {
    async tokenInfo() {
      return (await session.token()).info;
    },

    async validateToken(subjectToken) {
      try {
        const { body } = await session.request<{ token: Record<string, unknown> }>('identity', {
          method: 'GET',
          path: '/auth/tokens',
          query: { nocatalog: 1 },
          headers: { 'X-Subject-Token': subjectToken },
        });
        return parseTokenInfo(body.token);
      } catch (err) {
        if (isProtectorError(err, 'NOT_FOUND')) {
          throw new ProtectorError(
            'UNAUTHENTICATED',
            'The Keystone token is invalid or has expired; log in again.',
            {
              service: 'identity',
            },
          );
        }
        throw err;
      }
    },

    endpoint: (service) => session.endpoint(service),

    async createServer(server) {
      const created = await call<{ server: { id: string } }>('compute', 'POST', '/servers', { server });
      return client.getServer(created.server.id);
    },
    async getServer(id) {
      return (await call<{ server: Server }>('compute', 'GET', `/servers/${enc(id)}`)).server;
    },
    async listServers(filter = {}) {
      const query = {
        name: filter.name,
        status: filter.status,
        all_tenants: filter.allTenants ? 1 : undefined,
        project_id: filter.projectId,
        'changes-since': filter.changesSince,
      };
      return listAll<Server>('compute', '/servers/detail', 'servers', query);
    },
    async deleteServer(id) {
      await call('compute', 'DELETE', `/servers/${enc(id)}`);
    },
    async startServer(id) {
      await call('compute', 'POST', `/servers/${enc(id)}/action`, { 'os-start': null });
    },
    async stopServer(id) {
      await call('compute', 'POST', `/servers/${enc(id)}/action`, { 'os-stop': null });
    },
    async waitForServerStatus(id, status, wait = {}) {
      return serverWatch.wait(
        wait.current?.id === id ? wait.current : await client.getServer(id),
        `Server ${id} reaching ${status}`,
        (s) => s.status === status && !s['OS-EXT-STS:task_state'],
        (s) =>
          s.status === 'ERROR'
            ? `the server is in ERROR: ${s.fault?.message ?? 'no fault recorded'}`
            : undefined,
        wait.timeoutMs ?? waitTimeoutMs,
      );
    },
    async waitForServerDeleted(id, wait = {}) {
      let server: Server;
      try {
        server = await client.getServer(id);
      } catch (err) {
        if (isProtectorError(err, 'NOT_FOUND')) return;
        throw err;
      }
      await serverWatch.wait(
        server,
        `Deletion of server ${id}`,
        (s) => s.status === 'DELETED',
        () => undefined,
        wait.timeoutMs ?? waitTimeoutMs,
      );
    },
    async listVolumeAttachments(serverId) {
      const path = `/servers/${enc(serverId)}/os-volume_attachments`;
      return (await call<{ volumeAttachments: VolumeAttachment[] }>('compute', 'GET', path))
        .volumeAttachments;
    },
    async attachVolume(serverId, volumeId, device) {
      const path = `/servers/${enc(serverId)}/os-volume_attachments`;
      const body = { volumeAttachment: { volumeId, ...(device ? { device } : {}) } };
      return (await call<{ volumeAttachment: VolumeAttachment }>('compute', 'POST', path, body))
        .volumeAttachment;
    },
    async detachVolume(serverId, volumeId) {
      await call('compute', 'DELETE', `/servers/${enc(serverId)}/os-volume_attachments/${enc(volumeId)}`);
    },

    async listFlavors() {
      return (await call<{ flavors: Flavor[] }>('compute', 'GET', '/flavors/detail')).flavors;
    },
    async getFlavor(id) {
      return (await call<{ flavor: Flavor }>('compute', 'GET', `/flavors/${enc(id)}`)).flavor;
    },
    async createFlavor(flavor) {
      return (await call<{ flavor: Flavor }>('compute', 'POST', '/flavors', { flavor })).flavor;
    },

    async createVolume(volume) {
      return (await call<{ volume: Volume }>('volume', 'POST', '/volumes', { volume })).volume;
    },
    async getVolume(id) {
      return (await call<{ volume: Volume }>('volume', 'GET', `/volumes/${enc(id)}`)).volume;
    },
    async listVolumes(filter = {}) {
      const query = {
        name: filter.name,
        status: filter.status,
        group_id: filter.groupId,
        all_tenants: filter.allTenants ? 1 : undefined,
      };
      return listAll<Volume>('volume', '/volumes/detail', 'volumes', query);
    },
    async deleteVolume(id) {
      await call('volume', 'DELETE', `/volumes/${enc(id)}`);
    },
    async manageVolume(req) {
      const volume = {
        host: req.host,
        ref: { 'source-name': req.sourceName },
        name: req.name,
        description: req.description,
        volume_type: req.volume_type,
        bootable: req.bootable ?? false,
        metadata: req.metadata,
      };
      return (await call<{ volume: Volume }>('volume', 'POST', '/manageable_volumes', { volume })).volume;
    },
    async unmanageVolume(id) {
      await call('volume', 'POST', `/volumes/${enc(id)}/action`, { 'os-unmanage': null });
    },
    async setVolumeBootable(id, bootable) {
      await call('volume', 'POST', `/volumes/${enc(id)}/action`, { 'os-set_bootable': { bootable } });
    },
    waitForVolumeStatus(id, status, wait) {
      return poll(
        `Volume ${id} reaching ${status}`,
        () => client.getVolume(id),
        (v) => v.status === status,
        (v) => (VOLUME_ERROR_STATUSES.includes(v.status) ? `the volume is in status ${v.status}` : undefined),
        wait,
      );
    },
    async listVolumeTypes() {
      return (await call<{ volume_types: VolumeType[] }>('volume', 'GET', '/types')).volume_types;
    },
    async getVolumeType(id) {
      return (await call<{ volume_type: VolumeType }>('volume', 'GET', `/types/${enc(id)}`)).volume_type;
    },
    async getVolumeTypeExtraSpecs(id) {
      const path = `/types/${enc(id)}/extra_specs`;
      return (await call<{ extra_specs: Record<string, string> }>('volume', 'GET', path)).extra_specs;
    },

    async listVolumeServices(filter = {}) {
      const query = { binary: filter.binary, host: filter.host };
      return (await call<{ services: VolumeService[] }>('volume', 'GET', '/os-services', undefined, query))
        .services;
    },
    async listVolumePools(options = {}) {
      const query = { detail: options.detail ? 'True' : undefined };
      const path = '/scheduler-stats/get_pools';
      return (await call<{ pools: VolumePool[] }>('volume', 'GET', path, undefined, query)).pools;
    },

    async listGroupTypes() {
      return (await call<{ group_types: GroupType[] }>('volume', 'GET', '/group_types')).group_types;
    },
    async createGroup(group) {
      const body = {
        group: {
          name: group.name,
          description: group.description,
          group_type: group.groupType,
          volume_types: group.volumeTypes,
          availability_zone: group.availabilityZone,
        },
      };
      const created = await call<{ group: { id: string } }>(
        'volume',
        'POST',
        '/groups',
        body,
        undefined,
        group.projectId,
      );
      return client.getGroup(created.group.id);
    },
    async getGroup(id) {
      return (
        await call<{ group: Group }>('volume', 'GET', `/groups/${enc(id)}`, undefined, {
          list_volume: 'True',
        })
      ).group;
    },
    async listGroups(filter = {}) {
      return (
        await call<{ groups: Group[] }>(
          'volume',
          'GET',
          '/groups/detail',
          undefined,
          undefined,
          filter.projectId,
        )
      ).groups;
    },
    async deleteGroup(id, { deleteVolumes = false } = {}) {
      await call('volume', 'POST', `/groups/${enc(id)}/action`, {
        delete: { 'delete-volumes': deleteVolumes },
      });
    },
    async addVolumesToGroup(groupId, volumeIds) {
      await call('volume', 'PUT', `/groups/${enc(groupId)}`, { group: { add_volumes: volumeIds.join(',') } });
    },
    async removeVolumesFromGroup(groupId, volumeIds) {
      await call('volume', 'PUT', `/groups/${enc(groupId)}`, {
        group: { remove_volumes: volumeIds.join(',') },
      });
    },
    waitForGroupStatus(id, status, wait) {
      return poll(
        `Group ${id} reaching ${status}`,
        () => client.getGroup(id),
        (g) => g.status === status,
        (g) => (g.status === 'error' ? 'the group is in status error' : undefined),
        wait,
      );
    },

    listNetworks: (filter) => neutronList<Network>('networks', filter),
    createNetwork: (network) => neutronCreate<Network>('network', network),
    async deleteNetwork(id) {
      await call('network', 'DELETE', `/networks/${enc(id)}`);
    },
    listSubnets: (filter) => neutronList<Subnet>('subnets', filter),
    createSubnet: (subnet) => neutronCreate<Subnet>('subnet', { ip_version: 4, ...subnet }),
    async deleteSubnet(id) {
      await call('network', 'DELETE', `/subnets/${enc(id)}`);
    },
    listPorts: (filter) => neutronList<Port>('ports', filter),
    createPort: (port) => neutronCreate<Port>('port', port),
    async deletePort(id) {
      await call('network', 'DELETE', `/ports/${enc(id)}`);
    },

    async listImages(filter = {}) {
      return listAll<Image>('image', '/images', 'images', filter);
    },
    async getImage(id) {
      return call<Image>('image', 'GET', `/images/${enc(id)}`);
    },
  };
  return client;
}
