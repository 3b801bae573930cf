/**
 * Cinder's manage-existing: adopting a volume that already exists on the array as a Cinder
 * volume (`POST manageable_volumes`). Unmanaging is the `os-unmanage` volume action.
 */
import { randomUUID } from 'node:crypto';
import {
  CINDER_PROJECT_PATH,
  defaultVolumeType,
  findVolumeType,
  GIB,
  isReplicatedType,
  loadVolume,
  type VolumeDoc,
} from './cinder-model.js';
import { volumeView } from './cinder-volumes.js';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  isRecord,
  optionalString,
  type Route,
  requireObject,
  requireRole,
  stringMap,
} from './http.js';

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

/** The manage-existing route. */
export function manageRoutes(ctx: SimContext): Route[] {
  const p = CINDER_PROJECT_PATH;
  return [
    {
      method: 'POST',
      path: `${p}/manageable_volumes`,
      op: 'manage_volume',
      handler: (req) => manageVolume(ctx, req),
    },
  ];
}
