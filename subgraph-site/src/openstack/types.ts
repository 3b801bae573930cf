/**
 * The OpenStack resources the product reads and writes, in the APIs' own JSON shapes
 * (snake_case, as the services send them). Only the fields the product uses are typed.
 */

/** The services the client talks to. `volume` is Cinder v3 (catalog type volumev3 / block-storage). */
export type OpenStackService = 'identity' | 'compute' | 'volume' | 'network' | 'image';

/** Who a Keystone token belongs to and what it allows. */
export interface TokenInfo {
  userId: string;
  userName: string;
  userDomainId: string;
  /** Null for an unscoped token. */
  projectId: string | null;
  projectName: string | null;
  projectDomainId: string | null;
  /** Role names, implied roles included (admin -> member -> reader). */
  roles: string[];
  expiresAt: Date;
  issuedAt: Date;
  /** Set when the token was issued for an application credential. */
  applicationCredentialId: string | null;
}

/** One catalog entry of a Keystone token. */
export interface CatalogEntry {
  type: string;
  name: string;
  endpoints: { interface: string; region: string | null; region_id?: string | null; url: string }[];
}

/** Nova's server status. */
export type ServerStatus = 'BUILD' | 'ACTIVE' | 'SHUTOFF' | 'ERROR' | 'DELETED' | (string & {});

/** A Nova server (`GET /servers/{id}`). */
export interface Server {
  id: string;
  name: string;
  status: ServerStatus;
  tenant_id: string;
  user_id: string;
  metadata: Record<string, string>;
  created: string;
  updated: string;
  /** Empty string when booted from volume. */
  image: { id: string } | '';
  flavor: { id?: string; original_name?: string; vcpus?: number; ram?: number; disk?: number };
  addresses: Record<string, { addr: string; version: number; 'OS-EXT-IPS-MAC:mac_addr'?: string }[]>;
  fault?: { code: number; message: string; created: string };
  'OS-EXT-STS:task_state': string | null;
  'OS-EXT-STS:vm_state': string;
  'OS-EXT-STS:power_state': number;
  'os-extended-volumes:volumes_attached': { id: string; delete_on_termination?: boolean }[];
}

/** One entry of Nova's `block_device_mapping_v2`. */
export interface BlockDeviceMapping {
  uuid: string;
  source_type: 'volume' | 'image' | 'snapshot' | 'blank';
  destination_type: 'volume' | 'local';
  /** 0 for the boot disk; -1 or absent for data disks. */
  boot_index?: number;
  delete_on_termination?: boolean;
  device_name?: string;
}

/** What a new server is made of. */
export interface CreateServerRequest {
  name: string;
  flavorRef: string;
  /** Optional when the boot disk comes from a volume. */
  imageRef?: string;
  block_device_mapping_v2?: BlockDeviceMapping[];
  networks: { uuid?: string; port?: string; fixed_ip?: string }[] | 'auto' | 'none';
  metadata?: Record<string, string>;
  key_name?: string;
  availability_zone?: string;
  description?: string;
}

/** Filters of `listServers`. */
export interface ServerFilter {
  /** A regular expression on the name, as Nova applies it. */
  name?: string;
  status?: string;
  /** Admin only: list every project's servers. */
  allTenants?: boolean;
  /** Admin only, with allTenants: one project's servers. */
  projectId?: string;
  /**
   * Only servers changed at or after this time (ISO 8601, Nova's `updated`), deleted ones included
   * (status DELETED).
   */
  changesSince?: string;
}

/** A Nova flavor. */
export interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  'OS-FLV-EXT-DATA:ephemeral'?: number;
  swap?: number | string;
  'os-flavor-access:is_public'?: boolean;
  extra_specs?: Record<string, string>;
}

/** A new Nova flavor (admin). */
export interface CreateFlavorRequest {
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  id?: string;
  'os-flavor-access:is_public'?: boolean;
}

/** A volume attached to a server, as Nova's os-volume_attachments shows it. */
export interface VolumeAttachment {
  id: string;
  serverId: string;
  volumeId: string;
  device: string;
}

/** A Cinder volume. */
export interface Volume {
  id: string;
  name: string;
  description: string | null;
  status: string;
  size: number;
  volume_type: string | null;
  bootable: 'true' | 'false';
  metadata: Record<string, string>;
  attachments: { server_id: string; attachment_id: string; device: string; volume_id: string }[];
  replication_status: string;
  created_at: string;
  'os-vol-tenant-attr:tenant_id'?: string;
  /** Admin only. */
  'os-vol-host-attr:host'?: string | null;
  group_id?: string | null;
}

/** A new Cinder volume. */
export interface CreateVolumeRequest {
  size: number;
  name?: string;
  description?: string;
  volume_type?: string;
  metadata?: Record<string, string>;
  imageRef?: string;
  group_id?: string;
  availability_zone?: string;
}

/** Cinder "manage existing": adopts a volume that already exists on the backend. */
export interface ManageVolumeRequest {
  /** Cinder backend host (`host@backend#pool`). */
  host: string;
  /** The backend's name of the volume (FlashArray volume name). */
  sourceName: string;
  name?: string;
  description?: string;
  volume_type?: string;
  bootable?: boolean;
  metadata?: Record<string, string>;
}

/** Filters of `listVolumes`. */
export interface VolumeFilter {
  name?: string;
  status?: string;
  groupId?: string;
  allTenants?: boolean;
}

/** A Cinder volume type; replication-enabled ones carry `replication_enabled` in extra specs. */
export interface VolumeType {
  id: string;
  name: string;
  description: string | null;
  is_public: boolean;
  extra_specs?: Record<string, string>;
}

/** A Cinder service (`GET os-services`), e.g. a cinder-volume service on `host@backend`. */
export interface VolumeService {
  binary: string;
  host: string;
  zone: string;
  /** `enabled` or `disabled`. */
  status: string;
  /** `up` or `down`. */
  state: string;
  updated_at: string | null;
  disabled_reason?: string | null;
}

/** A pool the Cinder scheduler knows (`GET scheduler-stats/get_pools`), named `host@backend#pool`. */
export interface VolumePool {
  name: string;
  capabilities?: Record<string, unknown>;
}

/** A Cinder group type. */
export interface GroupType {
  id: string;
  name: string;
  group_specs?: Record<string, string>;
}

/** A Cinder group (consistency group of a Protection Group). */
export interface Group {
  id: string;
  name: string;
  description: string | null;
  status: string;
  group_type: string;
  volume_types: string[];
  availability_zone?: string;
  created_at?: string;
  replication_status?: string;
  /** Present when listed with `list_volume=True` (3.25). */
  volumes?: string[];
}

/** A new Cinder group. */
export interface CreateGroupRequest {
  name: string;
  /** Group type id or name. */
  groupType: string;
  /** Volume type ids or names the group accepts. */
  volumeTypes: string[];
  description?: string;
  availabilityZone?: string;
  /** Admin only: create the group in this project (default: the token's). */
  projectId?: string;
}

/** A Neutron network. */
export interface Network {
  id: string;
  name: string;
  project_id: string;
  status: string;
  shared: boolean;
  'router:external'?: boolean;
  subnets: string[];
  admin_state_up: boolean;
  mtu?: number;
}

/** A Neutron subnet. */
export interface Subnet {
  id: string;
  name: string;
  network_id: string;
  project_id: string;
  cidr: string;
  ip_version: number;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  allocation_pools: { start: string; end: string }[];
}

/** A Neutron port. */
export interface Port {
  id: string;
  name: string;
  network_id: string;
  project_id: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  device_id: string;
  device_owner: string;
  status: string;
}

/** A Glance image. */
export interface Image {
  id: string;
  name: string;
  status: string;
  visibility: string;
  owner?: string;
  disk_format?: string;
  min_disk?: number;
  size?: number | null;
}

/** Equality filters of Neutron and Glance lists (`{ name: 'private' }`). */
export type ListFilter = Record<string, string | number | boolean>;
