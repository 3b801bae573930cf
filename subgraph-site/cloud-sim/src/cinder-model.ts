/**
 * Cinder's stored objects (volumes, volume types, group types, groups) and the rules the Cinder
 * modules and Nova share about them: loading with the time-based `creating` -> `available`
 * transition, attach and detach, deleting (on the array too), lookups scoped to the caller's project.
 */
import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, atLeast } from './http.js';

/** The project-scoped prefix of every Cinder v3 resource route. */
export const CINDER_PROJECT_PATH = '/v3/:project_id';

/** Bytes in a GiB: Cinder sizes volumes in GiB, the array in bytes. */
export const GIB = 1024 ** 3;

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
  /**
   * The simulator's own record (never in API output, as Cinder's provider_id is not): the array volume
   * behind an array-backed volume, as Cinder's Pure driver names it.
   */
  array_name?: string;
  /** While a manage-existing is under way: the array volume it adopts (renamed to `array_name` when done). */
  managing?: { source: string };
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

/** Loads a volume, promoting `creating` (or an adopted `managing`) to `available` once its time has come. */
export function loadVolume(ctx: SimContext, id: string): VolumeDoc | undefined {
  const volume = ctx.store.get<VolumeDoc>('volume', id);
  const settling = volume?.status === 'creating' || (volume?.status === 'managing' && !volume.managing);
  if (volume && settling && volume.ready_at !== undefined && volume.ready_at <= ctx.now()) {
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
  const arrayName = volume.array_name;
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

export function checkDeletable(volume: VolumeDoc, inGroupOk: boolean): void {
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

export function findVolumeType(ctx: SimContext, ref: string): VolumeTypeDoc {
  const type =
    ctx.store.get<VolumeTypeDoc>('volume_type', ref) ??
    ctx.store.list<VolumeTypeDoc>('volume_type', (t) => t.name === ref)[0];
  if (!type) throw new ApiError(404, `Volume type with name ${ref} could not be found.`);
  return type;
}

export function defaultVolumeType(ctx: SimContext): VolumeTypeDoc {
  return findVolumeType(ctx, '__DEFAULT__');
}

export function visible(req: ApiRequest, projectId: string): boolean {
  return projectId === req.params.project_id || (req.auth.isAdmin && req.query.has('all_tenants'));
}

export function getVolume(ctx: SimContext, req: ApiRequest, id: string): VolumeDoc {
  const volume = loadVolume(ctx, id);
  if (!volume || (volume.project_id !== req.params.project_id && !req.auth.isAdmin)) {
    throw new ApiError(404, `Volume ${id} could not be found.`);
  }
  return volume;
}

export function loadGroup(ctx: SimContext, req: ApiRequest, id: string): GroupDoc {
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

/**
 * Group types and their specs came with microversion 3.11, groups with 3.13 (cinder/api/microversions.py
 * GROUP_TYPE, GROUP_VOLUME); Cinder answers 404 for a resource the requested microversion does not have.
 */
export function requireGroupsApi(req: ApiRequest, since: '3.11' | '3.13' = '3.13'): void {
  if (!atLeast(req.microversion, since)) throw new ApiError(404, 'The resource could not be found.');
}
