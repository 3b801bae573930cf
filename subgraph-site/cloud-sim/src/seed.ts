import { randomUUID } from 'node:crypto';
import type { GroupTypeDoc, VolumeTypeDoc } from './cinder-model.js';
import type { ImageDoc } from './glance.js';
import {
  type AssignmentDoc,
  type CatalogServiceDoc,
  hashSecret,
  type ProjectDoc,
  type RoleDoc,
  type UserDoc,
} from './keystone-model.js';
import type { NetworkDoc, SubnetDoc } from './neutron.js';
import type { FlavorDoc } from './nova-flavors.js';
import type { CloudStore } from './store.js';

/** Names and passwords of the seeded identities; used only when the store has not been seeded yet. */
export interface SeedOptions {
  /** @default 'admin' */
  adminPassword?: string;
  /** The DR service's own user (roles admin and service on project `service`). @default 'protector' */
  serviceUser?: string;
  /** @default 'protector' */
  servicePassword?: string;
  /** The tenant whose workloads are protected. @default 'demo' */
  tenantProject?: string;
  /** A member of the tenant project. @default 'demo' */
  tenantUser?: string;
  /** @default 'demo' */
  tenantPassword?: string;
  /**
   * `volume_backend_name` of the replicated volume types: the array backend's pool (Cinder's Pure driver
   * names its one pool after volume_backend_name). @default 'pure'
   */
  arrayBackendName?: string;
}

/** One seeded user and how to log in as it. */
export interface SeededUser {
  id: string;
  name: string;
  password: string;
  projectId: string;
  projectName: string;
}

/** What a seeded cloud holds, by id. */
export interface SeedResult {
  admin: SeededUser;
  service: SeededUser;
  tenant: SeededUser;
  /** Flavor ids by name (m1.tiny, m1.small, m1.medium, m1.large). */
  flavors: Record<string, string>;
  imageId: string;
  /** The tenant's network `private` and its subnet. */
  networkId: string;
  subnetId: string;
  /** The shared external network `public`. */
  publicNetworkId: string;
  /** Volume type ids by name (`replicated-ssd`, `replicated-sync`, `standard-ssd`, `__DEFAULT__`). */
  volumeTypes: Record<string, string>;
  /** Group type ids by name (`default_group_type`, `consistency-group`). */
  groupTypes: Record<string, string>;
}

const SEED_KEY = 'seed';

/** Paths of the catalog entries, relative to the cloud's base URL. */
const CATALOG: Omit<CatalogServiceDoc, 'id'>[] = [
  { type: 'identity', name: 'keystone', path: '/v3' },
  { type: 'compute', name: 'nova', path: '/compute/v2.1' },
  { type: 'volumev3', name: 'cinderv3', path: '/volume/v3/$(project_id)s' },
  { type: 'network', name: 'neutron', path: '/network' },
  { type: 'image', name: 'glance', path: '/image' },
];

/**
 * Seeds a simulated cloud: domain `Default`; roles admin, member, reader, service; projects
 * `admin`, `service` and the tenant; their users; the catalog; flavors; a public image; the
 * tenant's `private` network and a shared `public` one; volume types `replicated-ssd`
 * (async), `replicated-sync` (sync) and `standard-ssd` (not replicated); group types.
 * Idempotent: a store seeded before is returned as it is, so a restart keeps its state.
 */
export function seedCloud(store: CloudStore, options: SeedOptions = {}): SeedResult {
  const passwords = {
    admin: options.adminPassword ?? 'admin',
    service: options.servicePassword ?? 'protector',
    tenant: options.tenantPassword ?? 'demo',
  };
  // Checked in the write transaction: of processes seeding one fresh cloud together, one seeds.
  return store.transaction(() => {
    const existing = store.getMeta(SEED_KEY);
    if (existing) {
      // Passwords are not stored in clear: the ones given now are assumed to be those of the first seed.
      const seeded = JSON.parse(existing) as SeedResult;
      for (const who of ['admin', 'service', 'tenant'] as const) seeded[who].password = passwords[who];
      return seeded;
    }
    const now = Date.now();
    store.put('domain', { id: 'default', name: 'Default' });
    const roles = Object.fromEntries(
      ['admin', 'member', 'reader', 'service'].map((name) => [
        name,
        store.put<RoleDoc>('role', { id: randomUUID().replaceAll('-', ''), name }),
      ]),
    );
    const project = (name: string, description: string): ProjectDoc =>
      store.put<ProjectDoc>('project', {
        id: randomUUID().replaceAll('-', ''),
        name,
        domain_id: 'default',
        description,
        enabled: true,
      });
    const admin = project('admin', 'Bootstrap project for initializing the cloud.');
    const service = project('service', 'Project of the OpenStack and DR service users.');
    const tenant = project(options.tenantProject ?? 'demo', 'Tenant whose workloads are protected.');
    const grant = (user: UserDoc, target: ProjectDoc, role: string) =>
      store.put<AssignmentDoc>('assignment', {
        id: `${user.id}:${target.id}:${roles[role]?.id}`,
        user_id: user.id,
        project_id: target.id,
        role_id: roles[role]?.id ?? '',
      });
    const user = (name: string, password: string, home: ProjectDoc): SeededUser => {
      const doc = store.put<UserDoc>('user', {
        id: randomUUID().replaceAll('-', ''),
        name,
        domain_id: 'default',
        enabled: true,
        default_project_id: home.id,
        password: hashSecret(password),
      });
      return { id: doc.id, name, password, projectId: home.id, projectName: home.name };
    };
    const adminUser = user('admin', passwords.admin, admin);
    const serviceUser = user(options.serviceUser ?? 'protector', passwords.service, service);
    const tenantUser = user(options.tenantUser ?? 'demo', passwords.tenant, tenant);
    const docOf = (u: SeededUser) => store.get<UserDoc>('user', u.id) as UserDoc;
    grant(docOf(adminUser), admin, 'admin');
    grant(docOf(adminUser), tenant, 'admin');
    grant(docOf(serviceUser), service, 'admin');
    grant(docOf(serviceUser), service, 'service');
    // The DR service acts in the tenant's project to recover its VMs there (servers, volumes, drill networks).
    grant(docOf(serviceUser), tenant, 'admin');
    grant(docOf(tenantUser), tenant, 'member');

    for (const entry of CATALOG)
      store.put<CatalogServiceDoc>('catalog_service', { id: randomUUID().replaceAll('-', ''), ...entry });

    const flavors: Record<string, string> = {};
    for (const [id, name, vcpus, ram, disk] of [
      ['1', 'm1.tiny', 1, 512, 1],
      ['2', 'm1.small', 1, 2048, 20],
      ['3', 'm1.medium', 2, 4096, 40],
      ['4', 'm1.large', 4, 8192, 80],
    ] as const) {
      store.put<FlavorDoc>('flavor', {
        id,
        name,
        vcpus,
        ram,
        disk,
        ephemeral: 0,
        swap: 0,
        is_public: true,
        description: null,
        extra_specs: {},
      });
      flavors[name] = id;
    }

    const image = store.put<ImageDoc>('image', {
      id: randomUUID(),
      name: 'cirros-0.6.2-x86_64-disk',
      owner: admin.id,
      status: 'active',
      visibility: 'public',
      disk_format: 'qcow2',
      container_format: 'bare',
      min_disk: 0,
      min_ram: 0,
      size: 21430272,
      created: now,
      properties: {},
    });

    const network = (
      name: string,
      owner: ProjectDoc,
      external: boolean,
      cidr: string,
      gateway: string,
      pool: [string, string],
    ) => {
      const net = store.put<NetworkDoc>('network', {
        id: randomUUID(),
        name,
        project_id: owner.id,
        description: '',
        created: now,
        admin_state_up: true,
        shared: external,
        external,
        mtu: 1450,
      });
      const subnet = store.put<SubnetDoc>('subnet', {
        id: randomUUID(),
        name: `${name}-subnet`,
        project_id: owner.id,
        description: '',
        created: now,
        network_id: net.id,
        cidr,
        ip_version: 4,
        gateway_ip: gateway,
        enable_dhcp: !external,
        allocation_pools: [{ start: pool[0], end: pool[1] }],
        dns_nameservers: [],
      });
      return { net, subnet };
    };
    const privateNet = network('private', tenant, false, '10.0.0.0/24', '10.0.0.1', [
      '10.0.0.10',
      '10.0.0.250',
    ]);
    const publicNet = network('public', admin, true, '172.24.4.0/24', '172.24.4.1', [
      '172.24.4.10',
      '172.24.4.250',
    ]);

    const arrayBackend = options.arrayBackendName ?? 'pure';
    const volumeTypes: Record<string, string> = {};
    for (const [name, description, extraSpecs] of [
      ['__DEFAULT__', 'Default Volume Type', {}],
      [
        'replicated-ssd',
        'SSD on the FlashArray, replicated asynchronously',
        {
          volume_backend_name: arrayBackend,
          replication_enabled: '<is> True',
          replication_type: '<in> async',
        },
      ],
      [
        'replicated-sync',
        'SSD on the FlashArray, replicated synchronously (ActiveCluster)',
        {
          volume_backend_name: arrayBackend,
          replication_enabled: '<is> True',
          replication_type: '<in> sync',
        },
      ],
      ['standard-ssd', 'SSD, not replicated', { volume_backend_name: 'lvm' }],
    ] as const) {
      const id = randomUUID();
      store.put<VolumeTypeDoc>('volume_type', {
        id,
        name,
        description,
        is_public: true,
        extra_specs: { ...extraSpecs },
      });
      volumeTypes[name] = id;
    }

    const groupTypes: Record<string, string> = {};
    for (const [name, specs] of [
      ['default_group_type', {}],
      ['consistency-group', { consistent_group_snapshot_enabled: '<is> True' }],
    ] as const) {
      const id = randomUUID();
      store.put<GroupTypeDoc>('group_type', {
        id,
        name,
        description: '',
        is_public: true,
        group_specs: { ...specs },
      });
      groupTypes[name] = id;
    }

    const result: SeedResult = {
      admin: adminUser,
      service: serviceUser,
      tenant: tenantUser,
      flavors,
      imageId: image.id,
      networkId: privateNet.net.id,
      subnetId: privateNet.subnet.id,
      publicNetworkId: publicNet.net.id,
      volumeTypes,
      groupTypes,
    };
    const withoutPasswords = (u: SeededUser) => ({ ...u, password: '' });
    store.setMeta(
      SEED_KEY,
      JSON.stringify({
        ...result,
        admin: withoutPasswords(adminUser),
        service: withoutPasswords(serviceUser),
        tenant: withoutPasswords(tenantUser),
      }),
    );
    return result;
  });
}
