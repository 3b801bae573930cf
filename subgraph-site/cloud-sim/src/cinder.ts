import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  atLeast,
  isoTime,
  isRecord,
  matchesQuery,
  optionalString,
  type Route,
  requireObject,
  requireRole,
  stringMap,
} from './http.js';
import { arrayVolumeNameFor } from './volume-backend.js';

const GIB = 1024 ** 3;

/** Host of volumes on the replicated array backend, and of the rest. */
const ARRAY_HOST = 'protector-sim@pure#pure';
const LOCAL_HOST = 'protector-sim@lvm#lvm';

/** A stored attachment of a volume to a server. */
export interface VolumeAttachmentDoc {
  attachment_id: string;
  server_id: string;
  device: string;
  attached_at: number;
}

/** A stored Cinder volume. */
export interface VolumeDoc {
  id: string;
  name: string;
  description: string;
  project_id: string;
  user_id: string;
  size: number;
  status: string;
  /** While `creating`: when it becomes `available`. */
  ready_at?: number;
  volume_type_id: string;
  bootable: boolean;
  metadata: Record<string, string>;
  attachments: VolumeAttachmentDoc[];
  group_id: string | null;
  host: string;
  created: number;
  updated: number;
}

/** A stored Cinder volume type and its extra specs. */
export interface VolumeTypeDoc {
  id: string;
  name: string;
  description: string;
  is_public: boolean;
  extra_specs: Record<string, string>;
}

/** A stored Cinder group type and its group specs. */
export interface GroupTypeDoc {
  id: string;
  name: string;
  description: string;
  is_public: boolean;
  group_specs: Record<string, string>;
}

/** A stored Cinder group (consistency group). */
export interface GroupDoc {
  id: string;
  name: string;
  description: string;
  project_id: string;
  status: string;
  ready_at?: number;
  group_type_id: string;
  volume_type_ids: string[];
  availability_zone: string;
  created: number;
}

/** Does this volume type put its volumes on the replicated array? */
export const isReplicatedType = (type: VolumeTypeDoc | undefined): boolean =>
  type?.extra_specs.replication_enabled === '<is> True';

/** Loads a volume, promoting `creating` to `available` once its time has come. */
export function loadVolume(ctx: SimContext, id: string): VolumeDoc | undefined {
  const volume = ctx.store.get<VolumeDoc>('volume', id);
  if (volume?.status === 'creating' && volume.ready_at !== undefined && volume.ready_at <= ctx.now()) {
    volume.status = 'available';
    volume.updated = volume.ready_at;
    delete volume.ready_at;
    ctx.store.put('volume', volume);
  }
  return volume;
}

/** Marks a volume attached to a server (status `in-use`). */
export function attachVolume(ctx: SimContext, volume: VolumeDoc, serverId: string, device: string): void {
  const now = ctx.now();
  volume.attachments.push({ attachment_id: randomUUID(), server_id: serverId, device, attached_at: now });
  volume.status = 'in-use';
  volume.updated = now;
  ctx.store.put('volume', volume);
}

/** Detaches a volume from a server; it becomes `available` when no attachment is left. */
export function detachVolume(ctx: SimContext, volumeId: string, serverId: string): void {
  const volume = loadVolume(ctx, volumeId);
  if (!volume) return;
  volume.attachments = volume.attachments.filter((a) => a.server_id !== serverId);
  if (volume.attachments.length === 0 && volume.status === 'in-use') volume.status = 'available';
  volume.updated = ctx.now();
  ctx.store.put('volume', volume);
}

/** Deletes a volume and, for array-backed volumes, its array volume. */
export async function destroyVolume(ctx: SimContext, volume: VolumeDoc): Promise<void> {
  const arrayName = volume.metadata.array_volume_name;
  if (arrayName && ctx.backend) {
    try {
      await ctx.backend.deleteVolume(arrayName);
    } catch (err) {
      volume.status = 'error_deleting';
      ctx.store.put('volume', volume);
      throw new ApiError(
        500,
        `Volume ${volume.id} could not be deleted on the array: ${(err as Error).message}`,
      );
    }
  }
  ctx.store.delete('volume', volume.id);
}

const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];

function checkDeletable(volume: VolumeDoc, inGroupOk: boolean): void {
  if (
    !DELETABLE.includes(volume.status) ||
    volume.attachments.length > 0 ||
    (!inGroupOk && volume.group_id)
  ) {
    throw new ApiError(
      400,
      'Invalid volume: Volume status must be available or error or error_restoring or error_extending or ' +
        'error_managing and must not be migrating, attached, belong to a group, have snapshots or be ' +
        'disassociated from snapshots after volume transfer.',
    );
  }
}

function findVolumeType(ctx: SimContext, ref: string): VolumeTypeDoc {
  const type =
    ctx.store.get<VolumeTypeDoc>('volume_type', ref) ??
    ctx.store.list<VolumeTypeDoc>('volume_type', (t) => t.name === ref)[0];
  if (!type) throw new ApiError(404, `Volume type with name ${ref} could not be found.`);
  return type;
}

function defaultVolumeType(ctx: SimContext): VolumeTypeDoc {
  return findVolumeType(ctx, '__DEFAULT__');
}

function visible(req: ApiRequest, projectId: string): boolean {
  return projectId === req.params.project_id || (req.auth.isAdmin && req.query.has('all_tenants'));
}

function getVolume(ctx: SimContext, req: ApiRequest, id: string): VolumeDoc {
  const volume = loadVolume(ctx, id);
  if (!volume || (volume.project_id !== req.params.project_id && !req.auth.isAdmin)) {
    throw new ApiError(404, `Volume ${id} could not be found.`);
  }
  return volume;
}

function loadGroup(ctx: SimContext, req: ApiRequest, id: string): GroupDoc {
  const group = ctx.store.get<GroupDoc>('group', id);
  if (!group || (group.project_id !== req.params.project_id && !req.auth.isAdmin)) {
    throw new ApiError(404, `Group ${id} could not be found.`);
  }
  if (group.status === 'creating' && group.ready_at !== undefined && group.ready_at <= ctx.now()) {
    group.status = 'available';
    delete group.ready_at;
    ctx.store.put('group', group);
  }
  return group;
}

function requireGroupsApi(req: ApiRequest): void {
  // Cinder answers 404 for a resource the requested microversion does not have.
  if (!atLeast(req.microversion, '3.13')) throw new ApiError(404, 'The resource could not be found.');
}

function volumeView(ctx: SimContext, req: ApiRequest, v: VolumeDoc): Record<string, unknown> {
  const type = ctx.store.get<VolumeTypeDoc>('volume_type', v.volume_type_id);
  const view: Record<string, unknown> = {
    id: v.id,
    name: v.name,
    description: v.description,
    status: v.status,
    size: v.size,
    availability_zone: 'nova',
    created_at: isoTime(v.created),
    updated_at: isoTime(v.updated),
    attachments: v.attachments.map((a) => ({
      id: v.id,
      attachment_id: a.attachment_id,
      volume_id: v.id,
      server_id: a.server_id,
      host_name: null,
      device: a.device,
      attached_at: isoTime(a.attached_at),
    })),
    bootable: String(v.bootable),
    encrypted: false,
    metadata: v.metadata,
    volume_type: type?.name ?? null,
    snapshot_id: null,
    source_volid: null,
    multiattach: false,
    replication_status: isReplicatedType(type) ? 'enabled' : 'disabled',
    consistencygroup_id: null,
    user_id: v.user_id,
    'os-vol-tenant-attr:tenant_id': v.project_id,
    'os-vol-mig-status-attr:migstat': null,
    'os-vol-mig-status-attr:name_id': null,
    links: [{ rel: 'self', href: `${req.baseUrl}/volume/v3/${v.project_id}/volumes/${v.id}` }],
  };
  if (req.auth.isAdmin) view['os-vol-host-attr:host'] = v.host;
  if (atLeast(req.microversion, '3.13')) view.group_id = v.group_id;
  if (atLeast(req.microversion, '3.63')) view.volume_type_id = v.volume_type_id;
  return view;
}

function typeView(t: VolumeTypeDoc): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    is_public: t.is_public,
    'os-volume-type-access:is_public': t.is_public,
    qos_specs_id: null,
    extra_specs: t.extra_specs,
  };
}

function groupView(ctx: SimContext, req: ApiRequest, g: GroupDoc): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: g.id,
    name: g.name,
    description: g.description,
    status: g.status,
    availability_zone: g.availability_zone,
    created_at: isoTime(g.created),
    group_type: g.group_type_id,
    volume_types: g.volume_type_ids,
    group_snapshot_id: null,
    source_group_id: null,
  };
  if (atLeast(req.microversion, '3.25') && req.query.get('list_volume') === 'True') {
    view.volumes = ctx.store.list<VolumeDoc>('volume', (v) => v.group_id === g.id).map((v) => v.id);
  }
  if (atLeast(req.microversion, '3.38')) {
    const types = g.volume_type_ids.map((id) => ctx.store.get<VolumeTypeDoc>('volume_type', id));
    view.replication_status = types.every(isReplicatedType) ? 'enabled' : 'disabled';
  }
  if (atLeast(req.microversion, '3.58')) view.project_id = g.project_id;
  return view;
}

/** Keeps the first `limit` items after `marker`, as Cinder and Nova paginate. */
export function paginate<T extends { id: string }>(query: URLSearchParams, items: T[]): T[] {
  const marker = query.get('marker');
  const start = marker ? items.findIndex((i) => i.id === marker) + 1 : 0;
  if (marker && start === 0) throw new ApiError(400, `marker [${marker}] not found`);
  const limit = query.has('limit') ? Number(query.get('limit')) : Number.POSITIVE_INFINITY;
  return items.slice(start, start + limit);
}

function listVolumes(ctx: SimContext, req: ApiRequest, detail: boolean): ApiResponse {
  const views = ctx.store
    .list<VolumeDoc>('volume', (v) => visible(req, v.project_id))
    .map((v) => loadVolume(ctx, v.id) as VolumeDoc)
    .map((v) => volumeView(ctx, req, v))
    .filter((v) => matchesQuery(req.query, v, ['name', 'status', 'group_id', 'bootable']));
  const page = paginate(req.query, views as (Record<string, unknown> & { id: string })[]);
  return {
    status: 200,
    body: { volumes: detail ? page : page.map((v) => ({ id: v.id, name: v.name, links: v.links })) },
  };
}

async function createVolume(ctx: SimContext, req: ApiRequest): Promise<ApiResponse> {
  requireRole(req, 'volume:create', 'member');
  const body = requireObject(req.body, 'volume');
  const size = body.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
    throw new ApiError(
      400,
      `Invalid input for field/attribute size. Value: ${String(size)}. Must be an integer >= 1.`,
    );
  }
  const typeRef = optionalString(body, 'volume_type');
  const type = typeRef ? findVolumeType(ctx, typeRef) : defaultVolumeType(ctx);
  const imageRef = optionalString(body, 'imageRef');
  if (imageRef && !ctx.store.get('image', imageRef))
    throw new ApiError(400, `Invalid image identifier or unable to access requested image.`);
  const groupId = optionalString(body, 'group_id');
  if (groupId) loadGroup(ctx, req, groupId);
  const id = randomUUID();
  const now = ctx.now();
  const metadata = stringMap(body.metadata);
  const volume: VolumeDoc = {
    id,
    name: optionalString(body, 'name') ?? '',
    description: optionalString(body, 'description') ?? '',
    project_id: req.params.project_id ?? '',
    user_id: req.auth.userId,
    size,
    status: 'creating',
    ready_at: now + ctx.timing.volumeCreateMs,
    volume_type_id: type.id,
    bootable: Boolean(imageRef),
    metadata,
    attachments: [],
    group_id: groupId ?? null,
    host: isReplicatedType(type) ? ARRAY_HOST : LOCAL_HOST,
    created: now,
    updated: now,
  };
  if (isReplicatedType(type) && ctx.backend) {
    try {
      volume.metadata.array_volume_name = await ctx.backend.createVolume(arrayVolumeNameFor(id), size * GIB);
    } catch {
      volume.status = 'error';
      delete volume.ready_at;
    }
  }
  ctx.store.put('volume', volume);
  return { status: 202, body: { volume: volumeView(ctx, req, loadVolume(ctx, id) as VolumeDoc) } };
}

async function manageVolume(ctx: SimContext, req: ApiRequest): Promise<ApiResponse> {
  requireRole(req, 'volume_extension:volume_manage');
  const body = requireObject(req.body, 'volume');
  const host = optionalString(body, 'host');
  if (!host)
    throw new ApiError(400, "Invalid input for field/attribute volume. 'host' is a required property.");
  if (!isRecord(body.ref)) {
    throw new ApiError(400, "Invalid input for field/attribute volume. 'ref' is a required property.");
  }
  const typeRef = optionalString(body, 'volume_type');
  const type = typeRef ? findVolumeType(ctx, typeRef) : defaultVolumeType(ctx);
  const sourceName = body.ref['source-name'];
  const refText = `{'source-name': '${String(sourceName)}'}`;
  const invalidRef = (reason: string) =>
    `Manage existing volume failed due to invalid backend reference ${refText}: ${reason}`;
  if (!ctx.backend || !isReplicatedType(type)) {
    throw new ApiError(
      400,
      invalidRef(`volume type ${type.name} is not backed by an array that can manage volumes.`),
    );
  }
  if (typeof sourceName !== 'string' || !sourceName) {
    throw new ApiError(400, invalidRef('a source-name reference is required.'));
  }
  const owner = ctx.store.list<VolumeDoc>('volume', (v) => v.metadata.array_volume_name === sourceName)[0];
  if (owner)
    throw new ApiError(400, invalidRef(`the array volume is already managed as volume ${owner.id}.`));
  const bytes = await ctx.backend.volumeSize(sourceName);
  if (bytes === null)
    throw new ApiError(404, invalidRef(`unable to find volume ${sourceName} on the array.`));
  const now = ctx.now();
  const metadata = stringMap(body.metadata);
  const volume: VolumeDoc = {
    id: randomUUID(),
    name: optionalString(body, 'name') ?? '',
    description: optionalString(body, 'description') ?? '',
    project_id: req.params.project_id ?? '',
    user_id: req.auth.userId,
    size: Math.max(1, Math.ceil(bytes / GIB)),
    status: 'creating',
    ready_at: now + ctx.timing.volumeCreateMs,
    volume_type_id: type.id,
    bootable: body.bootable === true || body.bootable === 'true' || body.bootable === 'True',
    metadata: { ...metadata, array_volume_name: sourceName },
    attachments: [],
    group_id: null,
    host,
    created: now,
    updated: now,
  };
  ctx.store.put('volume', volume);
  return { status: 202, body: { volume: volumeView(ctx, req, loadVolume(ctx, volume.id) as VolumeDoc) } };
}

function volumeAction(ctx: SimContext, req: ApiRequest): ApiResponse {
  const volume = getVolume(ctx, req, req.params.id ?? '');
  const body = isRecord(req.body) ? req.body : {};
  const [action] = Object.keys(body);
  switch (action) {
    case 'os-set_bootable': {
      requireRole(req, 'volume_extension:volume_actions:set_bootable', 'member');
      const args = requireObject(body, action);
      volume.bootable = args.bootable === true || String(args.bootable).toLowerCase() === 'true';
      ctx.store.put('volume', volume);
      return { status: 200 };
    }
    case 'os-unmanage':
      requireRole(req, 'volume_extension:volume_unmanage');
      checkDeletable(volume, false);
      ctx.store.delete('volume', volume.id);
      return { status: 202 };
    case 'os-reset_status': {
      requireRole(req, 'volume_extension:volume_admin_actions:reset_status');
      const status = optionalString(requireObject(body, action), 'status');
      if (status) volume.status = status;
      delete volume.ready_at;
      ctx.store.put('volume', volume);
      return { status: 202 };
    }
    default:
      throw new ApiError(400, `There is no such action: ${action ?? ''}`);
  }
}

function createGroup(ctx: SimContext, req: ApiRequest): ApiResponse {
  requireGroupsApi(req);
  requireRole(req, 'group:create', 'member');
  const body = requireObject(req.body, 'group');
  const groupTypeRef = optionalString(body, 'group_type');
  if (!groupTypeRef)
    throw new ApiError(400, "Invalid input for field/attribute group. 'group_type' is a required property.");
  const groupType =
    ctx.store.get<GroupTypeDoc>('group_type', groupTypeRef) ??
    ctx.store.list<GroupTypeDoc>('group_type', (t) => t.name === groupTypeRef)[0];
  if (!groupType) throw new ApiError(404, `Group type with id ${groupTypeRef} could not be found.`);
  const typeRefs = Array.isArray(body.volume_types) ? body.volume_types.map(String) : [];
  if (typeRefs.length === 0)
    throw new ApiError(
      400,
      "Invalid input for field/attribute group. 'volume_types' is a required property.",
    );
  const now = ctx.now();
  const group: GroupDoc = {
    id: randomUUID(),
    name: optionalString(body, 'name') ?? '',
    description: optionalString(body, 'description') ?? '',
    project_id: req.params.project_id ?? '',
    status: 'creating',
    ready_at: now + ctx.timing.volumeCreateMs,
    group_type_id: groupType.id,
    volume_type_ids: typeRefs.map((ref) => findVolumeType(ctx, ref).id),
    availability_zone: optionalString(body, 'availability_zone') ?? 'nova',
    created: now,
  };
  ctx.store.put('group', group);
  return { status: 202, body: { group: { id: group.id, name: group.name } } };
}

function updateGroup(ctx: SimContext, req: ApiRequest): ApiResponse {
  requireGroupsApi(req);
  requireRole(req, 'group:update', 'member');
  const group = loadGroup(ctx, req, req.params.id ?? '');
  const body = requireObject(req.body, 'group');
  const split = (key: string) =>
    (optionalString(body, key) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const add = split('add_volumes');
  const remove = split('remove_volumes');
  const name = optionalString(body, 'name');
  const description = optionalString(body, 'description');
  if (add.length === 0 && remove.length === 0 && name === undefined && description === undefined) {
    throw new ApiError(
      400,
      'Name, description, add_volumes, and remove_volumes can not be all empty in the request body.',
    );
  }
  if (group.status !== 'available') {
    throw new ApiError(
      400,
      `Invalid group: Group ${group.id} status must be available, but current status is: ${group.status}.`,
    );
  }
  const toAdd = add.map((id) => {
    const volume = loadVolume(ctx, id);
    const cannot = `Invalid volume: Cannot add volume ${id} to group ${group.id} because`;
    if (!volume || volume.project_id !== group.project_id)
      throw new ApiError(400, `${cannot} volume cannot be found.`);
    if (volume.group_id && volume.group_id !== group.id)
      throw new ApiError(400, `${cannot} it is already in group ${volume.group_id}.`);
    if (!group.volume_type_ids.includes(volume.volume_type_id)) {
      const typeName = ctx.store.get<VolumeTypeDoc>('volume_type', volume.volume_type_id)?.name;
      throw new ApiError(400, `${cannot} volume type ${typeName} is not supported by the group.`);
    }
    if (!['available', 'in-use'].includes(volume.status)) {
      throw new ApiError(
        400,
        `${cannot} volume is in an invalid state: ${volume.status}. Valid states are: ('available', 'in-use').`,
      );
    }
    return volume;
  });
  const toRemove = remove.map((id) => {
    const volume = loadVolume(ctx, id);
    if (!volume || volume.group_id !== group.id) {
      throw new ApiError(
        400,
        `Invalid volume: Cannot remove volume ${id} from group ${group.id} because it is not in the group.`,
      );
    }
    return volume;
  });
  ctx.store.transaction(() => {
    for (const volume of toAdd) ctx.store.put('volume', { ...volume, group_id: group.id });
    for (const volume of toRemove) ctx.store.put('volume', { ...volume, group_id: null });
    ctx.store.put('group', {
      ...group,
      name: name ?? group.name,
      description: description ?? group.description,
    });
  });
  return { status: 202 };
}

async function groupAction(ctx: SimContext, req: ApiRequest): Promise<ApiResponse> {
  requireGroupsApi(req);
  const group = loadGroup(ctx, req, req.params.id ?? '');
  const body = isRecord(req.body) ? req.body : {};
  if (!isRecord(body.delete))
    throw new ApiError(400, `There is no such action: ${Object.keys(body)[0] ?? ''}`);
  requireRole(req, 'group:delete', 'member');
  const volumes = ctx.store.list<VolumeDoc>('volume', (v) => v.group_id === group.id);
  if (volumes.length > 0 && body.delete['delete-volumes'] !== true) {
    throw new ApiError(
      400,
      `Invalid group: Group ${group.id} still contains volumes. The delete-volumes flag is required to delete it.`,
    );
  }
  for (const volume of volumes) {
    if (volume.attachments.length > 0) {
      throw new ApiError(
        400,
        `Invalid volume: Volume ${volume.id} in group ${group.id} is attached. Need to detach first.`,
      );
    }
  }
  for (const volume of volumes) await destroyVolume(ctx, volume);
  ctx.store.delete('group', group.id);
  return { status: 202 };
}

function groupTypeView(t: GroupTypeDoc): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    is_public: t.is_public,
    group_specs: t.group_specs,
  };
}

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

/** Cinder v3 under `/volume`: volumes, manage/unmanage, volume types, groups, group types. */
export function cinderRoutes(ctx: SimContext): Route[] {
  const p = '/v3/:project_id';
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
    {
      method: 'GET',
      path: `${p}/volumes`,
      op: 'list_volumes',
      handler: (req) => listVolumes(ctx, req, false),
    },
    {
      method: 'GET',
      path: `${p}/volumes/detail`,
      op: 'list_volumes',
      handler: (req) => listVolumes(ctx, req, true),
    },
    { method: 'POST', path: `${p}/volumes`, op: 'create_volume', handler: (req) => createVolume(ctx, req) },
    {
      method: 'GET',
      path: `${p}/volumes/:id`,
      op: 'show_volume',
      handler: (req) => ({
        status: 200,
        body: { volume: volumeView(ctx, req, getVolume(ctx, req, req.params.id ?? '')) },
      }),
    },
    {
      method: 'DELETE',
      path: `${p}/volumes/:id`,
      op: 'delete_volume',
      handler: async (req) => {
        requireRole(req, 'volume:delete', 'member');
        const volume = getVolume(ctx, req, req.params.id ?? '');
        checkDeletable(volume, false);
        await destroyVolume(ctx, volume);
        return { status: 202 };
      },
    },
    {
      method: 'POST',
      path: `${p}/volumes/:id/action`,
      op: 'volume_action',
      handler: (req) => volumeAction(ctx, req),
    },
    {
      method: 'POST',
      path: `${p}/manageable_volumes`,
      op: 'manage_volume',
      handler: (req) => manageVolume(ctx, req),
    },
    {
      method: 'GET',
      path: `${p}/types`,
      op: 'list_volume_types',
      handler: (req) => ({
        status: 200,
        body: {
          volume_types: ctx.store
            .list<VolumeTypeDoc>('volume_type')
            .map(typeView)
            .filter((t) => matchesQuery(req.query, t, ['name'])),
        },
      }),
    },
    {
      method: 'GET',
      path: `${p}/types/:id`,
      op: 'show_volume_type',
      handler: (req) => {
        const type = ctx.store.get<VolumeTypeDoc>('volume_type', req.params.id ?? '');
        if (!type) throw new ApiError(404, `Volume type ${req.params.id} could not be found.`);
        return { status: 200, body: { volume_type: typeView(type) } };
      },
    },
    {
      method: 'POST',
      path: `${p}/types`,
      op: 'create_volume_type',
      handler: (req) => {
        requireRole(req, 'volume_extension:types_manage');
        const body = requireObject(req.body, 'volume_type');
        const name = optionalString(body, 'name');
        if (!name)
          throw new ApiError(
            400,
            "Invalid input for field/attribute volume_type. 'name' is a required property.",
          );
        if (ctx.store.list<VolumeTypeDoc>('volume_type', (t) => t.name === name).length > 0) {
          throw new ApiError(409, `Volume Type ${name} already exists.`);
        }
        const type: VolumeTypeDoc = {
          id: randomUUID(),
          name,
          description: optionalString(body, 'description') ?? '',
          is_public: body['os-volume-type-access:is_public'] !== false,
          extra_specs: stringMap(body.extra_specs),
        };
        ctx.store.put('volume_type', type);
        return { status: 200, body: { volume_type: typeView(type) } };
      },
    },
    {
      method: 'GET',
      path: `${p}/types/:id/extra_specs`,
      op: 'list_extra_specs',
      handler: (req) => {
        const type = ctx.store.get<VolumeTypeDoc>('volume_type', req.params.id ?? '');
        if (!type) throw new ApiError(404, `Volume type ${req.params.id} could not be found.`);
        return { status: 200, body: { extra_specs: type.extra_specs } };
      },
    },
    {
      method: 'POST',
      path: `${p}/types/:id/extra_specs`,
      op: 'set_extra_specs',
      handler: (req) => {
        requireRole(req, 'volume_extension:types_extra_specs:create');
        const type = ctx.store.get<VolumeTypeDoc>('volume_type', req.params.id ?? '');
        if (!type) throw new ApiError(404, `Volume type ${req.params.id} could not be found.`);
        const specs = requireObject(req.body, 'extra_specs');
        for (const [key, value] of Object.entries(specs)) type.extra_specs[key] = String(value);
        ctx.store.put('volume_type', type);
        return { status: 200, body: { extra_specs: specs } };
      },
    },
    {
      method: 'GET',
      path: `${p}/group_types`,
      op: 'list_group_types',
      handler: (req) => {
        requireGroupsApi(req);
        return {
          status: 200,
          body: { group_types: ctx.store.list<GroupTypeDoc>('group_type').map(groupTypeView) },
        };
      },
    },
    {
      method: 'GET',
      path: `${p}/group_types/:id`,
      op: 'show_group_type',
      handler: (req) => {
        requireGroupsApi(req);
        const id = req.params.id === 'default' ? 'default_group_type' : (req.params.id ?? '');
        const type =
          ctx.store.get<GroupTypeDoc>('group_type', id) ??
          ctx.store.list<GroupTypeDoc>('group_type', (t) => t.name === id)[0];
        if (!type) throw new ApiError(404, `Group type with id ${req.params.id} could not be found.`);
        return { status: 200, body: { group_type: groupTypeView(type) } };
      },
    },
    {
      method: 'POST',
      path: `${p}/group_types`,
      op: 'create_group_type',
      handler: (req) => {
        requireGroupsApi(req);
        requireRole(req, 'group:group_types:create');
        const body = requireObject(req.body, 'group_type');
        const name = optionalString(body, 'name');
        if (!name)
          throw new ApiError(
            400,
            "Invalid input for field/attribute group_type. 'name' is a required property.",
          );
        if (ctx.store.list<GroupTypeDoc>('group_type', (t) => t.name === name).length > 0) {
          throw new ApiError(409, `Group Type ${name} already exists.`);
        }
        const type: GroupTypeDoc = {
          id: randomUUID(),
          name,
          description: optionalString(body, 'description') ?? '',
          is_public: body.is_public !== false,
          group_specs: stringMap(body.group_specs),
        };
        ctx.store.put('group_type', type);
        return { status: 200, body: { group_type: groupTypeView(type) } };
      },
    },
    { method: 'POST', path: `${p}/groups`, op: 'create_group', handler: (req) => createGroup(ctx, req) },
    ...(['/groups', '/groups/detail'] as const).map(
      (path): Route => ({
        method: 'GET',
        path: `${p}${path}`,
        op: 'list_groups',
        handler: (req) => {
          requireGroupsApi(req);
          const groups = ctx.store
            .list<GroupDoc>('group', (g) => visible(req, g.project_id))
            .map((g) => groupView(ctx, req, loadGroup(ctx, req, g.id)))
            .filter((g) => matchesQuery(req.query, g, ['name', 'status']));
          const detail = path.endsWith('detail');
          return {
            status: 200,
            body: { groups: detail ? groups : groups.map((g) => ({ id: g.id, name: g.name })) },
          };
        },
      }),
    ),
    {
      method: 'GET',
      path: `${p}/groups/:id`,
      op: 'show_group',
      handler: (req) => {
        requireGroupsApi(req);
        return {
          status: 200,
          body: { group: groupView(ctx, req, loadGroup(ctx, req, req.params.id ?? '')) },
        };
      },
    },
    { method: 'PUT', path: `${p}/groups/:id`, op: 'update_group', handler: (req) => updateGroup(ctx, req) },
    {
      method: 'POST',
      path: `${p}/groups/:id/action`,
      op: 'group_action',
      handler: (req) => groupAction(ctx, req),
    },
  ];
}
