/**
 * The site's auth path against a REAL Keystone (Debian's python3-keystone under gunicorn, SQLite, fernet
 * tokens), not the simulator: a real `protector-site` process validates real users' tokens with its
 * service user, maps Keystone's answers to UNAUTHENTICATED / FORBIDDEN, and stops accepting a revoked
 * token once `token_cache_time` has passed.
 *
 * Needs `apt-get install -y --no-install-recommends python3-keystone python3-gunicorn` (CI's .ci/run does)
 * and a built `dist/` (`npx tsc -p tsconfig.json`).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  needs,
  type RunningProcess,
  realKeystone,
  requirement,
  startProcess,
  startRealKeystone,
} from '@protector/test-kit';
import { afterAll, beforeAll, expect, it } from 'vitest';

const SITE_BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

/** The site service this suite starts; turbo builds it before the tests. */
const siteBuild = requirement(
  `the built protector-site (${SITE_BIN})`,
  existsSync(SITE_BIN),
  'npx turbo run build',
);

const SITE = 'site_a';
const ADMIN_PASSWORD = 'admin-secret';
const PROTECTOR_PASSWORD = 'protector-secret';
const DEMO_PASSWORD = 'demo-secret';

let workDir = '';
let keystone: RunningProcess | undefined;
let site: RunningProcess | undefined;
let keystoneUrl = '';
let siteUrl = '';
let adminToken = '';
/** Seconds from spawning start-keystone.sh to Keystone answering. */
let keystoneStartSeconds = 0;

/** One call to the real Keystone's REST API as the system-scoped admin. */
async function keystoneApi<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${keystoneUrl}${path}`, {
    method,
    headers: {
      'X-Auth-Token': adminToken,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
}

async function created<T>(what: string, call: Promise<{ status: number; body: T }>): Promise<T> {
  const { status, body } = await call;
  if (status !== 201)
    throw new Error(`Keystone refused to create ${what}: HTTP ${status} ${JSON.stringify(body)}`);
  return body;
}

/** A token from the real Keystone, scoped to a project (or the system). */
async function issueToken(user: string, password: string, scope: unknown): Promise<string> {
  const response = await fetch(`${keystoneUrl}/auth/tokens?nocatalog=1`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password } },
        },
        scope,
      },
    }),
  });
  if (response.status !== 201) {
    throw new Error(`Keystone refused a token for ${user}: HTTP ${response.status} ${await response.text()}`);
  }
  return response.headers.get('x-subject-token') ?? '';
}

const projectScope = (name: string) => ({ project: { name, domain: { id: 'default' } } });

/**
 * Registers Keystone's identity endpoints and creates the projects, users and role assignments the test
 * needs, over Keystone's REST API.
 */
async function seedKeystone(): Promise<void> {
  adminToken = await issueToken('admin', ADMIN_PASSWORD, { system: { all: true } });
  const roleId = async (name: string): Promise<string> => {
    const { body } = await keystoneApi<{ roles: { id: string }[] }>('GET', `/roles?name=${name}`);
    const found = body.roles[0]?.id;
    if (found) return found;
    return (
      await created(
        `role ${name}`,
        keystoneApi<{ role: { id: string } }>('POST', '/roles', { role: { name } }),
      )
    ).role.id;
  };
  const project = async (name: string) =>
    (
      await created(
        `project ${name}`,
        keystoneApi<{ project: { id: string } }>('POST', '/projects', {
          project: { name, domain_id: 'default', enabled: true },
        }),
      )
    ).project.id;
  const user = async (name: string, password: string, projectId: string) =>
    (
      await created(
        `user ${name}`,
        keystoneApi<{ user: { id: string } }>('POST', '/users', {
          user: { name, password, domain_id: 'default', default_project_id: projectId, enabled: true },
        }),
      )
    ).user.id;
  const grant = async (projectId: string, userId: string, role: string) => {
    const { status } = await keystoneApi(
      'PUT',
      `/projects/${projectId}/users/${userId}/roles/${await roleId(role)}`,
    );
    if (status !== 204) throw new Error(`Keystone refused to grant ${role}: HTTP ${status}`);
  };

  // Keystone's own catalog entry, now that the port it bound is known.
  const identity = await created(
    'the identity service',
    keystoneApi<{ service: { id: string } }>('POST', '/services', {
      service: { type: 'identity', name: 'keystone', enabled: true },
    }),
  );
  for (const iface of ['public', 'internal', 'admin']) {
    await created(
      `the ${iface} identity endpoint`,
      keystoneApi('POST', '/endpoints', {
        endpoint: {
          service_id: identity.service.id,
          interface: iface,
          url: keystoneUrl,
          region_id: 'RegionOne',
          enabled: true,
        },
      }),
    );
  }

  const service = await project('service');
  const demo = await project('demo');
  const protector = await user('protector', PROTECTOR_PASSWORD, service);
  const demoUser = await user('demo', DEMO_PASSWORD, demo);
  await grant(service, protector, 'admin');
  await grant(service, protector, 'service');
  await grant(demo, demoUser, 'member');
}

interface GraphQLAnswer {
  status: number;
  data: Record<string, Record<string, unknown> | null> | null;
  errors: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
}

async function graphql(query: string, token?: string): Promise<GraphQLAnswer> {
  const response = await fetch(siteUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { 'X-Auth-Token': token } : {}) },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as Partial<GraphQLAnswer>;
  return { status: response.status, data: body.data ?? null, errors: body.errors ?? [] };
}

const SITE_QUERY = `{ ${SITE} { key name version } }`;

needs(realKeystone, siteBuild).describe('protector-site against a real Keystone', () => {
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'protector-keystone-'));
    const started = Date.now();
    const real = await startRealKeystone({ workDir, adminPassword: ADMIN_PASSWORD, timeoutMs: 45_000 });
    keystone = real.process;
    keystoneUrl = real.url;
    keystoneStartSeconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `real Keystone answering after ${keystoneStartSeconds.toFixed(1)} s at ${keystoneUrl}\n`,
    );
    await seedKeystone();

    const mockDir = join(workDir, 'mock');
    await mkdir(mockDir);
    const configPath = join(workDir, 'protector.conf');
    await writeFile(
      configPath,
      `[DEFAULT]
site_name = ${SITE}
state_path = ${workDir}
log_dir = ${workDir}
use_simulated_cloud = False
use_mock_storage = True
mock_storage_dir = ${mockDir}
replication_monitor_interval = 60

[database]
connection = sqlite:///${workDir}/site.sqlite

[keystone_authtoken]
auth_url = ${keystoneUrl}
username = protector
password = ${PROTECTOR_PASSWORD}
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
interface = public
token_cache_time = 1

[api]
bind_host = 127.0.0.1
bind_port = 0
`,
    );
    // No PROTECTOR_* overrides from the caller's environment.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROTECTOR_')));
    site = await startProcess({
      command: process.execPath,
      args: [SITE_BIN, '--config', configPath],
      name: 'protector-site',
      env,
      ready: /protector-site \S+ ready at (\S+)/,
      timeoutMs: 20_000,
    });
    siteUrl = site.ready[1]!;
  }, 75_000);

  afterAll(async () => {
    await site?.stop();
    await keystone?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('starts with only Keystone behind it, authenticating its service user', async () => {
    expect(keystoneStartSeconds).toBeGreaterThan(0);
    const ready = await fetch(new URL('/readyz', siteUrl));
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
    expect(body.checks.cloud).toEqual({ ok: true });
    expect(ready.status).toBe(200);
  });

  it("answers a demo user's query with the token the real Keystone issued", async () => {
    const token = await issueToken('demo', DEMO_PASSWORD, projectScope('demo'));
    const answer = await graphql(SITE_QUERY, token);
    expect(answer.errors).toEqual([]);
    expect(answer.status).toBe(200);
    expect(answer.data?.[SITE]).toEqual({ key: SITE, name: SITE, version: expect.any(String) });

    const bearer = await fetch(siteUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: SITE_QUERY }),
    });
    expect(bearer.status).toBe(200);
    expect(((await bearer.json()) as { data: unknown }).data).toEqual(answer.data);
  });

  it('refuses a bogus token and a missing one with HTTP 401 UNAUTHENTICATED', async () => {
    for (const token of ['not-a-token', 'gAAAAABbogusbogusbogus', undefined]) {
      const answer = await graphql(SITE_QUERY, token);
      expect(answer.status).toBe(401);
      expect(answer.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(answer.data).toBeNull();
    }
  });

  it('refuses a token revoked in Keystone once token_cache_time has passed', async () => {
    const token = await issueToken('demo', DEMO_PASSWORD, projectScope('demo'));
    expect((await graphql(SITE_QUERY, token)).status).toBe(200);
    const revoke = await keystoneApi('DELETE', '/auth/tokens', undefined, { 'X-Subject-Token': token });
    expect(revoke.status).toBe(204);
    expect((await keystoneApi('GET', '/auth/tokens', undefined, { 'X-Subject-Token': token })).status).toBe(
      404,
    );
    const revokedAt = Date.now();
    let answer = await graphql(SITE_QUERY, token);
    while (answer.status === 200 && Date.now() - revokedAt < 10_000) {
      await sleep(200);
      answer = await graphql(SITE_QUERY, token);
    }
    expect(answer.status).toBe(401);
    expect(answer.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // token_cache_time = 1: refused within the 10 s the loop allows, not after the token's hour of life.
  });

  it('forbids a demo token to run a coordinator step or to read storage', async () => {
    const token = await issueToken('demo', DEMO_PASSWORD, projectScope('demo'));
    const step = await graphql(
      `mutation { ${SITE} { deleteTestNetwork(step: { operationId: "o", stepKey: "k" }, input: { protectionGroupId: "x", networkId: "y" }) { step { replayed } } } }`,
      token,
    );
    expect(step.errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(step.errors[0]?.message).toContain('service role');

    const storage = await graphql(`{ ${SITE} { key storage { driver } } }`, token);
    expect(storage.errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(storage.errors[0]?.path).toEqual([SITE, 'storage']);
    expect(storage.data?.[SITE]).toEqual({ key: SITE, storage: null });
  });

  it("lets the service user's token read storage (its admin and service roles come from Keystone)", async () => {
    const token = await issueToken('protector', PROTECTOR_PASSWORD, projectScope('service'));
    const storage = await graphql(`{ ${SITE} { storage { driver } } }`, token);
    expect(storage.errors).toEqual([]);
    expect(storage.data?.[SITE]).toEqual({ storage: { driver: 'MOCK' } });
  });
});
