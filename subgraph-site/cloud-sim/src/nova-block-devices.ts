/**
 * Nova's block device mappings (v2) on server create, checked as Nova checks them before it answers:
 * the request schema, `BlockDeviceDict.from_api` (nova/block_device.py), the boot disk's image
 * metadata (`get_bdm_image_metadata`: a volume that is not bootable is refused), and
 * `API._validate_bdm` (nova/compute/api.py: the boot sequence, volumes that exist and can be reserved,
 * images, sizes, local disks against the flavor). Every refusal is a 400 with Nova's message. The disks
 * Nova and Cinder create for the server (image-to-volume and blank volumes) are made here too.
 */
import { defaultVolumeType, loadVolume, type VolumeDoc, type VolumeTypeDoc } from './cinder-model.js';
import { createVolumeDoc } from './cinder-volumes.js';
import type { SimContext } from './context.js';
import type { ImageDoc } from './glance.js';
import { ApiError, type ApiRequest, isRecord, newRequestId, pyRepr, schemaBoolean } from './http.js';
import type { FlavorDoc } from './nova-flavors.js';

type SourceType = 'volume' | 'image' | 'snapshot' | 'blank';
type DestinationType = 'local' | 'volume';

/** One checked block device mapping. */
export interface BlockDevice {
  source: SourceType | null;
  destination: DestinationType | null;
  uuid: string | null;
  bootIndex: number | null;
  volumeSize: number | null;
  volumeType: string | null;
  guestFormat: string | null;
  deleteOnTermination: boolean;
  noDevice: boolean;
}

const SOURCE_TYPES: readonly SourceType[] = ['volume', 'image', 'snapshot', 'blank'];
const DESTINATION_TYPES: readonly DestinationType[] = ['local', 'volume'];
/** Nova's `max_local_block_devices` default. */
const MAX_LOCAL_BLOCK_DEVICES = 3;

const invalidFormat = (details: string) => new ApiError(400, `Block Device Mapping is Invalid: ${details}`);

/** A schema refusal in Nova's words: "Invalid input for field/attribute <f>. Value: <v>. <why>". */
const schemaError = (field: string, value: unknown, why: string) =>
  new ApiError(
    400,
    `Invalid input for field/attribute ${field}. Value: ${typeof value === 'string' ? value : pyRepr(value)}. ${why}`,
  );

const ALLOWED_FIELDS = new Set([
  'virtual_name',
  'volume_id',
  'snapshot_id',
  'volume_size',
  'device_name',
  'delete_on_termination',
  'no_device',
  'connection_info',
  'source_type',
  'uuid',
  'image_id',
  'destination_type',
  'guest_format',
  'device_type',
  'disk_bus',
  'boot_index',
  'volume_type',
  'tag',
]);

/** The request schema and `BlockDeviceDict.from_api` for one mapping. */
function parseMapping(raw: unknown, imageSpecified: boolean): BlockDevice {
  if (!isRecord(raw))
    throw schemaError('block_device_mapping_v2', raw, `${pyRepr(raw)} is not of type 'object'`);
  for (const key of Object.keys(raw)) {
    if (!ALLOWED_FIELDS.has(key)) {
      throw schemaError(
        'block_device_mapping_v2',
        raw,
        `Additional properties are not allowed ('${key}' was unexpected)`,
      );
    }
  }
  const source = raw.source_type;
  if (source !== undefined && !SOURCE_TYPES.includes(source as SourceType)) {
    throw schemaError('source_type', source, `${pyRepr(source)} is not one of ${pyRepr(SOURCE_TYPES)}`);
  }
  const destination = raw.destination_type;
  if (destination !== undefined && !DESTINATION_TYPES.includes(destination as DestinationType)) {
    throw schemaError(
      'destination_type',
      destination,
      `${pyRepr(destination)} is not one of ${pyRepr(DESTINATION_TYPES)}`,
    );
  }
  const bootRaw = raw.boot_index;
  if (bootRaw !== undefined && bootRaw !== null && !/^-?[0-9]+$/.test(String(bootRaw))) {
    throw schemaError('boot_index', bootRaw, `${pyRepr(bootRaw)} does not match '^-?[0-9]+$'`);
  }
  const sizeRaw = raw.volume_size;
  if (sizeRaw !== undefined && sizeRaw !== null && !/^[0-9]+$/.test(String(sizeRaw))) {
    throw schemaError('volume_size', sizeRaw, `${pyRepr(sizeRaw)} does not match '^[0-9]+$'`);
  }
  const uuid = raw.uuid ?? null;
  if (uuid !== null && (typeof uuid !== 'string' || !/^[a-zA-Z0-9._-]{1,255}$/.test(uuid))) {
    throw schemaError('uuid', uuid, `${pyRepr(uuid)} does not match '^[a-zA-Z0-9._-]*$'`);
  }
  const deleteOnTermination =
    raw.delete_on_termination === undefined
      ? false
      : schemaBoolean('delete_on_termination', raw.delete_on_termination);
  const bdm: BlockDevice = {
    source: (source as SourceType | undefined) ?? null,
    destination: (destination as DestinationType | undefined) ?? null,
    uuid,
    bootIndex: bootRaw === undefined || bootRaw === null ? null : Number(bootRaw),
    volumeSize: sizeRaw === undefined || sizeRaw === null ? null : Number(sizeRaw),
    volumeType: typeof raw.volume_type === 'string' ? raw.volume_type : null,
    guestFormat: typeof raw.guest_format === 'string' ? raw.guest_format : null,
    deleteOnTermination,
    noDevice: Boolean(raw.no_device),
  };
  if (bdm.noDevice) return bdm;
  // BlockDeviceDict.from_api
  if (bdm.source === 'blank' && bdm.uuid) throw invalidFormat('Invalid device UUID.');
  if (bdm.source !== 'blank') {
    if (!bdm.uuid) throw invalidFormat('Missing device UUID.');
    // from_api keys the id by source type; without one the key is bogus and _validate refuses it.
    if (bdm.source === null) throw invalidFormat('Following fields are invalid: None_id');
  }
  if (bdm.source === 'image' && bdm.destination === 'local') {
    if (!(imageSpecified && (bdm.bootIndex ?? -1) === 0)) {
      throw invalidFormat('Mapping image to local is not supported.');
    }
  }
  if (bdm.destination === 'local' && bdm.volumeType) {
    throw invalidFormat('Specifying a volume_type with destination_type=local is not supported.');
  }
  if (bdm.source === 'volume' && bdm.volumeType) {
    throw invalidFormat('Specifying volume type to existing volume is not supported.');
  }
  return bdm;
}

/** Parses `block_device_mapping_v2`; [] when the request has none. */
export function parseBlockDevices(server: Record<string, unknown>): BlockDevice[] {
  const legacy = server.block_device_mapping;
  const v2 = server.block_device_mapping_v2;
  const has = (x: unknown) => Array.isArray(x) && x.length > 0;
  if (has(legacy) && has(v2)) {
    throw new ApiError(
      400,
      'Using different block_device_mapping syntaxes is not allowed in the same request.',
    );
  }
  if (v2 === undefined || v2 === null) return [];
  if (!Array.isArray(v2)) {
    throw schemaError('block_device_mapping_v2', v2, `${pyRepr(v2)} is not of type 'array'`);
  }
  const imageRef = server.imageRef;
  const imageSpecified = imageRef !== undefined && imageRef !== null && imageRef !== '';
  return v2.map((raw) => parseMapping(raw, imageSpecified));
}

const isSwap = (b: BlockDevice) =>
  b.source === 'blank' && b.destination === 'local' && b.guestFormat === 'swap';
const isEphemeral = (b: BlockDevice) =>
  b.source === 'blank' && b.destination === 'local' && b.guestFormat !== 'swap';

function visibleVolume(ctx: SimContext, req: ApiRequest, id: string): VolumeDoc | undefined {
  const volume = loadVolume(ctx, id);
  return volume && (volume.project_id === req.auth.projectId || req.auth.isAdmin) ? volume : undefined;
}

function findImage(ctx: SimContext, req: ApiRequest, id: string): ImageDoc | undefined {
  const image = ctx.store.get<ImageDoc>('image', id);
  const visible =
    image &&
    (req.auth.isAdmin ||
      image.visibility === 'public' ||
      image.visibility === 'community' ||
      image.owner === req.auth.projectId);
  return visible ? image : undefined;
}

/**
 * `get_bdm_image_metadata` for a server booted without imageRef: the boot disk (boot_index 0) must be
 * an image, a volume or a snapshot that exists, and a volume must be bootable.
 */
export function checkBootDisk(ctx: SimContext, req: ApiRequest, bdms: readonly BlockDevice[]): void {
  const boot = bdms.find((b) => !b.noDevice && b.bootIndex === 0);
  if (!boot?.uuid) return;
  if (boot.source === 'image') {
    if (!findImage(ctx, req, boot.uuid))
      throw new ApiError(400, `Block Device Mapping is Invalid: failed to get image ${boot.uuid}.`);
  } else if (boot.source === 'snapshot') {
    // The simulated Cinder has no snapshots.
    throw new ApiError(400, `Block Device Mapping is Invalid: failed to get snapshot ${boot.uuid}.`);
  } else if (boot.source === 'volume') {
    const volume = visibleVolume(ctx, req, boot.uuid);
    if (!volume)
      throw new ApiError(400, `Block Device Mapping is Invalid: failed to get volume ${boot.uuid}.`);
    if (!volume.bootable) throw new ApiError(400, `Block Device ${boot.uuid} is not bootable.`);
  }
}

/**
 * `API._validate_bdm`: a boot sequence that starts at 0 without gaps, existing volumes that can be
 * reserved (Cinder's attachment_create refuses one that is not available, and Nova wraps its 400),
 * existing images and volume types, sizes for the volumes Nova creates, local disks within the flavor.
 */
export function validateBlockDevices(
  ctx: SimContext,
  req: ApiRequest,
  flavor: FlavorDoc,
  bdms: readonly BlockDevice[],
): void {
  const indexes = bdms
    .filter((b) => !b.noDevice && b.bootIndex !== null && b.bootIndex >= 0)
    .map((b) => b.bootIndex as number)
    .sort((a, b) => a - b);
  if (indexes.length === 0 || indexes.some((v, i) => v !== i)) {
    throw new ApiError(
      400,
      'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.',
    );
  }
  for (const b of bdms) {
    if (b.noDevice) continue;
    if (b.volumeType) findVolumeTypeForBdm(ctx, b.volumeType);
    if (b.source === 'image' && b.uuid) {
      if (!findImage(ctx, req, b.uuid))
        throw new ApiError(400, `Block Device Mapping is Invalid: failed to get image ${b.uuid}.`);
      if (b.destination === 'volume' && !b.volumeSize) {
        throw new ApiError(
          400,
          "Images with destination_type 'volume' need to have a non-zero size specified",
        );
      }
    } else if (b.source === 'volume' && b.uuid) {
      const volume = visibleVolume(ctx, req, b.uuid);
      if (!volume)
        throw new ApiError(400, `Block Device Mapping is Invalid: failed to get volume ${b.uuid}.`);
      if (volume.status !== 'available') {
        throw new ApiError(
          400,
          `Invalid volume: Invalid input received: Invalid volume: Volume ${volume.id} status must be available or downloading to reserve, but the current status is ${volume.status}. (HTTP 400) (Request-ID: ${newRequestId()})`,
        );
      }
    } else if (b.source === 'snapshot' && b.uuid) {
      throw new ApiError(400, `Block Device Mapping is Invalid: failed to get snapshot ${b.uuid}.`);
    } else if (b.source === 'blank' && b.destination === 'volume' && !b.volumeSize) {
      throw new ApiError(400, "Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size");
    }
  }
  const ephemeral = bdms.filter(isEphemeral).reduce((sum, b) => sum + (b.volumeSize || flavor.ephemeral), 0);
  if (ephemeral > flavor.ephemeral) {
    throw new ApiError(
      400,
      'Ephemeral disks requested are larger than the instance type allows. If no size is given in one block device mapping, flavor ephemeral size will be used.',
    );
  }
  const swaps = bdms.filter(isSwap);
  if (swaps.length > 1) throw invalidFormat('More than one swap drive requested.');
  if (swaps.length === 1 && (swaps[0]?.volumeSize ?? 0) > flavor.swap) {
    throw new ApiError(400, 'Swap drive requested is larger than instance type allows.');
  }
  if (bdms.filter((b) => b.destination === 'local').length > MAX_LOCAL_BLOCK_DEVICES) {
    throw new ApiError(
      400,
      'Block Device Mapping is Invalid: You specified more local devices than the limit allows',
    );
  }
}

function findVolumeTypeForBdm(ctx: SimContext, ref: string): VolumeTypeDoc {
  const type =
    ctx.store.get<VolumeTypeDoc>('volume_type', ref) ??
    ctx.store.list<VolumeTypeDoc>('volume_type', (t) => t.name === ref)[0];
  if (!type) throw new ApiError(400, `Volume type ${ref} could not be found.`);
  return type;
}

/** A volume-backed disk of a server being built: an existing volume, or one Nova had Cinder create. */
export interface ServerDisk {
  volume: VolumeDoc;
  boot: boolean;
  deleteOnTermination: boolean;
}

/**
 * The server's volume-backed disks in mapping order: existing volumes, and the volumes Nova asks Cinder
 * for (an image-to-volume mapping becomes a bootable volume made from the image, in the server's
 * project, named as Nova names it; a blank-to-volume one a `<server id>-blank-vol`).
 */
export async function serverDisks(
  ctx: SimContext,
  req: ApiRequest,
  serverId: string,
  bdms: readonly BlockDevice[],
): Promise<ServerDisk[]> {
  const disks: ServerDisk[] = [];
  for (const b of bdms) {
    if (b.noDevice || b.destination === 'local') continue;
    const boot = b.bootIndex === 0;
    if (b.source === 'volume' && b.uuid) {
      const volume = visibleVolume(ctx, req, b.uuid);
      if (volume) disks.push({ volume, boot, deleteOnTermination: b.deleteOnTermination });
    } else if ((b.source === 'image' || b.source === 'blank') && b.volumeSize) {
      const volume = await createVolumeDoc(ctx, {
        projectId: req.auth.projectId ?? '',
        userId: req.auth.userId,
        size: b.volumeSize,
        type: b.volumeType ? findVolumeTypeForBdm(ctx, b.volumeType) : defaultVolumeType(ctx),
        name: b.source === 'blank' ? `${serverId}-blank-vol` : '',
        ...(b.source === 'image' && b.uuid ? { imageRef: b.uuid } : {}),
      });
      disks.push({
        volume: loadVolume(ctx, volume.id) as VolumeDoc,
        boot,
        deleteOnTermination: b.deleteOnTermination,
      });
    }
  }
  return disks;
}
