/**
 * The simulated Keystone's identity write API, on the simulator alone: an admin creates a project, a
 * user and a role assignment and the new user's token carries the role; a member is refused with
 * 403; duplicates are 409, bad bodies 400, unknown ids 404; updates, revocations and deletions take
 * effect on tokens and listings. The real `openstack` CLI does the same against the simulator. That
 * each answer is the one a real Keystone gives is keystone-contract.test.ts's job.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { needs, requirement } from '@protector/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedCloud, type SimulatedCloud } from './index.js';

let cloud: SimulatedCloud;
let admin = '';
let member = '';

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: number; title: string; message: string } };
  headers: Headers;
}

async function keystone(method: string, path: string, token: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${cloud.keystoneUrl}${path}`, {
    method,
    headers: {
      ...(token ? { 'X-Auth-Token': token } : {}),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, headers: response.headers };
}

/** A password token for `user`, scoped to `project` by name (or as Keystone picks without a scope). */
async function authenticate(user: string, password: string, project?: string): Promise<Answer> {
  return keystone('POST', '/auth/tokens?nocatalog', '', {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: user, domain: { id: 'default' }, password } },
      },
      ...(project ? { scope: { project: { name: project, domain: { id: 'default' } } } } : {}),
    },
  });
}

async function token(user: string, password: string, project?: string): Promise<string> {
  const answer = await authenticate(user, password, project);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.headers.get('x-subject-token') ?? '';
}

const roleId = async (name: string) =>
  ((await keystone('GET', `/roles?name=${name}`, admin)).body.roles as { id: string }[])[0]?.id ?? '';

beforeAll(async () => {
  cloud = await createSimulatedCloud();
  admin = await token('admin', 'admin', 'admin');
  member = await token('demo', 'demo', 'demo');
});

afterAll(async () => {
  await cloud.stop();
});

describe('Keystone identity writes (simulator)', () => {
  it('creates a project, a user and a member grant; the user’s project token carries the role', async () => {
    const project = await keystone('POST', '/projects', admin, {
      project: { name: 'tenant-x', domain_id: 'default', description: 'Tenant X', enabled: true },
    });
    expect(project.status).toBe(201);
    const p = project.body.project as Record<string, unknown>;
    expect(p).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      name: 'tenant-x',
      domain_id: 'default',
      description: 'Tenant X',
      enabled: true,
      parent_id: 'default',
      is_domain: false,
      tags: [],
      options: {},
      links: { self: `${cloud.keystoneUrl}/projects/${p.id}` },
    });

    const user = await keystone('POST', '/users', admin, {
      user: { name: 'user-x', password: 'secret-x', domain_id: 'default', default_project_id: p.id },
    });
    expect(user.status).toBe(201);
    const u = user.body.user as Record<string, unknown>;
    expect(u).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      name: 'user-x',
      domain_id: 'default',
      enabled: true,
      default_project_id: p.id,
      password_expires_at: null,
      options: {},
      links: { self: `${cloud.keystoneUrl}/users/${u.id}` },
    });
    // Stored hashed, never in clear, never shown.
    expect(JSON.stringify(cloud.store.get('user', String(u.id)))).not.toContain('secret-x');

    const grant = `/projects/${p.id}/users/${u.id}/roles/${await roleId('member')}`;
    expect((await keystone('HEAD', grant, admin)).status).toBe(404);
    expect((await keystone('PUT', grant, admin)).status).toBe(204);
    expect((await keystone('PUT', grant, admin)).status).toBe(204);
    expect((await keystone('HEAD', grant, admin)).status).toBe(204);

    const assignments = await keystone('GET', `/role_assignments?user.id=${u.id}&include_names`, admin);
    expect(assignments.body.role_assignments).toEqual([
      {
        links: { assignment: `${cloud.keystoneUrl}${grant}` },
        scope: { project: { id: p.id, name: 'tenant-x', domain: { id: 'default', name: 'Default' } } },
        user: { id: u.id, name: 'user-x', domain: { id: 'default', name: 'Default' } },
        role: { id: await roleId('member'), name: 'member' },
      },
    ]);

    for (const scope of ['tenant-x', undefined]) {
      // Scoped by name, and by the default project when no scope is asked for.
      const issued = await authenticate('user-x', 'secret-x', scope);
      expect(issued.status).toBe(201);
      const t = issued.body.token as { project: { id: string }; roles: { name: string }[] };
      expect(t.project.id).toBe(p.id);
      expect(t.roles.map((r) => r.name).sort()).toEqual(['member', 'reader']);
    }
  });

  it('refuses a member every write with Keystone’s 403, and unknown ids of a grant with 404 first', async () => {
    const demo = cloud.seed?.tenant;
    const role = await roleId('member');
    const grant = `/projects/${demo?.projectId}/users/${demo?.id}/roles/${role}`;
    const refused: [string, string, string, unknown?][] = [
      ['POST', '/projects', 'create_project', { project: { name: 'nope' } }],
      ['PATCH', `/projects/${demo?.projectId}`, 'update_project', { project: { description: 'x' } }],
      ['DELETE', `/projects/${demo?.projectId}`, 'delete_project'],
      ['POST', '/users', 'create_user', { user: { name: 'nope' } }],
      ['PATCH', `/users/${demo?.id}`, 'update_user', { user: { enabled: false } }],
      ['DELETE', `/users/${demo?.id}`, 'delete_user'],
      ['PUT', grant, 'create_grant'],
      ['DELETE', grant, 'revoke_grant'],
      ['GET', '/roles', 'list_roles'],
      ['GET', `/role_assignments?user.id=${demo?.id}`, 'list_role_assignments'],
    ];
    for (const [method, path, action, body] of refused) {
      const answer = await keystone(method, path, member, body);
      expect({ method, path, status: answer.status, body: answer.body }).toEqual({
        method,
        path,
        status: 403,
        body: {
          error: {
            code: 403,
            title: 'Forbidden',
            message: `You are not authorized to perform the requested action: identity:${action}.`,
          },
        },
      });
    }
    expect((await keystone('HEAD', grant, member)).status).toBe(403);
    const unknownRole = await keystone(
      'PUT',
      `/projects/${demo?.projectId}/users/${demo?.id}/roles/nope`,
      member,
    );
    expect(unknownRole.status).toBe(404);
    expect(unknownRole.body.error?.message).toBe('Could not find role: nope.');
    // Nothing changed.
    expect(cloud.store.list<{ id: string; name: string }>('project', (p) => p.name === 'nope')).toEqual([]);
  });

  it('answers a duplicate name in a domain with 409, a bad body with 400, an unknown id with 404', async () => {
    const first = await keystone('POST', '/projects', admin, { project: { name: 'dup-p' } });
    expect(first.status).toBe(201);
    const again = await keystone('POST', '/projects', admin, { project: { name: ' dup-p ' } });
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual({
      code: 409,
      title: 'Conflict',
      message: expect.stringMatching(
        /^Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is dup-p, project id [0-9a-f]{32}\.$/,
      ),
    });
    expect((await keystone('POST', '/users', admin, { user: { name: 'dup-u' } })).status).toBe(201);
    expect((await keystone('POST', '/users', admin, { user: { name: 'dup-u' } })).body.error).toEqual({
      code: 409,
      title: 'Conflict',
      message:
        'Conflict occurred attempting to store user - Duplicate entry found with name dup-u at domain ID default.',
    });

    const bad: [string, unknown, string][] = [
      ['/projects', { project: {} }, "'name' is a required property"],
      ['/projects', {}, "'name' is a required property"],
      [
        '/projects',
        { project: { name: 123 } },
        "Invalid input for field 'name': 123 is not of type 'string'",
      ],
      [
        '/projects',
        { project: { name: '  ' } },
        "Invalid input for field 'name': '  ' does not match '[\\\\S]+'",
      ],
      [
        '/projects',
        { project: { name: 'x', enabled: 'yes' } },
        "Invalid input for field 'enabled': 'yes' is not of type 'boolean'",
      ],
      [
        '/projects',
        { project: { name: 'x', tags: ['a/b'] } },
        "Invalid input for field 'tags/0': 'a/b' does not match '^[^,/]*$'",
      ],
      ['/projects', { project: { name: 'x', domain_id: 'nope' } }, 'Could not find domain: nope.'],
      ['/projects', { project: { name: 'x', parent_id: 'nope' } }, 'Could not find project: nope.'],
      [
        '/users',
        { user: { name: 'x', password: 5 } },
        "Invalid input for field 'password': 5 is not of type 'string', 'null'",
      ],
      [
        '/projects',
        'not json',
        'Expecting to find valid JSON in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
      ],
    ];
    for (const [path, body, message] of bad) {
      const answer = await keystone('POST', path, admin, body);
      expect({ body, answer: answer.body }).toEqual({
        body,
        answer: { error: { code: 400, title: 'Bad Request', message } },
      });
    }

    const missing = '0123456789abcdef0123456789abcdef';
    const role = await roleId('member');
    const tenant = cloud.seed?.tenant;
    const unknown: [string, string, unknown, string][] = [
      ['PATCH', `/projects/${missing}`, { project: { enabled: true } }, `project: ${missing}`],
      ['DELETE', `/projects/${missing}`, undefined, `project: ${missing}`],
      ['PATCH', `/users/${missing}`, { user: { enabled: true } }, `user: ${missing}`],
      ['DELETE', `/users/${missing}`, undefined, `user: ${missing}`],
      ['PUT', `/projects/${missing}/users/${tenant?.id}/roles/${role}`, undefined, `project: ${missing}`],
      ['PUT', `/projects/${tenant?.projectId}/users/${missing}/roles/${role}`, undefined, `user: ${missing}`],
      ['GET', `/roles/${missing}`, undefined, `role: ${missing}`],
    ];
    for (const [method, path, body, what] of unknown) {
      const answer = await keystone(method, path, admin, body);
      expect({ method, path, answer: answer.body }).toEqual({
        method,
        path,
        answer: { error: { code: 404, title: 'Not Found', message: `Could not find ${what}.` } },
      });
    }
  });

  it('updates and deletes; a revoked grant, a disabled user or a deleted project ends their tokens', async () => {
    const p = (await keystone('POST', '/projects', admin, { project: { name: 'life-p' } })).body.project as {
      id: string;
    };
    const u = (
      await keystone('POST', '/users', admin, {
        user: { name: 'life-u', password: 'pw', default_project_id: p.id },
      })
    ).body.user as { id: string };
    const grant = `/projects/${p.id}/users/${u.id}/roles/${await roleId('member')}`;
    expect((await keystone('PUT', grant, admin)).status).toBe(204);

    const patched = await keystone('PATCH', `/projects/${p.id}`, admin, {
      project: { description: 'now', tags: ['t'], team: 'dr' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.project).toMatchObject({
      description: 'now',
      tags: ['t'],
      team: 'dr',
      extra: { team: 'dr' },
    });
    expect((await keystone('GET', `/projects/${p.id}`, admin)).body.project).toMatchObject({
      team: 'dr',
      tags: ['t'],
    });
    expect((await keystone('GET', `/projects/${p.id}`, admin)).body.project).not.toHaveProperty('extra');
    const renamed = await keystone('PATCH', `/users/${u.id}`, admin, {
      user: { name: 'life-u2', description: 'renamed' },
    });
    expect(renamed.body.user).toMatchObject({ name: 'life-u2', description: 'renamed' });

    // Revoking the grant ends the user's token on that project; a new one is refused.
    const t1 = await token('life-u2', 'pw', 'life-p');
    expect((await keystone('GET', '/users/' + u.id, t1)).status).toBe(200);
    expect((await keystone('DELETE', grant, admin)).status).toBe(204);
    expect((await keystone('DELETE', grant, admin)).status).toBe(404);
    expect((await keystone('GET', '/users/' + u.id, t1)).status).toBe(401);
    expect((await authenticate('life-u2', 'pw', 'life-p')).status).toBe(401);
    // Without a role on its default project the user still gets an unscoped token, as from Keystone.
    const unscoped = await authenticate('life-u2', 'pw');
    expect(unscoped.status).toBe(201);
    expect(unscoped.body.token).not.toHaveProperty('project');

    expect((await keystone('PUT', grant, admin)).status).toBe(204);
    const t2 = await token('life-u2', 'pw', 'life-p');
    expect((await keystone('PATCH', `/users/${u.id}`, admin, { user: { enabled: false } })).status).toBe(200);
    expect((await keystone('GET', '/users/' + u.id, t2)).status).toBe(401);
    expect((await authenticate('life-u2', 'pw', 'life-p')).status).toBe(401);
    expect(
      (await keystone('PATCH', `/users/${u.id}`, admin, { user: { enabled: true, password: 'pw2' } })).status,
    ).toBe(200);
    expect((await authenticate('life-u2', 'pw', 'life-p')).status).toBe(401);
    const t3 = await token('life-u2', 'pw2', 'life-p');

    // A child makes the project a non-leaf: not deletable, not disablable while the child is enabled.
    const child = (
      await keystone('POST', '/projects', admin, { project: { name: 'life-c', parent_id: p.id } })
    ).body.project as { id: string; parent_id: string };
    expect(child.parent_id).toBe(p.id);
    expect((await keystone('DELETE', `/projects/${p.id}`, admin)).status).toBe(403);
    expect(
      (await keystone('PATCH', `/projects/${p.id}`, admin, { project: { enabled: false } })).status,
    ).toBe(403);
    expect((await keystone('DELETE', `/projects/${child.id}`, admin)).status).toBe(204);
    expect((await keystone('DELETE', `/projects/${p.id}`, admin)).status).toBe(204);
    expect((await keystone('GET', '/users/' + u.id, t3)).status).toBe(401);
    expect((await keystone('GET', `/projects/${p.id}`, admin)).status).toBe(404);
    expect((await keystone('GET', `/role_assignments?user.id=${u.id}`, admin)).body.role_assignments).toEqual(
      [],
    );

    expect((await keystone('DELETE', `/users/${u.id}`, admin)).status).toBe(204);
    expect((await keystone('GET', `/users/${u.id}`, admin)).status).toBe(404);
    expect((await authenticate('life-u2', 'pw2')).status).toBe(401);
  });
});

const openstackCli = requirement(
  'the openstack CLI (/usr/bin/openstack)',
  existsSync('/usr/bin/openstack'),
  'apt-get install -y python3-openstackclient',
);

needs(openstackCli).describe('python-openstackclient creates identities in the simulator', () => {
  it('openstack project create, user create --project --password, role add --project --user member', async () => {
    const env = (user: string, password: string, project: string) => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: tmpdir(),
      OS_AUTH_URL: cloud.keystoneUrl,
      OS_IDENTITY_API_VERSION: '3',
      OS_USERNAME: user,
      OS_PASSWORD: password,
      OS_PROJECT_NAME: project,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'RegionOne',
    });
    const openstack = async (as: ReturnType<typeof env>, ...args: string[]) =>
      (await promisify(execFile)('/usr/bin/openstack', args, { env: as })).stdout;
    const asAdmin = env('admin', 'admin', 'admin');

    const project = JSON.parse(
      await openstack(
        asAdmin,
        'project',
        'create',
        '--description',
        'made by the CLI',
        'cli-tenant',
        '-f',
        'json',
      ),
    ) as Record<string, unknown>;
    expect(project).toMatchObject({
      name: 'cli-tenant',
      domain_id: 'default',
      enabled: true,
      is_domain: false,
    });
    const user = JSON.parse(
      await openstack(
        asAdmin,
        'user',
        'create',
        '--project',
        'cli-tenant',
        '--password',
        'cli-secret',
        'cli-user',
        '-f',
        'json',
      ),
    ) as Record<string, unknown>;
    expect(user).toMatchObject({ name: 'cli-user', default_project_id: project.id, enabled: true });
    expect(
      await openstack(asAdmin, 'role', 'add', '--project', 'cli-tenant', '--user', 'cli-user', 'member'),
    ).toBe('');

    const assignments = JSON.parse(
      await openstack(
        asAdmin,
        'role',
        'assignment',
        'list',
        '--user',
        'cli-user',
        '--project',
        'cli-tenant',
        '--names',
        '-f',
        'json',
      ),
    ) as { Role: string; User: string; Project: string }[];
    expect(assignments).toEqual([
      expect.objectContaining({ Role: 'member', User: 'cli-user@Default', Project: 'cli-tenant@Default' }),
    ]);

    // The new user logs in with the CLI; the token it gets carries the role on the project.
    const issued = JSON.parse(
      await openstack(env('cli-user', 'cli-secret', 'cli-tenant'), 'token', 'issue', '-f', 'json'),
    ) as { id: string; project_id: string; user_id: string };
    expect(issued).toMatchObject({ project_id: project.id, user_id: user.id });
    const check = await fetch(`${cloud.keystoneUrl}/auth/tokens?nocatalog`, {
      headers: { 'X-Auth-Token': admin, 'X-Subject-Token': issued.id },
    });
    const body = (await check.json()) as { token: { roles: { name: string }[] } };
    expect(body.token.roles.map((r) => r.name).sort()).toEqual(['member', 'reader']);
  }, 90_000);
});
