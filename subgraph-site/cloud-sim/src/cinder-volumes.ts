/**
 * Cinder volumes: the volume view, list, create (on the array for replication-enabled types),
 * show, delete, and the volume actions (os-set_bootable, os-unmanage, os-reset_status).
 */
import { randomUUID } from 'node:crypto';
import {
  CINDER_PROJECT_PATH,
  checkDeletable,
  defaultVolumeType,
  destroyVolume,
  findVolumeType,
  GIB,
  getVolume,
  isReplicatedType,
  loadGroup,
  loadVolume,
  type VolumeDoc,
  type VolumeTypeDoc,
  visible,
} from './cinder-model.js';
import { schedulePool } from './cinder-services.js';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  atLeast,
  collectionLinks,
  isoTime,
  isRecord,
  matchesQuery,
  optionalString,
  paginate,
  type Route,
  requireObject,
  requireRole,
  stringMap,
} from './http.js';
import { arrayVolumeNameFor } from './volume-backend.js';

export function volumeView(ctx: SimContext, req: ApiRequest, v: VolumeDoc): Record<string, unknown> {
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

function listVolumes(ctx: SimContext, req: ApiRequest, detail: boolean): ApiResponse {
  const views = ctx.store
    .list<VolumeDoc>('volume', (v) => visible(req, v.project_id))
    .map((v) => loadVolume(ctx, v.id) as VolumeDoc)
    .map((v) => volumeView(ctx, req, v))
    .filter((v) => matchesQuery(req.query, v, ['name', 'status', 'group_id', 'bootable']));
  const { page, next } = paginate(req, views as (Record<string, unknown> & { id: string })[], ctx.maxLimit);
  return {
    status: 200,
    body: {
      volumes: detail ? page : page.map((v) => ({ id: v.id, name: v.name, links: v.links })),
      ...(next ? { volumes_links: collectionLinks(next) } : {}),
    },
  };
}

/** What a new volume is made of; see {@link createVolumeDoc}. */
export interface NewVolume {
  projectId: string;
  userId: string;
  size: number;
  type: VolumeTypeDoc;
  name?: string;
  description?: string;
  imageRef?: string;
  groupId?: string | null;
  metadata?: Record<string, string>;
}

/**
 * Creates a volume as Cinder does: scheduled on a pool that fits its type, on the array for an array
 * pool (`volume-<id>-cinder`, as Cinder's Pure driver names it), bootable when made from an image.
 * Nova uses it too, for the volumes of image-to-volume block device mappings.
 */
export async function createVolumeDoc(ctx: SimContext, v: NewVolume): Promise<VolumeDoc> {
  const id = randomUUID();
  const now = ctx.now();
  const pool = schedulePool(ctx, v.type);
  const volume: VolumeDoc = {
    id,
    name: v.name ?? '',
    description: v.description ?? '',
    project_id: v.projectId,
    user_id: v.userId,
    size: v.size,
    status: 'creating',
    ready_at: now + ctx.timing.volumeCreateMs,
    volume_type_id: v.type.id,
    bootable: Boolean(v.imageRef),
    metadata: { ...v.metadata },
    attachments: [],
    group_id: v.groupId ?? null,
    host: pool?.pool ?? '',
    created: now,
    updated: now,
  };
  if (!pool) {
    volume.status = 'error';
    delete volume.ready_at;
  } else if (pool.array && ctx.backend) {
    try {
      volume.array_name = await ctx.backend.createVolume(arrayVolumeNameFor(id), v.size * GIB);
    } catch {
      volume.status = 'error';
      delete volume.ready_at;
    }
  }
  ctx.store.put('volume', volume);
  return volume;
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
  const volume = await createVolumeDoc(ctx, {
    projectId: req.params.project_id ?? '',
    userId: req.auth.userId,
    size,
    type,
    name: optionalString(body, 'name'),
    description: optionalString(body, 'description'),
    imageRef,
    groupId,
    metadata: stringMap(body.metadata),
  });
  return { status: 202, body: { volume: volumeView(ctx, req, loadVolume(ctx, volume.id) as VolumeDoc) } };
}

/** Cinder's Pure driver keeps an unmanaged volume on the array as `<name>-unmanaged` (63 characters at most). */
const unmanagedName = (name: string): string =>
  name.length + '-unmanaged'.length > 63
    ? `${name.slice(0, -'-unmanaged'.length)}-unmanaged`
    : `${name}-unmanaged`;

async function volumeAction(ctx: SimContext, req: ApiRequest): Promise<ApiResponse> {
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
      if (volume.array_name && ctx.backend) {
        await ctx.backend.renameVolume(volume.array_name, unmanagedName(volume.array_name));
      }
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

/** The volume routes under `/volume/v3/:project_id/volumes`. */
export function volumeRoutes(ctx: SimContext): Route[] {
  const p = CINDER_PROJECT_PATH;
  return [
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
  ];
}
