/**
 * Cinder groups (consistency groups, microversion 3.13 and later): the group view, create,
 * list, show, update (rename, add and remove volumes) and the delete action; and the deprecated
 * consistency group API over the same groups (`/consistencygroups`, any microversion, as
 * cinder/api/contrib/consistencygroups.py still serves it).
 */
import { randomUUID } from 'node:crypto';
import {
  CINDER_PROJECT_PATH,
  destroyVolume,
  findVolumeType,
  type GroupDoc,
  type GroupTypeDoc,
  isReplicatedType,
  loadGroup,
  loadVolume,
  requireGroupsApi,
  type VolumeDoc,
  type VolumeTypeDoc,
  visible,
} from './cinder-model.js';
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
} from './http.js';

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

/** The consistency group view of a group (cinder/api/views/consistencygroups.py detail). */
function consistencyGroupView(g: GroupDoc): Record<string, unknown> {
  return {
    id: g.id,
    status: g.status,
    availability_zone: g.availability_zone,
    created_at: isoTime(g.created),
    name: g.name,
    description: g.description,
    volume_types: g.volume_type_ids,
  };
}

/** The group routes. */
export function groupRoutes(ctx: SimContext): Route[] {
  const p = CINDER_PROJECT_PATH;
  return [
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
    ...(['/consistencygroups', '/consistencygroups/detail'] as const).map(
      (path): Route => ({
        method: 'GET',
        path: `${p}${path}`,
        op: 'list_consistency_groups',
        handler: (req) => {
          // group/api.py get_all: an admin who passes all_tenants (whatever its value) sees every project's.
          const groups = ctx.store
            .list<GroupDoc>('group', (g) => visible(req, g.project_id))
            .map((g) => consistencyGroupView(loadGroup(ctx, req, g.id)))
            .filter((g) => matchesQuery(req.query, g, ['name', 'status']));
          const detail = path.endsWith('detail');
          return {
            status: 200,
            body: {
              consistencygroups: detail ? groups : groups.map((g) => ({ id: g.id, name: g.name })),
            },
          };
        },
      }),
    ),
    {
      method: 'GET',
      path: `${p}/consistencygroups/:id`,
      op: 'show_consistency_group',
      handler: (req) => {
        const group = ctx.store.get<GroupDoc>('group', req.params.id ?? '');
        if (!group || (group.project_id !== req.params.project_id && !req.auth.isAdmin)) {
          throw new ApiError(404, `Group ${req.params.id} could not be found.`);
        }
        return {
          status: 200,
          body: { consistencygroup: consistencyGroupView(loadGroup(ctx, req, group.id)) },
        };
      },
    },
  ];
}
