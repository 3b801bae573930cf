/**
 * The real `openstack` CLI (python-openstackclient, Debian's python3-openstackclient 6.0) against the
 * simulated cloud: what an operator runs around Protector must work as against a real cloud, and be
 * refused where a real cloud refuses it. Without the CLI the suite is skipped naming the package to
 * install (in CI, `CI=true`, it fails instead).
 *
 * Two commands of that release are broken against any cloud and are not used here: `volume group show`
 * calls a `groups.show` python-cinderclient does not have, and `volume group type show` reads an argument
 * the command does not define; `volume group list` and `consistency group show` show the same groups.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { needs, requirement } from '@protector/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInMemoryVolumeBackend,
  createSimulatedCloud,
  type InMemoryVolumeBackend,
  type SeededUser,
  type SimulatedCloud,
} from './index.js';

const CLI = '/usr/bin/openstack';
/** python-cinderclient's `cinder`, which python3-openstackclient depends on: `get-pools` and `manage`. */
const CINDER = '/usr/bin/cinder';
const openstackCli = requirement(
  'the openstack CLI and the cinder CLI it brings (/usr/bin/openstack, /usr/bin/cinder)',
  existsSync(CLI) && existsSync(CINDER),
  'apt-get install -y python3-openstackclient',
);

type Row = Record<string, unknown>;

let cloud: SimulatedCloud;
let home: string;
let array: InMemoryVolumeBackend;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'openstack-cli-'));
  array = createInMemoryVolumeBackend();
  cloud = await createSimulatedCloud({
    volumeBackend: array,
    timing: { bootTimeMs: 200, powerTimeMs: 100 },
  });
});

afterAll(async () => {
  await cloud?.stop();
  rmSync(home, { recursive: true, force: true });
});

const seed = () => {
  if (!cloud.seed) throw new Error('cloud not seeded');
  return cloud.seed;
};

function envFor(user: SeededUser): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    OS_AUTH_URL: cloud.keystoneUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_USERNAME: user.name,
    OS_PASSWORD: user.password,
    OS_PROJECT_NAME: user.projectName,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_REGION_NAME: 'RegionOne',
  };
}

/** Runs `openstack <args>` (or another CLI) as `user`; resolves with stdout, rejects with the exit code and stderr. */
async function run(user: SeededUser, args: readonly string[], cli = CLI): Promise<string> {
  try {
    return (await promisify(execFile)(cli, [...args], { env: envFor(user), timeout: 60_000 })).stdout;
  } catch (err) {
    const e = err as { code?: number; stderr?: string; stdout?: string };
    throw new Error(`openstack ${args.join(' ')} exited ${e.code}: ${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

/** `openstack <args> -f json`, parsed. */
async function json<T = Row>(user: SeededUser, ...args: string[]): Promise<T> {
  return JSON.parse(await run(user, [...args, '-f', 'json'])) as T;
}

/** A command that must fail: its exit code and what it printed on stderr. */
async function failure(user: SeededUser, ...args: string[]): Promise<{ code: number; stderr: string }> {
  const cli = args[0] === CINDER ? CINDER : CLI;
  try {
    await promisify(execFile)(cli, cli === CINDER ? args.slice(1) : args, {
      env: envFor(user),
      timeout: 60_000,
    });
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
  throw new Error(`openstack ${args.join(' ')} succeeded; it should have failed`);
}

const VOLUME_311 = ['--os-volume-api-version', '3.11'];
const VOLUME_313 = ['--os-volume-api-version', '3.13'];

needs(openstackCli).describe('python-openstackclient against the simulated cloud', () => {
  const admin = () => seed().admin;
  const tenant = () => seed().tenant;

  it('lists what an admin looks at: projects, users, roles and assignments, services, endpoints', async () => {
    // Read-only, so side by side.
    const [projects, demo, users, roles, assignments, services, endpoints, token] = await Promise.all([
      json<Row[]>(admin(), 'project', 'list'),
      json(admin(), 'project', 'show', 'demo'),
      json<Row[]>(admin(), 'user', 'list'),
      json<Row[]>(admin(), 'role', 'list'),
      json<Row[]>(admin(), 'role', 'assignment', 'list', '--project', 'demo', '--names'),
      json<Row[]>(admin(), 'service', 'list'),
      json<Row[]>(admin(), 'endpoint', 'list'),
      json(tenant(), 'token', 'issue'),
    ]);
    expect(projects.map((p) => p.Name).sort()).toEqual(['admin', 'demo', 'service']);
    expect(demo.name).toBe('demo');
    expect(users.map((u) => u.Name).sort()).toEqual(['admin', 'demo', 'protector']);
    expect(roles.map((r) => r.Name).sort()).toEqual(['admin', 'member', 'reader', 'service']);
    expect(assignments.map((a) => `${a.Role} ${a.User}`).sort()).toEqual([
      'admin admin@Default',
      'admin protector@Default',
      'member demo@Default',
    ]);
    expect(services.map((s) => s.Type).sort()).toEqual([
      'compute',
      'identity',
      'image',
      'network',
      'volumev3',
    ]);
    expect(endpoints.length).toBe(15);
    expect(token.project_id).toBe(tenant().projectId);
  }, 300_000);

  it('gives the DR service user a role in a new tenant project, and takes it back', async () => {
    const project = await json(admin(), 'project', 'create', '--description', 'DR tenant', 'cli-tenant');
    const user = await json(
      admin(),
      'user',
      'create',
      '--project',
      'cli-tenant',
      '--password',
      'pw',
      'cli-user',
    );
    await run(admin(), ['role', 'add', '--user', 'cli-user', '--project', 'cli-tenant', 'member']);
    await run(admin(), ['role', 'add', '--user', 'protector', '--project', 'cli-tenant', 'admin']);
    const names = async () =>
      (await json<Row[]>(admin(), 'role', 'assignment', 'list', '--project', 'cli-tenant', '--names'))
        .map((a) => `${a.Role} ${a.User}`)
        .sort();
    expect(await names()).toEqual(['admin protector@Default', 'member cli-user@Default']);
    await run(admin(), ['role', 'remove', '--user', 'protector', '--project', 'cli-tenant', 'admin']);
    expect(await names()).toEqual(['member cli-user@Default']);
    await run(admin(), ['user', 'delete', String(user.id)]);
    await run(admin(), ['project', 'delete', String(project.id)]);
    expect((await json<Row[]>(admin(), 'project', 'list')).map((p) => p.Name)).not.toContain('cli-tenant');
  }, 300_000);

  it('lists flavors, images, networks and subnets', async () => {
    const [flavors, images, networks, subnets] = await Promise.all([
      json<Row[]>(tenant(), 'flavor', 'list'),
      json<Row[]>(tenant(), 'image', 'list'),
      json<Row[]>(tenant(), 'network', 'list'),
      json<Row[]>(tenant(), 'subnet', 'list', '--network', 'private'),
    ]);
    expect(flavors.map((f) => f.Name)).toEqual(['m1.tiny', 'm1.small', 'm1.medium', 'm1.large']);
    expect(images).toEqual([{ ID: seed().imageId, Name: 'cirros-0.6.2-x86_64-disk', Status: 'active' }]);
    expect(networks.map((n) => n.Name).sort()).toEqual(['private', 'public']);
    expect(subnets).toEqual([expect.objectContaining({ Name: 'private-subnet', Subnet: '10.0.0.0/24' })]);
  }, 300_000);

  it('lists the Cinder volume services, where the array backend is host@backend', async () => {
    const services = await json<Row[]>(admin(), 'volume', 'service', 'list', '--service', 'cinder-volume');
    expect(services.map((s) => [s.Host, s.Status, s.State])).toEqual([
      ['cinder@pure', 'enabled', 'up'],
      ['cinder@lvm', 'enabled', 'up'],
    ]);
    const all = await json<Row[]>(admin(), 'volume', 'service', 'list', '--long');
    expect(all.map((s) => s.Binary)).toEqual(['cinder-scheduler', 'cinder-volume', 'cinder-volume']);
    const refused = await failure(tenant(), 'volume', 'service', 'list');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("Policy doesn't allow volume_extension:services:index to be performed.");
  }, 300_000);

  it('finds the array backend’s pool with `cinder get-pools` and manages an array volume into it with `cinder manage`', async () => {
    // What an operator sets [cinder] volume_host to.
    const pools = await run(admin(), ['get-pools'], CINDER);
    expect(pools).toContain('| name     | cinder@pure#pure |');
    expect(pools).toContain('| name     | cinder@lvm#lvm |');
    const detail = await run(admin(), ['get-pools', '--detail'], CINDER);
    expect(detail).toMatch(/\| volume_backend_name +\| pure +\|/);
    expect(detail).toMatch(/\| vendor_name +\| Pure Storage +\|/);

    array.volumes.set('r-cli-copy', 1024 ** 3);
    const manage = ['manage', '--name', 'cli-managed', '--volume-type', 'replicated-ssd', '--bootable'];
    await run(
      admin(),
      [...manage, '--metadata', 'protector_pg=pg-1', '--', 'cinder@pure#pure', 'r-cli-copy'],
      CINDER,
    );
    const managed = await json(admin(), 'volume', 'show', 'cli-managed');
    expect(managed).toMatchObject({
      status: 'available',
      bootable: 'true',
      size: 1,
      'os-vol-host-attr:host': 'cinder@pure#pure',
      properties: { protector_pg: 'pg-1' },
    });
    // Cinder's Pure driver renamed the array volume it adopted.
    expect([...array.volumes.keys()]).toContain(`volume-${managed.id}-cinder`);
    expect(array.volumes.has('r-cli-copy')).toBe(false);
    const unknown = await failure(admin(), CINDER, ...manage, 'elsewhere@pure#pure', 'r-cli-copy');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("Host 'elsewhere@pure#pure' not found (HTTP 400)");
    await run(admin(), ['volume', 'delete', 'cli-managed']);
  }, 300_000);

  it('creates a volume type, sets and unsets its properties, and deletes it', async () => {
    await run(admin(), [
      'volume',
      'type',
      'create',
      '--property',
      'replication_enabled=<is> True',
      'cli-type',
    ]);
    await run(admin(), ['volume', 'type', 'set', '--property', 'replication_type=<in> async', 'cli-type']);
    const properties = async () => (await json(admin(), 'volume', 'type', 'show', 'cli-type')).properties;
    expect(await properties()).toEqual({ replication_enabled: '<is> True', replication_type: '<in> async' });
    await run(admin(), ['volume', 'type', 'unset', '--property', 'replication_type', 'cli-type']);
    expect(await properties()).toEqual({ replication_enabled: '<is> True' });
    const listed = await json<Row[]>(admin(), 'volume', 'type', 'list', '--long');
    expect(listed.find((t) => t.Name === 'replicated-ssd')?.Properties).toEqual({
      replication_enabled: '<is> True',
      replication_type: '<in> async',
      volume_backend_name: 'pure',
    });
    await run(admin(), ['volume', 'type', 'delete', 'cli-type']);
    expect((await json<Row[]>(admin(), 'volume', 'type', 'list')).map((t) => t.Name)).not.toContain(
      'cli-type',
    );
  }, 300_000);

  it('manages group types from 3.11, groups from 3.13, and lists them as consistency groups', async () => {
    const below = await failure(
      admin(),
      'volume',
      'group',
      'type',
      'list',
      '--os-volume-api-version',
      '3.10',
    );
    expect(below.stderr).toContain('--os-volume-api-version 3.11 or greater is required');
    const types = await json<Row[]>(admin(), 'volume', 'group', 'type', 'list', ...VOLUME_311);
    expect(types.map((t) => t.Name)).toEqual(['default_group_type', 'consistency-group']);
    await run(admin(), ['volume', 'group', 'type', 'create', ...VOLUME_311, 'cli-group-type']);
    await run(admin(), [
      'volume',
      'group',
      'type',
      'set',
      ...VOLUME_311,
      '--property',
      'consistent_group_snapshot_enabled=<is> True',
      'cli-group-type',
    ]);
    const specs = async () =>
      (await json<Row[]>(admin(), 'volume', 'group', 'type', 'list', ...VOLUME_311)).find(
        (t) => t.Name === 'cli-group-type',
      )?.Properties;
    expect(await specs()).toEqual({ consistent_group_snapshot_enabled: '<is> True' });
    await run(admin(), ['volume', 'group', 'type', 'set', ...VOLUME_311, '--no-property', 'cli-group-type']);
    expect(await specs()).toEqual({});

    const tooEarly = await failure(
      tenant(),
      'volume',
      'group',
      'create',
      '--os-volume-api-version',
      '3.12',
      'consistency-group',
      'replicated-ssd',
    );
    expect(tooEarly.stderr).toContain('--os-volume-api-version 3.13 or greater is required');
    const group = await json(
      tenant(),
      'volume',
      'group',
      'create',
      ...VOLUME_313,
      '--name',
      'cli-group',
      'consistency-group',
      'replicated-ssd',
    );
    expect(group).toMatchObject({ Name: 'cli-group', 'Group Type': seed().groupTypes['consistency-group'] });
    const groups = await json<Row[]>(tenant(), 'volume', 'group', 'list', ...VOLUME_313);
    expect(groups).toEqual([{ ID: group.ID, Status: 'available', Name: 'cli-group' }]);
    // The deprecated consistency group API shows the same groups (Cinder still serves /consistencygroups).
    expect(await json<Row[]>(tenant(), 'consistency', 'group', 'list')).toEqual([
      { ID: group.ID, Status: 'available', Name: 'cli-group' },
    ]);
    expect(await json(tenant(), 'consistency', 'group', 'show', 'cli-group')).toMatchObject({
      id: group.ID,
      name: 'cli-group',
      status: 'available',
      volume_types: [seed().volumeTypes['replicated-ssd']],
    });
    await run(tenant(), ['volume', 'group', 'delete', ...VOLUME_313, 'cli-group']);
    expect(await json<Row[]>(tenant(), 'consistency', 'group', 'list')).toEqual([]);
    await run(admin(), ['volume', 'group', 'type', 'delete', ...VOLUME_311, 'cli-group-type']);
  }, 300_000);

  it('creates volumes (blank and from an image), sets one bootable, shows, lists and deletes them', async () => {
    const fromImage = await json(
      tenant(),
      'volume',
      'create',
      '--size',
      '1',
      '--image',
      seed().imageId,
      '--type',
      'replicated-ssd',
      'cli-boot',
    );
    const blank = await json(tenant(), 'volume', 'create', '--size', '2', 'cli-blank');
    const show = (name: string) => json(tenant(), 'volume', 'show', name);
    expect(await show('cli-boot')).toMatchObject({
      id: fromImage.id,
      status: 'available',
      bootable: 'true',
      type: 'replicated-ssd',
      size: 1,
    });
    expect(await show('cli-blank')).toMatchObject({ status: 'available', bootable: 'false', size: 2 });
    await run(tenant(), ['volume', 'set', '--bootable', 'cli-blank']);
    expect((await show('cli-blank')).bootable).toBe('true');
    await run(tenant(), ['volume', 'set', '--non-bootable', 'cli-blank']);
    expect((await show('cli-blank')).bootable).toBe('false');
    const listed = await json<Row[]>(tenant(), 'volume', 'list');
    expect(listed.map((v) => v.Name).sort()).toEqual(['cli-blank', 'cli-boot']);
    await run(tenant(), ['volume', 'delete', String(blank.id), String(fromImage.id)]);
    expect(await json<Row[]>(tenant(), 'volume', 'list')).toEqual([]);
  }, 300_000);

  it('creates servers from an image, from a volume and with --boot-from-volume; stops, starts, deletes them', async () => {
    const network = ['--network', seed().networkId];
    const fromImage = await json(
      tenant(),
      'server',
      'create',
      '--image',
      seed().imageId,
      '--flavor',
      'm1.tiny',
      ...network,
      '--wait',
      'cli-image-vm',
    );
    expect(fromImage).toMatchObject({ name: 'cli-image-vm', status: 'ACTIVE' });

    const bootVolume = await json(
      tenant(),
      'volume',
      'create',
      '--size',
      '1',
      '--image',
      seed().imageId,
      '--type',
      'replicated-ssd',
      'cli-vm-boot',
    );
    const fromVolume = await json(
      tenant(),
      'server',
      'create',
      '--volume',
      'cli-vm-boot',
      '--flavor',
      'm1.small',
      ...network,
      '--wait',
      'cli-volume-vm',
    );
    expect(fromVolume).toMatchObject({ status: 'ACTIVE', image: 'N/A (booted from volume)' });
    expect((await json(tenant(), 'volume', 'show', 'cli-vm-boot')).status).toBe('in-use');

    // Nova has Cinder create the root volume from the image (image -> volume block device mapping).
    const bfv = await json(
      tenant(),
      'server',
      'create',
      '--image',
      seed().imageId,
      '--boot-from-volume',
      '1',
      '--flavor',
      'm1.tiny',
      ...network,
      '--wait',
      'cli-bfv-vm',
    );
    expect(bfv).toMatchObject({ status: 'ACTIVE', image: 'N/A (booted from volume)' });
    const [root] = bfv.volumes_attached as Row[];
    expect(await json(tenant(), 'volume', 'show', String(root?.id))).toMatchObject({
      status: 'in-use',
      bootable: 'true',
      size: 1,
    });

    const servers = await json<Row[]>(tenant(), 'server', 'list');
    expect(servers.map((s) => [s.Name, s.Status]).sort()).toEqual([
      ['cli-bfv-vm', 'ACTIVE'],
      ['cli-image-vm', 'ACTIVE'],
      ['cli-volume-vm', 'ACTIVE'],
    ]);
    const status = async () => (await json(tenant(), 'server', 'show', 'cli-volume-vm')).status;
    await run(tenant(), ['server', 'stop', 'cli-volume-vm']);
    await expect.poll(status, { timeout: 10_000, interval: 200 }).toBe('SHUTOFF');
    const stopTwice = await failure(tenant(), 'server', 'stop', 'cli-volume-vm');
    expect(stopTwice.stderr).toContain(
      `Cannot 'stop' instance ${fromVolume.id} while it is in vm_state stopped (HTTP 409)`,
    );
    await run(tenant(), ['server', 'start', 'cli-volume-vm']);
    await expect.poll(status, { timeout: 10_000, interval: 200 }).toBe('ACTIVE');

    await run(tenant(), ['server', 'delete', '--wait', 'cli-image-vm', 'cli-volume-vm', 'cli-bfv-vm']);
    expect(await json<Row[]>(tenant(), 'server', 'list')).toEqual([]);
    // The boot volume the CLI gave stays (delete_on_termination false); Nova's own root volume too.
    expect((await json(tenant(), 'volume', 'show', String(bootVolume.id))).status).toBe('available');
    await run(tenant(), ['volume', 'delete', String(bootVolume.id), String(root?.id)]);
  }, 400_000);

  it('refuses to boot from a volume that is not bootable: non-zero exit and Nova’s message', async () => {
    const data = await json(tenant(), 'volume', 'create', '--size', '1', 'cli-data');
    const refused = await failure(
      tenant(),
      'server',
      'create',
      '--volume',
      'cli-data',
      '--flavor',
      'm1.tiny',
      '--network',
      seed().networkId,
      'cli-broken-vm',
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`Block Device ${data.id} is not bootable. (HTTP 400)`);
    expect(await json<Row[]>(tenant(), 'server', 'list')).toEqual([]);
    expect((await json(tenant(), 'volume', 'show', 'cli-data')).status).toBe('available');
    await run(tenant(), ['volume', 'delete', 'cli-data']);
  }, 300_000);
});

describe('the CLI requirement', () => {
  it('names the package to install', () => {
    expect(openstackCli.install).toBe('apt-get install -y python3-openstackclient');
  });
});
