/**
 * The simulated Cinder's volume services, pools and manage-existing, and the simulated Nova's checks
 * of block device mappings and power actions, against what real Cinder and Nova answer (status codes
 * and bodies as cinder/api/contrib/volume_manage.py, cinder/volume/api.py, cinder/scheduler,
 * cinder/volume/drivers/pure.py, nova/block_device.py, nova/compute/api.py give them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VolumeDoc } from './cinder-model.js';
import {
  createInMemoryVolumeBackend,
  createSimulatedCloud,
  type InMemoryVolumeBackend,
  type SeededUser,
  type SimulatedCloud,
} from './index.js';

const GIB = 1024 ** 3;
let cloud: SimulatedCloud;
let backend: InMemoryVolumeBackend;

beforeAll(async () => {
  backend = createInMemoryVolumeBackend();
  cloud = await createSimulatedCloud({ volumeBackend: backend, timing: { bootTimeMs: 50 } });
});

afterAll(async () => {
  await cloud.stop();
});

const seeded = () => {
  if (!cloud.seed) throw new Error('cloud not seeded');
  return cloud.seed;
};

async function login(c: SimulatedCloud, user: SeededUser): Promise<string> {
  const response = await fetch(`${c.keystoneUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user.name, domain: { id: 'default' }, password: user.password } },
        },
        scope: { project: { id: user.projectId } },
      },
    }),
  });
  expect(response.status).toBe(201);
  return response.headers.get('x-subject-token') ?? '';
}

type Json = Record<string, unknown>;

async function call(
  path: string,
  init: { method?: string; token: string; body?: unknown; version?: string; on?: SimulatedCloud },
): Promise<{ status: number; json: Json }> {
  const c = init.on ?? cloud;
  const service = path.startsWith('/compute') ? 'compute' : 'volume';
  const response = await fetch(c.url + path, {
    method: init.method ?? 'GET',
    headers: {
      'X-Auth-Token': init.token,
      ...(init.body ? { 'Content-Type': 'application/json' } : {}),
      ...(init.version ? { 'OpenStack-API-Version': `${service} ${init.version}` } : {}),
    },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Json) : {} };
}

const volumes = (projectId = seeded().tenant.projectId) => `/volume/v3/${projectId}`;

describe('Cinder volume services and pools', () => {
  it('lists the cinder-volume services, admin only, with the fields of the requested microversion', async () => {
    const admin = await login(cloud, seeded().admin);
    const base = await call(`${volumes(seeded().admin.projectId)}/os-services?binary=cinder-volume`, {
      token: admin,
    });
    expect(base.status).toBe(200);
    const services = base.json.services as Json[];
    expect(services.map((s) => s.host)).toEqual(['cinder@pure', 'cinder@lvm']);
    expect(Object.keys(services[0]!).sort()).toEqual(
      [
        'active_backend_id',
        'binary',
        'disabled_reason',
        'frozen',
        'host',
        'replication_status',
        'state',
        'status',
        'updated_at',
        'zone',
      ].sort(),
    );
    expect(services[0]).toMatchObject({
      binary: 'cinder-volume',
      zone: 'nova',
      status: 'enabled',
      state: 'up',
    });
    const recent = await call(`${volumes(seeded().admin.projectId)}/os-services?host=cinder@pure`, {
      token: admin,
      version: '3.49',
    });
    expect(recent.json.services).toEqual([
      expect.objectContaining({ host: 'cinder@pure', cluster: null, backend_state: 'up' }),
    ]);

    const member = await login(cloud, seeded().tenant);
    const refused = await call(`${volumes()}/os-services`, { token: member });
    expect(refused).toEqual({
      status: 403,
      json: {
        forbidden: {
          code: 403,
          message: "Policy doesn't allow volume_extension:services:index to be performed.",
        },
      },
    });
  });

  it('lists the pools, admin only, with capabilities in detail and the 3.28 name filter', async () => {
    const admin = await login(cloud, seeded().admin);
    const path = `${volumes(seeded().admin.projectId)}/scheduler-stats/get_pools`;
    expect((await call(path, { token: admin })).json).toEqual({
      pools: [{ name: 'cinder@pure#pure' }, { name: 'cinder@lvm#lvm' }],
    });
    const detail = (await call(`${path}?detail=True`, { token: admin })).json.pools as Json[];
    expect(detail[0]).toMatchObject({
      name: 'cinder@pure#pure',
      capabilities: {
        pool_name: 'pure',
        volume_backend_name: 'pure',
        vendor_name: 'Pure Storage',
        replication_enabled: true,
      },
    });
    // Before 3.28 Cinder ignores the filters; from it, it applies them.
    expect((await call(`${path}?name=cinder@lvm%23lvm`, { token: admin })).json.pools).toHaveLength(2);
    expect(
      (await call(`${path}?name=cinder@lvm%23lvm`, { token: admin, version: '3.28' })).json.pools,
    ).toEqual([{ name: 'cinder@lvm#lvm' }]);
    const member = await login(cloud, seeded().tenant);
    expect((await call(`${volumes()}/scheduler-stats/get_pools`, { token: member })).status).toBe(403);
  });

  it('runs the volume service and pool of the host it is given, and refuses a malformed one', async () => {
    const other = await createSimulatedCloud({ volumeHost: 'ctl-1@fa#flasharray' });
    try {
      const admin = await login(other, other.seed!.admin);
      const project = other.seed!.admin.projectId;
      const services = (await call(`${volumes(project)}/os-services`, { token: admin, on: other })).json
        .services as Json[];
      expect(services.map((s) => `${s.binary} ${s.host}`)).toEqual([
        'cinder-scheduler ctl-1',
        'cinder-volume ctl-1@fa',
        'cinder-volume ctl-1@lvm',
      ]);
      const pools = await call(`${volumes(project)}/scheduler-stats/get_pools`, { token: admin, on: other });
      expect(pools.json.pools).toEqual([{ name: 'ctl-1@fa#flasharray' }, { name: 'ctl-1@lvm#lvm' }]);
      // The replicated types are for that backend, and their volumes are placed on its pool.
      const created = await call(`${volumes(project)}/volumes`, {
        method: 'POST',
        token: admin,
        on: other,
        body: { volume: { size: 1, volume_type: 'replicated-ssd' } },
      });
      expect((created.json.volume as Json)['os-vol-host-attr:host']).toBe('ctl-1@fa#flasharray');
    } finally {
      await other.stop();
    }
    await expect(createSimulatedCloud({ volumeHost: 'cinder@pure' })).rejects.toThrow(
      "volumeHost 'cinder@pure' is not of the form host@backend#pool",
    );
  });
});

describe('Cinder manage-existing', () => {
  const manage = async (volume: Json, version?: string) =>
    call(`${volumes()}/manageable_volumes`, {
      method: 'POST',
      token: await login(cloud, seeded().admin),
      body: { volume },
      ...(version ? { version } : {}),
    });
  const show = async (id: string) =>
    (await call(`${volumes()}/volumes/${id}`, { token: await login(cloud, seeded().admin) })).json
      .volume as Json;

  it('refuses at the API a host without a cinder-volume service, a missing host and an unknown type', async () => {
    const bad = { ref: { 'source-name': 'x' }, volume_type: 'replicated-ssd' };
    expect(await manage({ ...bad, host: 'elsewhere@pure#pure' })).toEqual({
      status: 400,
      json: { badRequest: { code: 400, message: "Host 'elsewhere@pure#pure' not found" } },
    });
    expect(await manage(bad)).toEqual({
      status: 400,
      json: { badRequest: { code: 400, message: 'Invalid input received: Host field is missing.' } },
    });
    expect((await manage(bad, '3.16')).json).toEqual({
      badRequest: {
        code: 400,
        message: 'Invalid input received: One and only one of cluster and host must be set.',
      },
    });
    expect((await manage({ ...bad, host: 'cinder@pure#pure', volume_type: 'gold' })).json).toEqual({
      badRequest: { code: 400, message: "Invalid volume type: Cannot find requested 'gold' volume type" },
    });
    expect((await manage({ host: 'cinder@pure#pure' })).status).toBe(400);
  });

  it('adopts an array volume: 202 managing, then available, renamed volume-<id>-cinder, user metadata only', async () => {
    backend.volumes.set('r-0badcafe-1234', 3 * GIB);
    const accepted = await manage({
      host: 'cinder@pure#pure',
      ref: { 'source-name': 'r-0badcafe-1234' },
      name: 'web-1-vda',
      volume_type: 'replicated-ssd',
      bootable: true,
      metadata: { protector_pg: 'pg-1', protector_member_volume: 'mv-1' },
    });
    expect(accepted.status).toBe(202);
    const volume = accepted.json.volume as Json;
    expect(volume).toMatchObject({ status: 'managing', size: 0, name: 'web-1-vda', bootable: 'true' });
    const shown = await show(String(volume.id));
    expect(shown).toMatchObject({
      status: 'available',
      size: 3,
      'os-vol-host-attr:host': 'cinder@pure#pure',
      metadata: { protector_pg: 'pg-1', protector_member_volume: 'mv-1' },
    });
    expect(Object.keys(shown.metadata as Json)).toHaveLength(2);
    expect(JSON.stringify(shown)).not.toContain('r-0badcafe-1234');
    expect(backend.volumes.has('r-0badcafe-1234')).toBe(false);
    expect(backend.volumes.get(`volume-${volume.id}-cinder`)).toBe(3 * GIB);
  });

  it('keeps a pod volume in its pod, and places a host without a pool on the backend’s pool', async () => {
    backend.volumes.set('pod-a::r-copy', GIB);
    const accepted = await manage({
      host: 'cinder@pure',
      ref: { 'source-name': 'pod-a::r-copy' },
      volume_type: 'replicated-sync',
    });
    const id = String((accepted.json.volume as Json).id);
    expect(await show(id)).toMatchObject({
      status: 'available',
      'os-vol-host-attr:host': 'cinder@pure#pure',
    });
    expect(backend.volumes.get(`pod-a::volume-${id}-cinder`)).toBe(GIB);
  });

  it('accepts what the scheduler or the driver then refuses, and the volume ends in error_managing', async () => {
    backend.volumes.set('r-stays', GIB);
    const cases = [
      { host: 'cinder@pure#nope', ref: { 'source-name': 'r-stays' }, volume_type: 'replicated-ssd' },
      // The LVM pool lacks the replication capabilities the type asks for.
      { host: 'cinder@lvm#lvm', ref: { 'source-name': 'r-stays' }, volume_type: 'replicated-ssd' },
      { host: 'cinder@pure#pure', ref: { 'source-name': 'no-such-volume' }, volume_type: 'replicated-ssd' },
      { host: 'cinder@pure#pure', ref: { 'source-id': '1234' }, volume_type: 'replicated-ssd' },
    ];
    for (const body of cases) {
      const accepted = await manage(body);
      expect(accepted.status, JSON.stringify(body)).toBe(202);
      const id = String((accepted.json.volume as Json).id);
      expect((await show(id)).status, JSON.stringify(body)).toBe('error_managing');
      const deleted = await call(`${volumes()}/volumes/${id}`, {
        method: 'DELETE',
        token: await login(cloud, seeded().admin),
      });
      expect(deleted.status).toBe(202);
    }
    expect(backend.volumes.get('r-stays')).toBe(GIB);
  });

  it('finishes a manage a stopped simulator left under way, and keeps no array name in volume metadata', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloud-sim-manage-'));
    const database = join(dir, 'cloud.sqlite');
    const disks = createInMemoryVolumeBackend();
    try {
      const first = await createSimulatedCloud({ database, volumeBackend: disks });
      const project = first.seed!.tenant.projectId;
      const typeId = first.seed!.volumeTypes['replicated-ssd']!;
      const base = {
        name: '',
        description: '',
        project_id: project,
        user_id: first.seed!.tenant.id,
        volume_type_id: typeId,
        bootable: false,
        attachments: [],
        group_id: null,
        host: 'cinder@pure#pure',
        created: Date.now(),
        updated: Date.now(),
      };
      // Cut between Cinder's record and the driver's rename; and a record of an older simulator.
      disks.volumes.set('r-cut', GIB);
      first.store.put<VolumeDoc>('volume', {
        ...base,
        id: 'a0000000-0000-4000-8000-000000000001',
        size: 0,
        status: 'managing',
        metadata: { protector_pg: 'pg-1' },
        managing: { source: 'r-cut' },
      });
      first.store.put<VolumeDoc>('volume', {
        ...base,
        id: 'a0000000-0000-4000-8000-000000000002',
        size: 1,
        status: 'available',
        metadata: { array_volume_name: 'old-name', keep: 'me' },
      });
      await first.stop();
      const second = await createSimulatedCloud({ database, volumeBackend: disks });
      try {
        const admin = await login(second, second.seed!.admin);
        const get = async (id: string) =>
          (await call(`${volumes(project)}/volumes/${id}`, { token: admin, on: second })).json.volume as Json;
        expect(await get('a0000000-0000-4000-8000-000000000001')).toMatchObject({
          status: 'available',
          size: 1,
          metadata: { protector_pg: 'pg-1' },
        });
        expect(disks.volumes.has('volume-a0000000-0000-4000-8000-000000000001-cinder')).toBe(true);
        expect((await get('a0000000-0000-4000-8000-000000000002')).metadata).toEqual({ keep: 'me' });
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Nova block device mappings and power actions', () => {
  const servers = '/compute/v2.1/servers';
  let token: string;
  beforeAll(async () => {
    token = await login(cloud, seeded().tenant);
  });
  const create = (server: Json, version?: string) =>
    call(servers, {
      method: 'POST',
      token,
      body: { server: { name: 'vm', flavorRef: '1', networks: 'none', ...server } },
      ...(version ? { version } : {}),
    });
  const newVolume = async (body: Json) =>
    (
      (await call(`${volumes()}/volumes`, { method: 'POST', token, body: { volume: { size: 1, ...body } } }))
        .json.volume as Json
    ).id as string;
  const bad = (message: string) => ({ status: 400, json: { badRequest: { code: 400, message } } });
  const waitFor = async (id: string, status: string) => {
    for (let i = 0; i < 100; i++) {
      const s = (await call(`${servers}/${id}`, { token })).json.server as Json;
      if (s.status === status) return s;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`server ${id} did not reach ${status}`);
  };

  it('refuses to boot from a volume that is not bootable, with Nova’s 400', async () => {
    const id = await newVolume({ name: 'data' });
    const bdm = { uuid: id, source_type: 'volume', destination_type: 'volume', boot_index: 0 };
    expect(await create({ block_device_mapping_v2: [bdm] })).toEqual(
      bad(`Block Device ${id} is not bootable.`),
    );
    // With an image to boot from, the volume is a data disk: not bootable is fine there.
    const image = seeded().imageId;
    const withImage = await create({
      imageRef: image,
      block_device_mapping_v2: [
        { uuid: image, source_type: 'image', destination_type: 'local', boot_index: 0 },
        { ...bdm, boot_index: 1 },
      ],
    });
    expect(withImage.status).toBe(202);
    await waitFor(String((withImage.json.server as Json).id), 'ACTIVE');
    await call(`${servers}/${(withImage.json.server as Json).id}`, { method: 'DELETE', token });
  });

  it('checks each mapping as BlockDeviceDict.from_api and _validate_bdm do', async () => {
    const image = seeded().imageId;
    const volume = await newVolume({ imageRef: image });
    const missing = '11111111-2222-4333-8444-555555555555';
    const v = (bdm: Json) => create({ block_device_mapping_v2: [bdm] });
    expect(await v({ uuid: volume, source_type: 'disk', boot_index: 0 })).toEqual(
      bad(
        "Invalid input for field/attribute source_type. Value: disk. 'disk' is not one of ['volume', 'image', 'snapshot', 'blank']",
      ),
    );
    expect(
      await v({ uuid: volume, source_type: 'volume', destination_type: 'remote', boot_index: 0 }),
    ).toEqual(
      bad(
        "Invalid input for field/attribute destination_type. Value: remote. 'remote' is not one of ['local', 'volume']",
      ),
    );
    expect(await v({ source_type: 'volume', destination_type: 'volume', boot_index: 0 })).toEqual(
      bad('Block Device Mapping is Invalid: Missing device UUID.'),
    );
    expect(
      await v({ uuid: volume, source_type: 'blank', destination_type: 'volume', boot_index: 0 }),
    ).toEqual(bad('Block Device Mapping is Invalid: Invalid device UUID.'));
    expect(await v({ uuid: image, source_type: 'image', destination_type: 'local', boot_index: 0 })).toEqual(
      bad('Block Device Mapping is Invalid: Mapping image to local is not supported.'),
    );
    expect(
      await v({
        uuid: volume,
        source_type: 'volume',
        destination_type: 'volume',
        boot_index: 0,
        volume_type: 'replicated-ssd',
      }),
    ).toEqual(
      bad('Block Device Mapping is Invalid: Specifying volume type to existing volume is not supported.'),
    );
    expect(
      await v({ uuid: missing, source_type: 'volume', destination_type: 'volume', boot_index: 0 }),
    ).toEqual(bad(`Block Device Mapping is Invalid: failed to get volume ${missing}.`));
    expect(
      await v({ uuid: volume, source_type: 'volume', destination_type: 'volume', boot_index: 1 }),
    ).toEqual(
      bad(
        'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.',
      ),
    );
    expect(await v({ uuid: image, source_type: 'image', destination_type: 'volume', boot_index: 0 })).toEqual(
      bad("Images with destination_type 'volume' need to have a non-zero size specified"),
    );
    expect(
      await create({
        imageRef: image,
        block_device_mapping_v2: [
          { uuid: image, source_type: 'image', destination_type: 'local', boot_index: 0 },
          {
            source_type: 'blank',
            destination_type: 'local',
            guest_format: 'swap',
            volume_size: 1,
            boot_index: -1,
          },
        ],
      }),
    ).toEqual(bad('Swap drive requested is larger than instance type allows.'));
    expect(await create({})).toEqual(bad('Missing imageRef attribute'));
  });

  it('boots from an image-to-volume mapping: Cinder makes a bootable volume from the image', async () => {
    const image = seeded().imageId;
    const accepted = await create({
      block_device_mapping_v2: [
        {
          uuid: image,
          source_type: 'image',
          destination_type: 'volume',
          volume_size: '2',
          boot_index: '0',
          delete_on_termination: true,
        },
      ],
    });
    expect(accepted.status).toBe(202);
    const id = String((accepted.json.server as Json).id);
    const server = await waitFor(id, 'ACTIVE');
    const [attached] = server['os-extended-volumes:volumes_attached'] as Json[];
    const volume = (await call(`${volumes()}/volumes/${attached!.id}`, { token })).json.volume as Json;
    expect(volume).toMatchObject({ size: 2, bootable: 'true', status: 'in-use', name: '' });
    expect((volume.attachments as Json[])[0]).toMatchObject({ server_id: id, device: '/dev/vda' });
    await call(`${servers}/${id}`, { method: 'DELETE', token });
    expect((await call(`${volumes()}/volumes/${attached!.id}`, { token })).status).toBe(404);
  });

  it('refuses to start or stop a server whose build failed, and one in the wrong state', async () => {
    cloud.faults.set({ service: 'compute', op: 'boot_server', times: 1 });
    const failed = await create({ imageRef: seeded().imageId });
    const id = String((failed.json.server as Json).id);
    expect((await waitFor(id, 'ERROR')).fault).toMatchObject({ code: 500 });
    for (const action of ['os-start', 'os-stop']) {
      expect(
        await call(`${servers}/${id}/action`, { method: 'POST', token, body: { [action]: null } }),
      ).toEqual({
        status: 409,
        json: { conflictingRequest: { code: 409, message: `Instance ${id} is not ready` } },
      });
    }
    expect(((await call(`${servers}/${id}`, { token })).json.server as Json).status).toBe('ERROR');
    await call(`${servers}/${id}`, { method: 'DELETE', token });

    const running = await create({ imageRef: seeded().imageId });
    const ok = String((running.json.server as Json).id);
    await waitFor(ok, 'ACTIVE');
    expect(
      await call(`${servers}/${ok}/action`, { method: 'POST', token, body: { 'os-start': null } }),
    ).toEqual({
      status: 409,
      json: {
        conflictingRequest: {
          code: 409,
          message: `Cannot 'start' instance ${ok} while it is in vm_state active`,
        },
      },
    });
    await call(`${servers}/${ok}`, { method: 'DELETE', token });
  });
});
