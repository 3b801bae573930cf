/**
 * Cinder's manage-existing: adopting a volume that already exists on a backend as a Cinder volume
 * (`POST manageable_volumes`), as cinder/api/contrib/volume_manage.py, cinder/volume/api.py
 * manage_existing, the scheduler's manage_existing and Cinder's Pure driver do it:
 *
 * - the API refuses, with 400, a missing host ("Invalid input received: Host field is missing."), an
 *   unknown volume type ("Invalid volume type: Cannot find requested '<type>' volume type") and a host
 *   without a cinder-volume service ("Host '<host>' not found");
 * - otherwise it answers 202 with the volume in status `managing`, size 0, and the rest happens behind
 *   it: the scheduler checks the pool (an unknown pool, or one whose capabilities do not fit the volume
 *   type, puts the volume in `error_managing`), then the driver adopts the backend object (a missing one
 *   gives `error_managing` too). Cinder's Pure driver renames the array volume to `volume-<id>-cinder`
 *   (in its pod, `POD::volume-<id>-cinder`, for a pod volume) and Cinder keeps the user metadata given.
 *
 * Unmanaging is the `os-unmanage` volume action (cinder-volumes.ts).
 */
import { randomUUID } from 'node:crypto';
import {
  CINDER_PROJECT_PATH,
  defaultVolumeType,
  GIB,
  type VolumeDoc,
  type VolumeTypeDoc,
} from './cinder-model.js';
import { findVolumeService, placeOnPool } from './cinder-services.js';
import { volumeView } from './cinder-volumes.js';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  atLeast,
  isRecord,
  optionalString,
  pyRepr,
  type Route,
  requireObject,
  requireRole,
  schemaBoolean,
  stringMap,
} from './http.js';
import { managedArrayVolumeName } from './volume-backend.js';

/** Cinder's pattern for a host (cinder/api/validation/parameter_types.py cinder_host). */
const CINDER_HOST = /^[a-zA-Z0-9-._#@:/+[\]]*$/;

function setStatus(ctx: SimContext, id: string, change: Partial<VolumeDoc>): void {
  const volume = ctx.store.get<VolumeDoc>('volume', id);
  if (!volume) return;
  ctx.store.put('volume', { ...volume, ...change, updated: ctx.now() });
}

/**
 * The volume manager's half of a manage: the driver finds the array volume and renames it to the name
 * it gives the volumes it manages. Safe to repeat (a simulator restarted mid-manage finishes here): a
 * source already renamed is found under its new name.
 */
async function adopt(ctx: SimContext, id: string): Promise<void> {
  const volume = ctx.store.get<VolumeDoc>('volume', id);
  if (!volume?.managing) return;
  const { source } = volume.managing;
  const target = managedArrayVolumeName(source, volume.id);
  const failed = () => {
    const { managing: _, ...rest } = volume;
    ctx.store.put('volume', { ...rest, status: 'error_managing', updated: ctx.now() });
  };
  if (!ctx.backend) return failed();
  try {
    let bytes = await ctx.backend.volumeSize(source);
    if (bytes === null) {
      bytes = await ctx.backend.volumeSize(target);
      if (bytes === null) return failed();
    } else {
      await ctx.backend.renameVolume(source, target);
    }
    const now = ctx.now();
    const { managing: _, ...rest } = volume;
    // Still `managing` until the simulated creation time has passed (loadVolume makes it available).
    ctx.store.put('volume', {
      ...rest,
      array_name: target,
      size: Math.max(1, Math.ceil(bytes / GIB)),
      status: 'managing',
      ready_at: now + ctx.timing.volumeCreateMs,
      updated: now,
    });
  } catch {
    failed();
  }
}

async function manageVolume(ctx: SimContext, req: ApiRequest): Promise<ApiResponse> {
  requireRole(req, 'volume_extension:volume_manage');
  const body = requireObject(req.body, 'volume');
  if (!('ref' in body)) {
    throw new ApiError(
      400,
      `Invalid input for field/attribute volume. Value: ${pyRepr(body)}. 'ref' is a required property`,
    );
  }
  const host = optionalString(body, 'host');
  const cluster = atLeast(req.microversion, '3.16') ? optionalString(body, 'cluster') : undefined;
  if (Boolean(host) === Boolean(cluster)) {
    throw new ApiError(
      400,
      `Invalid input received: ${atLeast(req.microversion, '3.16') ? 'One and only one of cluster and host must be set.' : 'Host field is missing.'}`,
    );
  }
  if (!host) throw new ApiError(400, `Cluster '${cluster}' not found`);
  if (host.length > 255 || !CINDER_HOST.test(host)) {
    throw new ApiError(
      400,
      `Invalid input for field/attribute host. Value: ${host}. '${host}' does not match '^[a-zA-Z0-9-._#@:/+\\\\[\\\\]]*$'`,
    );
  }
  const typeRef = optionalString(body, 'volume_type');
  let type: VolumeTypeDoc;
  if (typeRef) {
    const found =
      ctx.store.get<VolumeTypeDoc>('volume_type', typeRef) ??
      ctx.store.list<VolumeTypeDoc>('volume_type', (t) => t.name === typeRef)[0];
    if (!found) {
      throw new ApiError(400, `Invalid volume type: Cannot find requested '${typeRef}' volume type`);
    }
    type = found;
  } else {
    type = defaultVolumeType(ctx);
  }
  const bootable = body.bootable === undefined ? false : schemaBoolean('bootable', body.bootable);
  const service = findVolumeService(ctx, host);
  // volume_manage.py turns the ServiceNotFound of _get_service_by_host_cluster into this 400.
  if (!service) throw new ApiError(400, `Host '${host}' not found`);
  const ref = body.ref;
  const sourceName = isRecord(ref) ? ref['source-name'] : undefined;
  const now = ctx.now();
  const volume: VolumeDoc = {
    id: randomUUID(),
    name: optionalString(body, 'name')?.trim() ?? '',
    description: optionalString(body, 'description')?.trim() ?? '',
    project_id: req.params.project_id ?? '',
    user_id: req.auth.userId,
    size: 0,
    status: 'managing',
    volume_type_id: type.id,
    bootable,
    metadata: stringMap(body.metadata),
    attachments: [],
    group_id: null,
    // The API keeps a host that names a pool; otherwise the scheduler adds the pool it found.
    host: host.includes('#') ? host : service.service,
    created: now,
    updated: now,
    ...(typeof sourceName === 'string' && sourceName ? { managing: { source: sourceName } } : {}),
  };
  ctx.store.put('volume', volume);
  const response = {
    status: 202,
    body: { volume: volumeView(ctx, { ...req, microversion: '3.0' }, volume) },
  };
  // The scheduler: the pool must exist and fit the volume type, else "Cannot place volume ... on ...".
  const pool = placeOnPool(ctx, volume.host, type);
  if (!pool || !volume.managing || !pool.array) {
    // No pool, no source-name, or a backend that holds no array volumes (the simulated LVM has none).
    const { managing: _, ...rest } = volume;
    ctx.store.put('volume', { ...rest, host: pool?.pool ?? volume.host, status: 'error_managing' });
    return response;
  }
  setStatus(ctx, volume.id, { host: pool.pool });
  await adopt(ctx, volume.id);
  return response;
}

/**
 * Finishes the manages a stopped simulator left under way (its volume service would have carried them
 * through), and moves the array volume name older stores kept in volume metadata to the simulator's own
 * record.
 */
export async function resumeManaging(ctx: SimContext): Promise<void> {
  for (const volume of ctx.store.list<VolumeDoc>('volume')) {
    const legacy = volume.metadata.array_volume_name;
    if (legacy !== undefined) {
      const { array_volume_name: _, ...metadata } = volume.metadata;
      ctx.store.put('volume', { ...volume, metadata, array_name: volume.array_name ?? legacy });
    }
  }
  for (const volume of ctx.store.list<VolumeDoc>('volume', (v) => v.managing !== undefined)) {
    await adopt(ctx, volume.id);
  }
}

/** The manage-existing routes: `manageable_volumes`, and the extension's older name `os-volume-manage`. */
export function manageRoutes(ctx: SimContext): Route[] {
  const p = CINDER_PROJECT_PATH;
  return ['manageable_volumes', 'os-volume-manage'].map(
    (collection): Route => ({
      method: 'POST',
      path: `${p}/${collection}`,
      op: 'manage_volume',
      handler: (req) => manageVolume(ctx, req),
    }),
  );
}
