import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedCloud, type SeededUser, type SimulatedCloud } from './index.js';

let cloud: SimulatedCloud;
let clockOffset = 0;

beforeAll(async () => {
  cloud = await createSimulatedCloud({ timing: { bootTimeMs: 100 }, now: () => Date.now() + clockOffset });
});

afterAll(async () => {
  await cloud.stop();
});

const seeded = () => {
  if (!cloud.seed) throw new Error('cloud not seeded');
  return cloud.seed;
};

async function login(user: SeededUser): Promise<string> {
  const response = await fetch(`${cloud.keystoneUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user.name, domain: { id: 'default' }, password: user.password } },
        },
        scope: { project: { name: user.projectName, domain: { name: 'Default' } } },
      },
    }),
  });
  expect(response.status).toBe(201);
  return response.headers.get('x-subject-token') ?? '';
}

async function call(
  path: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: unknown; text: string }> {
  const response = await fetch(cloud.url + path, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { 'X-Auth-Token': init.token } : {}),
      ...(init.body ? { 'Content-Type': 'application/json' } : {}),
      ...init.headers,
    },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

describe('Keystone', () => {
  it('issues a project token with roles, catalog and X-Subject-Token', async () => {
    const response = await call('/v3/auth/tokens', {
      method: 'POST',
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { id: seeded().admin.id, password: 'admin' } },
          },
          scope: { project: { id: seeded().admin.projectId } },
        },
      },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-subject-token')).toMatch(/^[\w-]{40,}$/);
    expect(response.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
    const { token } = response.json as {
      token: {
        roles: { name: string }[];
        catalog: { type: string; endpoints: { interface: string; region: string; url: string }[] }[];
      };
    };
    expect(token.roles.map((r) => r.name).sort()).toEqual(['admin', 'member', 'reader']);
    expect(token.catalog.map((s) => s.type).sort()).toEqual([
      'compute',
      'identity',
      'image',
      'network',
      'volumev3',
    ]);
    const volume = token.catalog.find((s) => s.type === 'volumev3');
    expect(volume?.endpoints.map((e) => e.interface).sort()).toEqual(['admin', 'internal', 'public']);
    expect(volume?.endpoints[0]).toMatchObject({
      region: 'RegionOne',
      url: `${cloud.url}/volume/v3/${seeded().admin.projectId}`,
    });
  });

  it('refuses a bad password with Keystone’s 401 body', async () => {
    const response = await call('/v3/auth/tokens', {
      method: 'POST',
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'x' } },
          },
        },
      },
    });
    expect(response.status).toBe(401);
    expect(response.json).toEqual({
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    });
  });

  it('refuses a scope the user has no role on', async () => {
    const response = await call('/v3/auth/tokens', {
      method: 'POST',
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { id: seeded().tenant.id, password: 'demo' } },
          },
          scope: { project: { id: seeded().admin.projectId } },
        },
      },
    });
    expect(response.status).toBe(401);
    // Keystone's generic answer: it does not say whether the project exists or the role is missing.
    expect(response.json).toEqual({
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    });
  });

  it('validates tokens and forgets them once expired', async () => {
    const token = await login(seeded().tenant);
    const valid = await call('/v3/auth/tokens', { token, headers: { 'X-Subject-Token': token } });
    expect(valid.status).toBe(200);
    expect(valid.headers.get('x-subject-token')).toBe(token);
    clockOffset = 3601_000;
    try {
      const expired = await call('/compute/v2.1/servers', { token });
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toBe(`Keystone uri="${cloud.keystoneUrl}"`);
    } finally {
      clockOffset = 0;
    }
  });

  it('lists projects, users and role assignments for admins only', async () => {
    const admin = await login(seeded().admin);
    const projects = await call('/v3/projects', { token: admin });
    expect((projects.json as { projects: { name: string }[] }).projects.map((p) => p.name).sort()).toEqual([
      'admin',
      'demo',
      'service',
    ]);
    const assignments = await call(`/v3/role_assignments?user.id=${seeded().service.id}&include_names`, {
      token: admin,
    });
    const names = (
      assignments.json as {
        role_assignments: { role: { name: string }; scope: { project: { name: string } } }[];
      }
    ).role_assignments.map((a) => `${a.role.name}@${a.scope.project.name}`);
    // The service user runs its own project and acts in the tenant's to recover its VMs there.
    expect(names.sort()).toEqual(['admin@demo', 'admin@service', 'service@service']);
    const member = await login(seeded().tenant);
    expect((await call('/v3/users', { token: member })).status).toBe(403);
  });
});

describe('service APIs', () => {
  it('answers without a token with 401 and across projects with 403', async () => {
    const missing = await call(`/volume/v3/${seeded().tenant.projectId}/volumes`);
    expect(missing.status).toBe(401);
    const member = await login(seeded().tenant);
    const other = await call(`/volume/v3/${seeded().admin.projectId}/volumes`, { token: member });
    expect(other.status).toBe(403);
    expect(other.json).toMatchObject({ forbidden: { code: 403 } });
    const admin = await login(seeded().admin);
    expect((await call(`/volume/v3/${seeded().tenant.projectId}/volumes`, { token: admin })).status).toBe(
      200,
    );
  });

  it('speaks each service’s error format', async () => {
    const token = await login(seeded().tenant);
    const missingId = '00000000-0000-0000-0000-000000000000';
    expect((await call(`/compute/v2.1/servers/${missingId}`, { token })).json).toEqual({
      itemNotFound: { code: 404, message: `Instance ${missingId} could not be found.` },
    });
    const cinder = await call(`/volume/v3/${seeded().tenant.projectId}/volumes`, {
      method: 'POST',
      token,
      body: { volume: { size: 0 } },
    });
    expect(cinder.status).toBe(400);
    expect(cinder.json).toMatchObject({ badRequest: { code: 400 } });
    expect((await call(`/network/v2.0/networks/${missingId}`, { token })).json).toEqual({
      NeutronError: {
        type: 'NetworkNotFound',
        message: `Network ${missingId} could not be found.`,
        detail: '',
      },
    });
    const glance = await call(`/image/v2/images/${missingId}`, { token });
    expect(glance.status).toBe(404);
    expect(glance.text).toContain(`No image found with ID ${missingId}`);
  });

  it('negotiates microversions like Nova and Cinder', async () => {
    const token = await login(seeded().tenant);
    const volumes = `/volume/v3/${seeded().tenant.projectId}/volumes`;
    const echoed = await call(volumes, { token, headers: { 'OpenStack-API-Version': 'volume 3.50' } });
    expect(echoed.headers.get('openstack-api-version')).toBe('volume 3.50');
    expect((await call(volumes, { token })).headers.get('openstack-api-version')).toBe('volume 3.0');
    const latest = await call('/compute/v2.1/servers', {
      token,
      headers: { 'X-OpenStack-Nova-API-Version': 'latest' },
    });
    expect(latest.headers.get('openstack-api-version')).toBe('compute 2.96');
    expect(latest.headers.get('x-openstack-nova-api-version')).toBe('2.96');
    const tooNew = await call(volumes, { token, headers: { 'OpenStack-API-Version': 'volume 4.0' } });
    expect(tooNew.status).toBe(406);
    const malformed = await call(volumes, { token, headers: { 'OpenStack-API-Version': 'volume three' } });
    expect(malformed.status).toBe(400);
  });

  it('injects faults for a number of calls and per-call latency', async () => {
    const token = await login(seeded().tenant);
    cloud.faults.set({ service: 'network', op: 'list_networks', error: 503, times: 2 });
    expect((await call('/network/v2.0/networks', { token })).json).toMatchObject({
      NeutronError: { type: 'HTTPServiceUnavailable' },
    });
    expect((await call('/network/v2.0/networks', { token })).status).toBe(503);
    expect((await call('/network/v2.0/networks', { token })).status).toBe(200);

    cloud.setTiming({ latencyMs: 80 });
    try {
      const started = performance.now();
      await call('/image/v2/images', { token });
      expect(performance.now() - started).toBeGreaterThanOrEqual(75);
    } finally {
      cloud.setTiming({ latencyMs: 0 });
    }
  });
});

describe('persistence', () => {
  it('keeps its state and its seed across a restart on the same SQLite file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloud-sim-'));
    try {
      const database = join(dir, 'cloud.sqlite');
      const first = await createSimulatedCloud({ database });
      const token = await fetch(`${first.keystoneUrl}/auth/tokens`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'demo' } },
            },
            scope: { project: { name: 'demo', domain: { name: 'Default' } } },
          },
        }),
      }).then((r) => r.headers.get('x-subject-token') ?? '');
      const projectId = first.seed?.tenant.projectId;
      const created = await fetch(`${first.url}/volume/v3/${projectId}/volumes`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Auth-Token': token },
        body: JSON.stringify({ volume: { size: 1, name: 'survivor' } }),
      });
      expect(created.status).toBe(202);
      await first.stop();

      const second = await createSimulatedCloud({ database });
      try {
        expect(second.seed).toEqual(first.seed);
        expect(second.store.list('project')).toHaveLength(3);
        // The token survives too: it is stored, not held in memory.
        const listed = await fetch(`${second.url}/volume/v3/${projectId}/volumes`, {
          headers: { 'X-Auth-Token': token },
        });
        const { volumes } = (await listed.json()) as { volumes: { name: string }[] };
        expect(volumes.map((v) => v.name)).toEqual(['survivor']);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
