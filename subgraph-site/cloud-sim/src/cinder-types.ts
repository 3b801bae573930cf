/**
 * Cinder volume types (with their extra specs) and group types (with their group specs, microversion
 * 3.11 and later): list, show, create, delete; specs set, shown and unset one by one.
 */
import { randomUUID } from 'node:crypto';
import {
  CINDER_PROJECT_PATH,
  type GroupDoc,
  type GroupTypeDoc,
  requireGroupsApi,
  type VolumeDoc,
  type VolumeTypeDoc,
} from './cinder-model.js';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  isRecord,
  matchesQuery,
  optionalString,
  type Route,
  requireObject,
  requireRole,
  stringMap,
} from './http.js';

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

function groupTypeView(t: GroupTypeDoc): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    is_public: t.is_public,
    group_specs: t.group_specs,
  };
}

function loadType(ctx: SimContext, req: ApiRequest): VolumeTypeDoc {
  const type = ctx.store.get<VolumeTypeDoc>('volume_type', req.params.id ?? '');
  if (!type) throw new ApiError(404, `Volume type ${req.params.id} could not be found.`);
  return type;
}

/** types_extra_specs.py _allow_update: a type's extra specs change only while no volume uses it. */
function allowUpdate(ctx: SimContext, typeId: string): void {
  if (ctx.store.list<VolumeDoc>('volume', (v) => v.volume_type_id === typeId).length > 0) {
    throw new ApiError(400, 'Volume Type is currently in use.');
  }
}

/** Group types by id, by name, or `default` (the default group type). */
function loadGroupType(ctx: SimContext, ref: string): GroupTypeDoc {
  const id = ref === 'default' ? 'default_group_type' : ref;
  const type =
    ctx.store.get<GroupTypeDoc>('group_type', id) ??
    ctx.store.list<GroupTypeDoc>('group_type', (t) => t.name === id)[0];
  if (!type) throw new ApiError(404, `Group type with id ${ref} could not be found.`);
  return type;
}

/** The volume type and group type routes. */
export function typeRoutes(ctx: SimContext): Route[] {
  const p = CINDER_PROJECT_PATH;
  return [
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
      handler: (req) => ({ status: 200, body: { volume_type: typeView(loadType(ctx, req)) } }),
    },
    {
      method: 'DELETE',
      path: `${p}/types/:id`,
      op: 'delete_volume_type',
      handler: (req) => {
        requireRole(req, 'volume_extension:type_delete');
        const type = loadType(ctx, req);
        if (type.name === '__DEFAULT__') {
          throw new ApiError(
            400,
            `The volume type ${type.id} is a default volume type and cannot be deleted.`,
          );
        }
        if (ctx.store.list<VolumeDoc>('volume', (v) => v.volume_type_id === type.id).length > 0) {
          throw new ApiError(400, 'Target volume type is still in use.');
        }
        ctx.store.delete('volume_type', type.id);
        return { status: 202 };
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
      handler: (req) => ({ status: 200, body: { extra_specs: loadType(ctx, req).extra_specs } }),
    },
    {
      method: 'POST',
      path: `${p}/types/:id/extra_specs`,
      op: 'set_extra_specs',
      handler: (req) => {
        requireRole(req, 'volume_extension:types_extra_specs:create');
        allowUpdate(ctx, req.params.id ?? '');
        const type = loadType(ctx, req);
        const specs = requireObject(req.body, 'extra_specs');
        for (const [key, value] of Object.entries(specs)) type.extra_specs[key] = String(value);
        ctx.store.put('volume_type', type);
        return { status: 200, body: { extra_specs: specs } };
      },
    },
    {
      method: 'GET',
      path: `${p}/types/:id/extra_specs/:key`,
      op: 'show_extra_spec',
      handler: (req) => {
        const type = loadType(ctx, req);
        const key = req.params.key ?? '';
        if (!(key in type.extra_specs)) {
          throw new ApiError(404, `Volume Type ${type.id} has no extra specs with key ${key}.`);
        }
        return { status: 200, body: { [key]: type.extra_specs[key] } };
      },
    },
    {
      method: 'PUT',
      path: `${p}/types/:id/extra_specs/:key`,
      op: 'update_extra_spec',
      handler: (req) => {
        requireRole(req, 'volume_extension:types_extra_specs:update');
        allowUpdate(ctx, req.params.id ?? '');
        const type = loadType(ctx, req);
        const key = req.params.key ?? '';
        const body = isRecord(req.body) ? req.body : {};
        if (!(key in body)) throw new ApiError(400, 'Request body and URI mismatch');
        if (Object.keys(body).length > 1) throw new ApiError(400, 'Request body contains too many items');
        type.extra_specs[key] = String(body[key]);
        ctx.store.put('volume_type', type);
        return { status: 200, body: { [key]: type.extra_specs[key] } };
      },
    },
    {
      method: 'DELETE',
      path: `${p}/types/:id/extra_specs/:key`,
      op: 'delete_extra_spec',
      handler: (req) => {
        const type = loadType(ctx, req);
        requireRole(req, 'volume_extension:types_extra_specs:delete');
        allowUpdate(ctx, type.id);
        const key = req.params.key ?? '';
        if (!(key in type.extra_specs)) {
          throw new ApiError(404, `Volume Type ${type.id} has no extra specs with key ${key}.`);
        }
        delete type.extra_specs[key];
        ctx.store.put('volume_type', type);
        return { status: 202 };
      },
    },
    {
      method: 'GET',
      path: `${p}/group_types`,
      op: 'list_group_types',
      handler: (req) => {
        requireGroupsApi(req, '3.11');
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
        requireGroupsApi(req, '3.11');
        return { status: 200, body: { group_type: groupTypeView(loadGroupType(ctx, req.params.id ?? '')) } };
      },
    },
    {
      method: 'POST',
      path: `${p}/group_types`,
      op: 'create_group_type',
      handler: (req) => {
        requireGroupsApi(req, '3.11');
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
        return { status: 202, body: { group_type: groupTypeView(type) } };
      },
    },
    {
      method: 'DELETE',
      path: `${p}/group_types/:id`,
      op: 'delete_group_type',
      handler: (req) => {
        requireGroupsApi(req, '3.11');
        requireRole(req, 'group:group_types:delete');
        const type = loadGroupType(ctx, req.params.id ?? '');
        if (ctx.store.list<GroupDoc>('group', (g) => g.group_type_id === type.id).length > 0) {
          throw new ApiError(400, 'Target group type is still in use.');
        }
        ctx.store.delete('group_type', type.id);
        return { status: 202 };
      },
    },
    {
      method: 'GET',
      path: `${p}/group_types/:id/group_specs`,
      op: 'list_group_specs',
      handler: (req) => {
        requireGroupsApi(req, '3.11');
        return { status: 200, body: { group_specs: loadGroupType(ctx, req.params.id ?? '').group_specs } };
      },
    },
    {
      method: 'POST',
      path: `${p}/group_types/:id/group_specs`,
      op: 'set_group_specs',
      handler: (req) => {
        requireGroupsApi(req, '3.11');
        requireRole(req, 'group:group_types_specs:create');
        const type = loadGroupType(ctx, req.params.id ?? '');
        const specs = requireObject(req.body, 'group_specs');
        for (const [key, value] of Object.entries(specs)) type.group_specs[key] = String(value);
        ctx.store.put('group_type', type);
        return { status: 202, body: { group_specs: specs } };
      },
    },
    {
      method: 'GET',
      path: `${p}/group_types/:id/group_specs/:key`,
      op: 'show_group_spec',
      handler: (req) => {
        requireGroupsApi(req, '3.11');
        const type = loadGroupType(ctx, req.params.id ?? '');
        const key = req.params.key ?? '';
        if (!(key in type.group_specs)) {
          throw new ApiError(404, `Group Type ${type.id} has no extra spec with key ${key}.`);
        }
        return { status: 200, body: { [key]: type.group_specs[key] } };
      },
    },
    {
      method: 'DELETE',
      path: `${p}/group_types/:id/group_specs/:key`,
      op: 'delete_group_spec',
      handler: (req) => {
        requireGroupsApi(req, '3.11');
        requireRole(req, 'group:group_types_specs:delete');
        const type = loadGroupType(ctx, req.params.id ?? '');
        const key = req.params.key ?? '';
        if (!(key in type.group_specs)) {
          throw new ApiError(404, `Group Type ${type.id} has no specs with key ${key}.`);
        }
        delete type.group_specs[key];
        ctx.store.put('group_type', type);
        return { status: 202 };
      },
    },
  ];
}
