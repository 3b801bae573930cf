import {
  createInMemoryVolumeBackend,
  createSimulatedCloud,
  type InMemoryVolumeBackend,
  type SeededUser,
  type SimulatedCloud,
} from '@protector/cloud-sim';
import { isProtectorError, type ProtectorError } from '@protector/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenStackClient, type OpenStackClient, type OpenStackClientOptions } from './index.js';

const GIB = 1024 ** 3;

let cloud: SimulatedCloud;
let backend: InMemoryVolumeBackend;
/** Offset added to the cloud's clock, to expire tokens without waiting. */
let cloudClockOffset = 0;

function clientFor(
  user: SeededUser,
  extra: Partial<OpenStackClientOptions> = {},
  on: SimulatedCloud = cloud,
): OpenStackClient {
  return createOpenStackClient({
    authUrl: on.keystoneUrl,
    credentials: {
      type: 'password',
      username: user.name,
      password: user.password,
      projectName: user.projectName,
    },
    region: 'RegionOne',
    pollIntervalMs: 20,
    waitTimeoutMs: 5000,
    timeoutMs: 5000,
    ...extra,
  });
}

/** Runs `fn` and returns the ProtectorError it throws (fails the test if it does not). */
async function errorOf(fn: () => Promise<unknown>): Promise<ProtectorError> {
  try {
    await fn();
  } catch (err) {
    if (isProtectorError(err)) return err;
    throw err;
  }
  throw new Error('expected a ProtectorError, the call succeeded');
}

/** A raw Keystone token for a seeded user, as a user's CLI would hold it. */
async function issueToken(user: SeededUser, on = cloud): Promise<string> {
  const response = await fetch(`${on.keystoneUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { id: user.id, password: user.password } } },
        scope: { project: { id: user.projectId } },
      },
    }),
  });
  expect(response.status).toBe(201);
  return response.headers.get('x-subject-token') ?? '';
}

const seed = () => {
  if (!cloud.seed) throw new Error('cloud not seeded');
  return cloud.seed;
};

beforeAll(async () => {
  backend = createInMemoryVolumeBackend();
  cloud = await createSimulatedCloud({
    volumeBackend: backend,
    timing: { bootTimeMs: 150, powerTimeMs: 50 },
    tokenLifetimeSeconds: 600,
    now: () => Date.now() + cloudClockOffset,
  });
});

afterAll(async () => {
  await cloud.stop();
});

describe('Keystone authentication', () => {
  it('authenticates with a password, scoped to a project by name, and reports roles', async () => {
    const info = await clientFor(seed().tenant).tokenInfo();
    expect(info.projectId).toBe(seed().tenant.projectId);
    expect(info.userName).toBe('demo');
    expect(info.roles).toEqual(expect.arrayContaining(['member', 'reader']));
    expect(info.roles).not.toContain('admin');
    expect(info.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('authenticates with an application credential', async () => {
    const tenant = clientFor(seed().tenant);
    const { userId } = await tenant.tokenInfo();
    // Create the credential through Keystone's own API, as `openstack application credential create` does.
    const token = await issueToken(seed().tenant);
    const created = await fetch(`${cloud.keystoneUrl}/users/${userId}/application_credentials`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Auth-Token': token },
      body: JSON.stringify({ application_credential: { name: 'protector-dr', secret: 's3cret' } }),
    });
    expect(created.status).toBe(201);
    const { application_credential } = (await created.json()) as { application_credential: { id: string } };

    const viaAppCred = createOpenStackClient({
      authUrl: cloud.url, // without /v3: the client adds it
      credentials: { type: 'applicationCredential', id: application_credential.id, secret: 's3cret' },
    });
    const info = await viaAppCred.tokenInfo();
    expect(info.applicationCredentialId).toBe(application_credential.id);
    expect(info.projectId).toBe(seed().tenant.projectId);
    expect((await viaAppCred.listFlavors()).map((f) => f.name)).toContain('m1.small');

    const wrongSecret = createOpenStackClient({
      authUrl: cloud.keystoneUrl,
      credentials: { type: 'applicationCredential', id: application_credential.id, secret: 'nope' },
    });
    expect((await errorOf(() => wrongSecret.tokenInfo())).details.status).toBe(401);
  });

  it('reports a bad password as a CLOUD_ERROR with HTTP 401', async () => {
    const client = clientFor({ ...seed().tenant, password: 'wrong' });
    const err = await errorOf(() => client.listServers());
    expect(err.code).toBe('CLOUD_ERROR');
    expect(err.details).toMatchObject({ service: 'identity', status: 401 });
    expect(err.message).toContain('requires authentication');
  });

  it('re-authenticates once when the cloud refuses an expired token', async () => {
    const client = clientFor(seed().tenant);
    const first = await client.tokenInfo();
    cloudClockOffset += 601_000; // the cloud now sees the cached token as expired; the client does not
    try {
      const servers = await client.listServers();
      expect(Array.isArray(servers)).toBe(true);
      const second = await client.tokenInfo();
      expect(second.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
    } finally {
      cloudClockOffset = 0;
    }
  });

  it('refreshes the token before it expires', async () => {
    const client = clientFor(seed().tenant, {
      now: () => Date.now() + cloudClockOffset,
      tokenRefreshMarginMs: 60_000,
    });
    const tokens = () =>
      (cloud.store.db.prepare('SELECT count(*) AS n FROM tokens').get() as { n: number }).n;
    await client.listFlavors();
    const before = tokens();
    await client.listFlavors();
    expect(tokens()).toBe(before); // cached
    cloudClockOffset = 570_000; // both clocks: 30 s before expiry, inside the 60 s margin
    try {
      await client.listFlavors();
      expect(tokens()).toBe(before + 1);
      await client.listFlavors();
      expect(tokens()).toBe(before + 1);
    } finally {
      cloudClockOffset = 0;
    }
  });

  it('validates user tokens for the site service and refuses invalid ones', async () => {
    const service = clientFor(seed().service);
    const tenantToken = await issueToken(seed().tenant);
    const info = await service.validateToken(tenantToken);
    expect(info).toMatchObject({ userId: seed().tenant.id, projectId: seed().tenant.projectId });
    expect(info.roles).toContain('member');

    expect((await errorOf(() => service.validateToken('not-a-token'))).code).toBe('UNAUTHENTICATED');
    // A plain member may not validate someone else's token (Keystone policy identity:validate_token).
    const adminToken = await issueToken(seed().admin);
    expect((await errorOf(() => clientFor(seed().tenant).validateToken(adminToken))).code).toBe('FORBIDDEN');
    expect((await service.validateToken(adminToken)).roles).toContain('admin');
  });
});

describe('catalog', () => {
  it('selects endpoints by service type, interface and region', async () => {
    const client = clientFor(seed().tenant, { interface: 'internal' });
    expect(await client.endpoint('compute')).toBe(`${cloud.url}/compute/v2.1`);
    expect(await client.endpoint('volume')).toBe(`${cloud.url}/volume/v3/${seed().tenant.projectId}`);
    expect(await client.endpoint('network')).toBe(`${cloud.url}/network/v2.0`);
    expect(await client.endpoint('image')).toBe(`${cloud.url}/image/v2`);
    const elsewhere = clientFor(seed().tenant, { region: 'RegionTwo' });
    const err = await errorOf(() => elsewhere.endpoint('compute'));
    expect(err.code).toBe('CLOUD_ERROR');
    expect(err.message).toContain('region RegionTwo');
  });
});

describe('compute and block storage', () => {
  let tenant: OpenStackClient;
  beforeAll(() => {
    tenant = clientFor(seed().tenant);
  });

  async function bootVolume(name: string): Promise<string> {
    const volume = await tenant.createVolume({
      size: 1,
      name,
      volume_type: 'replicated-ssd',
      imageRef: seed().imageId,
    });
    await tenant.waitForVolumeStatus(volume.id, 'available');
    return volume.id;
  }

  it('boots a server from a replicated volume that lives on the array, and it reaches ACTIVE', async () => {
    const volumeId = await bootVolume('web-1-boot');
    const volume = await tenant.getVolume(volumeId);
    expect(volume.bootable).toBe('true');
    // Cinder's Pure driver names the array volume volume-<id>-cinder; Cinder shows no trace of it.
    expect(volume.metadata).toEqual({});
    expect(backend.volumes.get(`volume-${volumeId}-cinder`)).toBe(GIB);

    const server = await tenant.createServer({
      name: 'web-1',
      flavorRef: seed().flavors['m1.small'] ?? '',
      networks: [{ uuid: seed().networkId }],
      block_device_mapping_v2: [
        { uuid: volumeId, source_type: 'volume', destination_type: 'volume', boot_index: 0 },
      ],
      metadata: { role: 'web' },
    });
    expect(server.status).toBe('BUILD');
    const active = await tenant.waitForServerStatus(server.id, 'ACTIVE');
    expect(active.image).toBe('');
    expect(active.metadata).toEqual({ role: 'web' });
    expect(active['os-extended-volumes:volumes_attached']).toEqual([
      { id: volumeId, delete_on_termination: false },
    ]);
    expect(active.addresses.private?.[0]?.addr).toMatch(/^10\.0\.0\./);
    expect((await tenant.getVolume(volumeId)).status).toBe('in-use');
    expect((await tenant.listPorts({ device_id: server.id })).length).toBe(1);
    expect((await tenant.listServers({ name: '^web-1$' })).map((s) => s.id)).toEqual([server.id]);

    await tenant.deleteServer(server.id);
    await tenant.waitForServerDeleted(server.id);
    expect((await tenant.getVolume(volumeId)).status).toBe('available');
    expect(await tenant.listPorts({ device_id: server.id })).toEqual([]);
    await tenant.deleteVolume(volumeId);
    expect(backend.volumes.has(`volume-${volumeId}-cinder`)).toBe(false);
    expect((await errorOf(() => tenant.getVolume(volumeId))).code).toBe('NOT_FOUND');
  });

  it("waits on many servers together through Nova's changes-since list, another project's as admin", async () => {
    const boot = (name: string) =>
      tenant.createServer({ name, flavorRef: '1', imageRef: seed().imageId, networks: 'none' });
    const servers = await Promise.all(['w-1', 'w-2', 'w-3', 'w-4'].map(boot));
    expect(servers.map((s) => s.status)).toEqual(['BUILD', 'BUILD', 'BUILD', 'BUILD']);
    // Changes since before the boots: all four; since a time to come: none.
    const before = new Date(Date.now() - 60_000).toISOString();
    expect((await tenant.listServers({ changesSince: before })).map((s) => s.id)).toEqual(
      expect.arrayContaining(servers.map((s) => s.id)),
    );
    const later = new Date(Date.now() + 3_600_000).toISOString();
    expect(await tenant.listServers({ changesSince: later })).toEqual([]);
    // The tenant's and the admin's (the service user acting in a tenant's project) waits at once.
    const admin = clientFor(seed().admin);
    const [mine, theirs] = await Promise.all([
      Promise.all(servers.slice(0, 2).map((s) => tenant.waitForServerStatus(s.id, 'ACTIVE'))),
      Promise.all(servers.slice(2).map((s) => admin.waitForServerStatus(s.id, 'ACTIVE'))),
    ]);
    expect([...mine, ...theirs].map((s) => s.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE']);
    // A deleted server is listed as DELETED since its change, and ends a wait for its deletion.
    await tenant.stopServer(servers[0]!.id);
    const stopping = tenant.waitForServerStatus(servers[0]!.id, 'SHUTOFF');
    await tenant.deleteServer(servers[1]!.id);
    await tenant.waitForServerDeleted(servers[1]!.id);
    expect(
      (await tenant.listServers({ changesSince: before })).find((s) => s.id === servers[1]!.id)?.status,
    ).toBe('DELETED');
    await stopping;
    // A server deleted while it is waited on ends the wait with the reason.
    const waited = tenant.waitForServerStatus(servers[0]!.id, 'ACTIVE', { timeoutMs: 3000 });
    await tenant.deleteServer(servers[0]!.id);
    const gone = await errorOf(() => waited);
    expect(gone.code).toBe('CLOUD_ERROR');
    expect(gone.message).toContain('the server was deleted while it was waited on');
    // One list Nova fails is asked again; three in a row fail the wait with Nova's error.
    await tenant.startServer(servers[2]!.id).catch(() => undefined);
    await tenant.stopServer(servers[2]!.id);
    cloud.faults.set({ service: 'compute', op: 'list_servers', error: 500, times: 1 });
    expect((await tenant.waitForServerStatus(servers[2]!.id, 'SHUTOFF')).status).toBe('SHUTOFF');
    await tenant.startServer(servers[2]!.id);
    cloud.faults.set({ service: 'compute', op: 'list_servers', error: 500, times: 3 });
    expect((await errorOf(() => tenant.waitForServerStatus(servers[2]!.id, 'ACTIVE'))).message).toContain(
      '500',
    );
    await tenant.waitForServerStatus(servers[2]!.id, 'ACTIVE');
    // A wait that does not end in time says so.
    const slow = await errorOf(() =>
      tenant.waitForServerStatus(servers[2]!.id, 'SHUTOFF', { timeoutMs: 100 }),
    );
    expect(slow.message).toBe(`Server ${servers[2]!.id} reaching SHUTOFF did not finish within 100 ms.`);
    for (const s of servers.slice(2)) await tenant.deleteServer(s.id);
    // Nova refuses a changes-since that is not a time.
    const bad = await errorOf(() => tenant.listServers({ changesSince: 'yesterday' }));
    expect(bad.message).toContain("'yesterday' is not a 'date-time'");
  });

  it('stops and starts a server, refusing transitions from the wrong state with 409', async () => {
    const volumeId = await bootVolume('db-1-boot');
    const server = await tenant.createServer({
      name: 'db-1',
      flavorRef: '2',
      networks: 'none',
      block_device_mapping_v2: [
        {
          uuid: volumeId,
          source_type: 'volume',
          destination_type: 'volume',
          boot_index: 0,
          delete_on_termination: true,
        },
      ],
    });
    const early = await errorOf(() => tenant.stopServer(server.id));
    expect(early.code).toBe('INVALID_STATE');
    expect(early.message).toContain(`Cannot 'stop' instance ${server.id} while it is in vm_state building`);
    await tenant.waitForServerStatus(server.id, 'ACTIVE');

    const startActive = await errorOf(() => tenant.startServer(server.id));
    expect(startActive.code).toBe('INVALID_STATE');
    expect(startActive.details).toMatchObject({ service: 'compute', status: 409 });
    expect(startActive.details.requestId).toMatch(/^req-/);

    await tenant.stopServer(server.id);
    const powering = await errorOf(() => tenant.stopServer(server.id));
    expect(powering.message).toContain('task_state powering-off');
    const stopped = await tenant.waitForServerStatus(server.id, 'SHUTOFF');
    expect(stopped['OS-EXT-STS:vm_state']).toBe('stopped');
    expect((await errorOf(() => tenant.stopServer(server.id))).message).toContain('vm_state stopped');
    await tenant.startServer(server.id);
    await tenant.waitForServerStatus(server.id, 'ACTIVE');

    await tenant.deleteServer(server.id);
    await tenant.waitForServerDeleted(server.id);
    // delete_on_termination removed the boot volume and its array volume.
    expect((await errorOf(() => tenant.getVolume(volumeId))).code).toBe('NOT_FOUND');
    expect(backend.volumes.has(`volume-${volumeId}-cinder`)).toBe(false);
  });

  it('is refused by Nova when its boot volume is not bootable, or the volume is in use', async () => {
    const volume = await tenant.createVolume({ size: 1, name: 'blank', volume_type: 'standard-ssd' });
    const boot = (uuid: string) => ({
      name: 'broken',
      flavorRef: '1',
      networks: 'none' as const,
      block_device_mapping_v2: [
        { uuid, source_type: 'volume' as const, destination_type: 'volume' as const, boot_index: 0 },
      ],
    });
    const err = await errorOf(() => tenant.createServer(boot(volume.id)));
    expect(err.details.status).toBe(400);
    expect(err.message).toContain(`Block Device ${volume.id} is not bootable.`);
    expect((await tenant.listServers()).map((s) => s.name)).not.toContain('broken');
    expect((await tenant.getVolume(volume.id)).status).toBe('available');
    // A bootable volume already attached elsewhere cannot be reserved: Cinder's 400, wrapped by Nova.
    await tenant.setVolumeBootable(volume.id, true);
    const first = await tenant.createServer({ ...boot(volume.id), name: 'first' });
    const inUse = await errorOf(() => tenant.createServer(boot(volume.id)));
    expect(inUse.message).toContain(
      `Volume ${volume.id} status must be available or downloading to reserve, but the current status is in-use.`,
    );
    await tenant.deleteServer(first.id);
    await tenant.waitForServerDeleted(first.id);
    await tenant.deleteVolume(volume.id);
  });

  it('attaches and detaches data volumes', async () => {
    const bootId = await bootVolume('app-1-boot');
    const data = await tenant.createVolume({ size: 2, name: 'app-1-data', volume_type: 'replicated-ssd' });
    const server = await tenant.createServer({
      name: 'app-1',
      flavorRef: '1',
      networks: 'none',
      block_device_mapping_v2: [
        { uuid: bootId, source_type: 'volume', destination_type: 'volume', boot_index: 0 },
      ],
    });
    await tenant.waitForServerStatus(server.id, 'ACTIVE');
    const attachment = await tenant.attachVolume(server.id, data.id);
    expect(attachment).toMatchObject({ volumeId: data.id, serverId: server.id, device: '/dev/vdb' });
    expect((await tenant.listVolumeAttachments(server.id)).map((a) => a.volumeId)).toEqual([bootId, data.id]);
    expect((await errorOf(() => tenant.deleteVolume(data.id))).details.status).toBe(400);
    expect((await errorOf(() => tenant.detachVolume(server.id, bootId))).message).toContain('root device');
    await tenant.detachVolume(server.id, data.id);
    expect((await tenant.getVolume(data.id)).status).toBe('available');
    await tenant.deleteServer(server.id);
    await tenant.deleteVolume(data.id);
    await tenant.deleteVolume(bootId);
  });
});

describe('manage existing and groups (admin)', () => {
  it('manages an array volume into Cinder (renamed volume-<id>-cinder), refuses what Cinder refuses, and unmanages it', async () => {
    const admin = clientFor(seed().admin);
    backend.volumes.set('pg-prod-web-app-web-1-boot', 10 * GIB);
    const volume = await admin.manageVolume({
      host: 'cinder@pure#pure',
      sourceName: 'pg-prod-web-app-web-1-boot',
      name: 'web-1-boot-restored',
      volume_type: 'replicated-ssd',
      bootable: true,
      metadata: { protector_pg: 'pg-1' },
    });
    // Cinder answers at once with the volume being managed; the driver adopts it behind the answer.
    expect(volume).toMatchObject({
      status: 'managing',
      size: 0,
      bootable: 'true',
      volume_type: 'replicated-ssd',
    });
    const managed = await admin.waitForVolumeStatus(volume.id, 'available');
    expect(managed).toMatchObject({ size: 10, 'os-vol-host-attr:host': 'cinder@pure#pure' });
    // The user metadata given at manage, and nothing else.
    expect(managed.metadata).toEqual({ protector_pg: 'pg-1' });
    expect(backend.volumes.has('pg-prod-web-app-web-1-boot')).toBe(false);
    expect(backend.volumes.get(`volume-${volume.id}-cinder`)).toBe(10 * GIB);

    // The source is gone from the array once managed: a second manage is accepted and fails behind it.
    const twice = await admin.manageVolume({
      host: 'cinder@pure#pure',
      sourceName: 'pg-prod-web-app-web-1-boot',
      volume_type: 'replicated-ssd',
    });
    expect((await admin.getVolume(twice.id)).status).toBe('error_managing');
    const missing = await admin.manageVolume({
      host: 'cinder@pure#pure',
      sourceName: 'no-such-volume',
      volume_type: 'replicated-ssd',
    });
    expect((await admin.getVolume(missing.id)).status).toBe('error_managing');
    // A pool the backend does not have, or one whose capabilities do not fit the type: the scheduler refuses.
    backend.volumes.set('web-2-boot', GIB);
    const unknownPool = await admin.manageVolume({
      host: 'cinder@pure#nope',
      sourceName: 'web-2-boot',
      volume_type: 'replicated-ssd',
    });
    expect((await admin.getVolume(unknownPool.id)).status).toBe('error_managing');
    const notReplicated = await admin.manageVolume({
      host: 'cinder@lvm#lvm',
      sourceName: 'web-2-boot',
      volume_type: 'replicated-ssd',
    });
    expect((await admin.getVolume(notReplicated.id)).status).toBe('error_managing');
    expect(backend.volumes.get('web-2-boot')).toBe(GIB);
    for (const id of [twice.id, missing.id, unknownPool.id, notReplicated.id]) await admin.deleteVolume(id);

    // A host without a cinder-volume service is refused by the API, as Cinder's volume_manage does.
    const unknownHost = await errorOf(() =>
      admin.manageVolume({
        host: 'elsewhere@pure#pure',
        sourceName: 'web-2-boot',
        volume_type: 'replicated-ssd',
      }),
    );
    expect(unknownHost.details.status).toBe(400);
    expect(unknownHost.message).toContain("Host 'elsewhere@pure#pure' not found");
    const unknownType = await errorOf(() =>
      admin.manageVolume({ host: 'cinder@pure#pure', sourceName: 'web-2-boot', volume_type: 'gold' }),
    );
    expect(unknownType.message).toContain("Invalid volume type: Cannot find requested 'gold' volume type");

    const member = await errorOf(() =>
      clientFor(seed().tenant).manageVolume({ host: 'h', sourceName: 'pg-prod-web-app-web-1-boot' }),
    );
    expect(member.code).toBe('FORBIDDEN');

    // Unmanaging leaves the array volume, renamed as Cinder's Pure driver does.
    await admin.unmanageVolume(volume.id);
    expect((await errorOf(() => admin.getVolume(volume.id))).code).toBe('NOT_FOUND');
    expect(backend.volumes.get(`volume-${volume.id}-cinder-unmanaged`)).toBe(10 * GIB);
  });

  it('lists Cinder volume services and pools for admins', async () => {
    const admin = clientFor(seed().admin);
    const services = await admin.listVolumeServices({ binary: 'cinder-volume' });
    expect(services.map((s) => [s.host, s.status, s.state])).toEqual([
      ['cinder@pure', 'enabled', 'up'],
      ['cinder@lvm', 'enabled', 'up'],
    ]);
    expect((await admin.listVolumePools()).map((p) => p.name)).toEqual([
      'cinder@pure#pure',
      'cinder@lvm#lvm',
    ]);
    const [pure] = await admin.listVolumePools({ detail: true });
    expect(pure?.capabilities).toMatchObject({ volume_backend_name: 'pure', vendor_name: 'Pure Storage' });
    const tenant = clientFor(seed().tenant);
    expect((await errorOf(() => tenant.listVolumeServices())).code).toBe('FORBIDDEN');
    expect((await errorOf(() => tenant.listVolumePools())).code).toBe('FORBIDDEN');
  });

  it('creates a consistency group, adds and removes volumes, and deletes it with its volumes', async () => {
    const tenant = clientFor(seed().tenant);
    const types = await tenant.listVolumeTypes();
    const replicated = types.find((t) => t.name === 'replicated-ssd');
    expect(replicated?.extra_specs).toMatchObject({
      replication_enabled: '<is> True',
      replication_type: '<in> async',
    });
    expect(await tenant.getVolumeTypeExtraSpecs(replicated?.id ?? '')).toMatchObject({
      replication_type: '<in> async',
    });
    expect((await tenant.listGroupTypes()).map((t) => t.name)).toContain('consistency-group');

    const group = await tenant.createGroup({
      name: 'pg-prod-web-app',
      groupType: 'consistency-group',
      volumeTypes: ['replicated-ssd'],
    });
    await tenant.waitForGroupStatus(group.id, 'available');
    const a = await tenant.createVolume({ size: 1, name: 'a', volume_type: 'replicated-ssd' });
    const b = await tenant.createVolume({ size: 1, name: 'b', volume_type: 'replicated-ssd' });
    const plain = await tenant.createVolume({ size: 1, name: 'plain', volume_type: 'standard-ssd' });
    await tenant.addVolumesToGroup(group.id, [a.id, b.id]);
    expect((await tenant.getGroup(group.id)).volumes?.sort()).toEqual([a.id, b.id].sort());
    expect((await tenant.getVolume(a.id)).group_id).toBe(group.id);

    const wrongType = await errorOf(() => tenant.addVolumesToGroup(group.id, [plain.id]));
    expect(wrongType.message).toContain('volume type standard-ssd is not supported by the group');
    await tenant.removeVolumesFromGroup(group.id, [b.id]);
    expect((await tenant.listVolumes({ groupId: group.id })).map((v) => v.id)).toEqual([a.id]);

    const needsFlag = await errorOf(() => tenant.deleteGroup(group.id));
    expect(needsFlag.message).toContain('The delete-volumes flag is required');
    await tenant.deleteGroup(group.id, { deleteVolumes: true });
    expect((await errorOf(() => tenant.getGroup(group.id))).code).toBe('NOT_FOUND');
    expect((await errorOf(() => tenant.getVolume(a.id))).code).toBe('NOT_FOUND');
    expect(backend.volumes.has(`volume-${a.id}-cinder`)).toBe(false);
    await tenant.deleteVolume(b.id);
    await tenant.deleteVolume(plain.id);
  });
});

describe('microversions', () => {
  it('rejects an unsupported microversion with Cinder’s 406', async () => {
    const client = clientFor(seed().tenant, { microversions: { volume: '3.99' } });
    const err = await errorOf(() => client.listVolumes());
    expect(err.code).toBe('CLOUD_ERROR');
    expect(err.details.status).toBe(406);
    expect(err.message).toContain(
      'Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.70.',
    );
  });

  it('hides groups below 3.13 and shows them from it', async () => {
    const old = clientFor(seed().tenant, { microversions: { volume: '3.10' } });
    expect((await errorOf(() => old.listGroups())).code).toBe('NOT_FOUND');
    expect(
      Array.isArray(await clientFor(seed().tenant, { microversions: { volume: '3.13' } }).listGroups()),
    ).toBe(true);
  });

  it('serves the flavor inline from compute 2.47', async () => {
    const volumeClient = clientFor(seed().tenant, { microversions: { compute: '2.1' } });
    const server = await volumeClient.createServer({
      name: 'mv',
      flavorRef: '1',
      imageRef: seed().imageId,
      networks: 'auto',
    });
    expect(server.flavor).toMatchObject({ id: '1' });
    const modern = await clientFor(seed().tenant, { microversions: { compute: '2.79' } }).getServer(
      server.id,
    );
    expect(modern.flavor).toMatchObject({ original_name: 'm1.tiny', vcpus: 1 });
    await volumeClient.deleteServer(server.id);
  });
});

describe('faults and access', () => {
  it('surfaces an injected 500 with the service, status and request id, once', async () => {
    const client = clientFor(seed().tenant);
    cloud.faults.set({ service: 'compute', op: 'create_server', error: 500, times: 1 });
    const err = await errorOf(() =>
      client.createServer({ name: 'x', flavorRef: '1', imageRef: seed().imageId, networks: 'none' }),
    );
    expect(err.code).toBe('CLOUD_ERROR');
    expect(err.details).toMatchObject({ service: 'compute', status: 500 });
    expect(err.details.requestId).toMatch(/^req-/);
    const server = await client.createServer({
      name: 'x',
      flavorRef: '1',
      imageRef: seed().imageId,
      networks: 'none',
    });
    await client.deleteServer(server.id);
  });

  it('fails a boot with an injected hypervisor fault', async () => {
    const client = clientFor(seed().tenant);
    cloud.faults.set({
      service: 'compute',
      op: 'boot_server',
      message: 'No valid host was found.',
      times: 1,
    });
    const server = await client.createServer({
      name: 'nohost',
      flavorRef: '1',
      imageRef: seed().imageId,
      networks: 'none',
    });
    const err = await errorOf(() => client.waitForServerStatus(server.id, 'ACTIVE'));
    expect(err.message).toContain('No valid host was found.');
    // A server whose build failed is on no host: Nova refuses to start or stop it (409), it stays in ERROR.
    for (const action of [() => client.startServer(server.id), () => client.stopServer(server.id)]) {
      const refused = await errorOf(action);
      expect(refused.details.status).toBe(409);
      expect(refused.message).toContain(`Instance ${server.id} is not ready`);
    }
    expect((await client.getServer(server.id)).status).toBe('ERROR');
    await client.deleteServer(server.id);
  });

  it('times out a slow call and reports a cloud that is down', async () => {
    const client = clientFor(seed().tenant, { timeoutMs: 100 });
    await client.listFlavors();
    cloud.faults.set({ service: 'compute', op: 'list_flavors', delayMs: 500, times: 1 });
    const slow = await errorOf(() => client.listFlavors());
    expect(slow.details.status).toBe(0);
    expect(slow.message).toContain('did not answer');

    await cloud.setDown('unavailable');
    try {
      expect((await errorOf(() => client.listFlavors())).details.status).toBe(503);
      await cloud.setDown('refuse');
      // The first call may find its kept-alive socket closed; the next one is refused outright.
      expect((await errorOf(() => client.listFlavors())).details.status).toBe(0);
      const refused = await errorOf(() => client.listFlavors());
      expect(refused.message).toContain('ECONNREFUSED');
    } finally {
      await cloud.setDown(false);
    }
    expect((await client.listFlavors()).length).toBeGreaterThan(0);
  });

  it('keeps projects apart: other tenants’ servers are invisible and admin-only calls are forbidden', async () => {
    const admin = clientFor(seed().admin);
    const tenant = clientFor(seed().tenant);
    const server = await admin.createServer({
      name: 'admin-only',
      flavorRef: '1',
      imageRef: seed().imageId,
      networks: 'none',
    });
    expect((await errorOf(() => tenant.getServer(server.id))).code).toBe('NOT_FOUND');
    expect((await admin.listServers({ allTenants: true })).map((s) => s.id)).toContain(server.id);
    const flavor = await errorOf(() => tenant.createFlavor({ name: 'huge', ram: 1, vcpus: 1, disk: 1 }));
    expect(flavor.code).toBe('FORBIDDEN');
    await admin.deleteServer(server.id);
  });
});

describe('networks and images', () => {
  it('creates and deletes networks, subnets and ports; lists images', async () => {
    const tenant = clientFor(seed().tenant);
    const network = await tenant.createNetwork({ name: 'dr-test' });
    const subnet = await tenant.createSubnet({
      network_id: network.id,
      cidr: '192.168.50.0/24',
      name: 'dr-test-subnet',
    });
    expect(subnet.gateway_ip).toBe('192.168.50.1');
    const port = await tenant.createPort({ network_id: network.id, name: 'p1' });
    expect(port.fixed_ips[0]).toMatchObject({ subnet_id: subnet.id, ip_address: '192.168.50.2' });
    expect((await tenant.listNetworks({ name: 'dr-test' })).map((n) => n.subnets)).toEqual([[subnet.id]]);
    const inUse = await errorOf(() => tenant.deleteNetwork(network.id));
    expect(inUse.code).toBe('INVALID_STATE');
    expect(inUse.message).toContain('There are one or more ports still in use on the network');
    await tenant.deletePort(port.id);
    await tenant.deleteNetwork(network.id);
    expect(await tenant.listSubnets({ network_id: network.id })).toEqual([]);

    const images = await tenant.listImages({ name: 'cirros-0.6.2-x86_64-disk' });
    expect(images.map((i) => i.id)).toEqual([seed().imageId]);
    expect((await tenant.getImage(seed().imageId)).status).toBe('active');
    expect((await errorOf(() => tenant.getImage('00000000-0000-0000-0000-000000000000'))).code).toBe(
      'NOT_FOUND',
    );
  });
});

describe('lists longer than a page', () => {
  let paged: SimulatedCloud;
  beforeAll(async () => {
    paged = await createSimulatedCloud({ maxLimit: 3, timing: { bootTimeMs: 20 } });
  });
  afterAll(async () => {
    await paged.stop();
  });

  it('follows Nova, Cinder and Glance next links to the last page, at its own endpoint', async () => {
    const user = paged.seed!.tenant;
    const tenant = clientFor(user, {}, paged);
    const volumes = await Promise.all(
      Array.from({ length: 7 }, (_, i) => tenant.createVolume({ size: 1, name: `paged-${i}` })),
    );
    const servers = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        tenant.createServer({
          name: `paged-vm-${i}`,
          flavorRef: paged.seed!.flavors['m1.small'] ?? Object.values(paged.seed!.flavors)[0]!,
          networks: 'none',
          block_device_mapping_v2: [
            {
              uuid: paged.seed!.imageId,
              source_type: 'image',
              destination_type: 'volume',
              volume_size: 1,
              boot_index: 0,
              delete_on_termination: true,
            },
          ],
        } as never),
      ),
    );
    // Seven volumes, and one boot volume per server: 11, on four pages of at most 3.
    const listed = await tenant.listVolumes();
    expect(listed.length).toBe(11);
    expect(new Set(listed.map((v) => v.id)).size).toBe(11);
    expect(listed.map((v) => v.id)).toEqual(expect.arrayContaining(volumes.map((v) => v.id)));
    expect((await tenant.listServers()).map((s) => s.id).sort()).toEqual(servers.map((s) => s.id).sort());
    // A page exactly full still has a next link (as Nova gives it); the next page is empty.
    expect((await tenant.listServers({ name: '^paged-vm-[012]$' })).length).toBe(3);

    // What the services answer: at most max_limit, a next link with the marker, a bad limit refused.
    const token = await issueToken(user, paged);
    const raw = async (service: 'compute' | 'image', path: string, init: RequestInit = {}) => {
      const res = await fetch(`${await tenant.endpoint(service)}${path}`, {
        ...init,
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const first = await raw('compute', '/servers/detail?limit=50');
    expect((first.body.servers as unknown[]).length).toBe(3);
    const next = (first.body.servers_links as { rel: string; href: string }[])[0]!;
    expect(next.rel).toBe('next');
    expect(new URL(next.href).searchParams.get('limit')).toBe('3');
    expect(new URL(next.href).searchParams.get('marker')).toBe(
      (first.body.servers as { id: string }[])[2]!.id,
    );
    const last = await raw(
      'compute',
      `/servers/detail?limit=3&marker=${new URL(next.href).searchParams.get('marker')}`,
    );
    expect((last.body.servers as unknown[]).length).toBe(1);
    expect(last.body.servers_links).toBeUndefined();
    const bad = await raw('compute', '/servers/detail?limit=many');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('Invalid input for query parameters limit. Value: many.');

    // Glance: `next` in the body; the seeded image and four more, on two pages.
    for (let i = 0; i < 4; i++) {
      const made = await raw('image', '/images', {
        method: 'POST',
        body: JSON.stringify({ name: `paged-image-${i}`, disk_format: 'raw', container_format: 'bare' }),
      });
      expect(made.status).toBe(201);
    }
    const page = await raw('image', '/images');
    expect((page.body.images as unknown[]).length).toBe(3);
    expect(page.body.next).toMatch(/^\/v2\/images\?limit=3&marker=/);
    expect((await tenant.listImages()).length).toBe(5);
  });
});
