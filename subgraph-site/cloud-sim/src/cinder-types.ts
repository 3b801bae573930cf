/**
 * Cinder volume types (with their extra specs) and group types (with their group specs):
 * list, show, create.
 */
import { randomUUID } from 'node:crypto';
import {
  CINDER_PROJECT_PATH,
  type GroupTypeDoc,
  requireGroupsApi,
  type VolumeTypeDoc,
} from './cinder-model.js';
import type { SimContext } from './context.js';
import {
  ApiError,
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
  ];
}
