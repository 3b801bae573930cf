/**
 * The simulated Keystone's identity API answers as a real one: one script of calls (create, show,
 * update and delete projects and users; grant, check and revoke roles; list role assignments; bad
 * bodies, duplicates, unknown ids, a member's refused calls; the tokens that follow) runs against the
 * simulator and against a REAL Keystone (Debian's python3-keystone under gunicorn, as
 * the test kit's startRealKeystone starts it), and every answer's status and body must be the
 * same, ids and base URLs aside. Keystone's 400 messages carry a dump of the failing JSON schema after
 * their first line; only that first line is compared (keystone-contract-kit.ts records and normalises).
 *
 * Needs `apt-get install -y --no-install-recommends python3-keystone python3-gunicorn` (CI's .ci/run does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs, type RunningProcess, realKeystone, startRealKeystone } from '@protector/test-kit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSimulatedCloud, type SimulatedCloud } from './index.js';
import { type Entry, first, id, normalize, Recorder, type Target } from './keystone-contract-kit.js';

/** The script: the same calls, in the same order, against either Keystone. */
async function script(target: Target): Promise<Entry[]> {
  const r = new Recorder(target);
  const admin = await r.login('admin token', 'admin', target.adminPassword, 'admin');

  const created = await r.call('create project', 'POST', '/projects', admin, {
    project: { name: 'tb', domain_id: 'default', description: 'Tenant B', enabled: true },
  });
  const P = id(created, 'project');
  await r.call('duplicate project', 'POST', '/projects', admin, {
    project: { name: 'tb', domain_id: 'default' },
  });
  await r.call('project with extras and tags', 'POST', '/projects', admin, {
    project: { name: 'tc', 'extra-one': 'x', tags: ['a', 'b'] },
  });
  for (const [what, body] of [
    ['no name', { project: {} }],
    ['no project', {}],
    ['name not a string', { project: { name: 123 } }],
    ['blank name', { project: { name: '  ' } }],
    ['enabled not a boolean', { project: { name: 'x', enabled: 'yes' } }],
    ['unknown domain', { project: { name: 'x', domain_id: 'nope' } }],
    ['unknown parent', { project: { name: 'x', parent_id: 'nope' } }],
    ['bad domain id', { project: { name: 'x', domain_id: 'a b' } }],
    ['description not a string', { project: { name: 'x', description: 5 } }],
    ['duplicate tags', { project: { name: 'x', tags: ['a', 'a'] } }],
    ['tag with a slash', { project: { name: 'x', tags: ['a/b'] } }],
    ['project not an object', { project: 'str' }],
    ['not JSON', 'notjson'],
  ] as const) {
    await r.call(`create project: ${what}`, 'POST', '/projects', admin, body);
  }

  const user = await r.call('create user', 'POST', '/users', admin, {
    user: { name: 'ub', password: 'pw', domain_id: 'default', default_project_id: P },
  });
  const U = id(user, 'user');
  await r.call('duplicate user', 'POST', '/users', admin, { user: { name: 'ub', password: 'pw' } });
  await r.call('user with extras, disabled', 'POST', '/users', admin, {
    user: { name: 'uc', description: 'd', email: 'e@x', enabled: false },
  });
  await r.call('user in an unknown domain', 'POST', '/users', admin, {
    user: { name: 'ud', domain_id: 'nope' },
  });
  await r.call('user with an unknown default project', 'POST', '/users', admin, {
    user: { name: 'ue', password: 'pw', default_project_id: 'nope' },
  });
  await r.call('user with a numeric password', 'POST', '/users', admin, {
    user: { name: 'uf', password: 5 },
  });
  await r.call('user without a name', 'POST', '/users', admin, { user: {} });
  await r.call('list users by name', 'GET', '/users?name=ub', admin);
  await r.call('list projects by name', 'GET', '/projects?name=tb', admin);
  const R = first(await r.call('list roles by name', 'GET', '/roles?name=member', admin), 'roles');
  await r.call('show role', 'GET', `/roles/${R}`, admin);
  await r.call('show unknown role', 'GET', '/roles/nope', admin);

  const grant = `/projects/${P}/users/${U}/roles/${R}`;
  await r.call('check absent grant (HEAD)', 'HEAD', grant, admin);
  await r.call('check absent grant (GET)', 'GET', grant, admin);
  await r.call('revoke absent grant', 'DELETE', grant, admin);
  await r.call('grant', 'PUT', grant, admin);
  await r.call('grant again', 'PUT', grant, admin);
  await r.call('check grant (HEAD)', 'HEAD', grant, admin);
  await r.call('check grant (GET)', 'GET', grant, admin);
  await r.call('grant an unknown role', 'PUT', `/projects/${P}/users/${U}/roles/nope`, admin);
  await r.call('grant to an unknown user', 'PUT', `/projects/${P}/users/nope/roles/${R}`, admin);
  await r.call('grant on an unknown project', 'PUT', `/projects/nope/users/${U}/roles/${R}`, admin);
  await r.call('revoke from an unknown user', 'DELETE', `/projects/${P}/users/nope/roles/${R}`, admin);
  await r.call(
    'assignments of user on project',
    'GET',
    `/role_assignments?user.id=${U}&scope.project.id=${P}`,
    admin,
  );
  await r.call('assignments with names', 'GET', `/role_assignments?user.id=${U}&include_names`, admin);
  await r.call('effective assignments', 'GET', `/role_assignments?user.id=${U}&effective`, admin);

  const ub = await r.login('new user, scoped', 'ub', 'pw', 'tb');
  await r.login('new user, default project', 'ub', 'pw');
  await r.call('list user ue', 'GET', '/users?name=ue', admin);
  await r.login('user with an unknown default project, unscoped', 'ue', 'pw');
  const asMember: [string, string, string, unknown?][] = [
    ['create project', 'POST', '/projects', { project: { name: 'zz' } }],
    ['create user', 'POST', '/users', { user: { name: 'zz' } }],
    ['update project', 'PATCH', `/projects/${P}`, { project: { description: 'x' } }],
    ['delete project', 'DELETE', `/projects/${P}`],
    ['update user', 'PATCH', `/users/${U}`, { user: { enabled: false } }],
    ['delete user', 'DELETE', `/users/${U}`],
    ['grant', 'PUT', grant],
    ['grant an unknown role', 'PUT', `/projects/${P}/users/${U}/roles/nope`],
    ['check grant', 'HEAD', grant],
    ['revoke grant', 'DELETE', grant],
    ['delete an unknown project', 'DELETE', '/projects/nope'],
    ['update an unknown user', 'PATCH', '/users/nope', { user: { enabled: false } }],
    ['list projects', 'GET', '/projects'],
    ['list role assignments', 'GET', `/role_assignments?user.id=${U}`],
    ['list roles', 'GET', '/roles'],
    ['show role', 'GET', `/roles/${R}`],
    ['show unknown role', 'GET', '/roles/nope'],
    ['show itself', 'GET', `/users/${U}`],
    ['show its project', 'GET', `/projects/${P}`],
    ['list its projects', 'GET', '/auth/projects'],
  ];
  for (const [what, method, path, body] of asMember) await r.call(`member: ${what}`, method, path, ub, body);

  await r.call('update project', 'PATCH', `/projects/${P}`, admin, {
    project: { description: 'new', foo: 'bar', tags: ['x'] },
  });
  await r.call('show updated project', 'GET', `/projects/${P}`, admin);
  for (const [what, body] of [
    ['empty', { project: {} }],
    ['no project', {}],
    ['rename to a taken name, id repeated', { project: { name: 'tc', id: P } }],
    ['change id', { project: { id: 'other' } }],
    ['change domain', { project: { domain_id: 'other' } }],
    ['change parent', { project: { parent_id: 'other' } }],
    ['make it a domain', { project: { is_domain: true } }],
    ['rename, padded', { project: { name: '  tb2  ' } }],
  ] as const) {
    await r.call(`update project: ${what}`, 'PATCH', `/projects/${P}`, admin, body);
  }
  await r.call('update unknown project', 'PATCH', '/projects/nope', admin, { project: { description: 'x' } });
  const C = id(
    await r.call('create child', 'POST', '/projects', admin, { project: { name: 'child', parent_id: P } }),
    'project',
  );
  await r.call('delete a parent', 'DELETE', `/projects/${P}`, admin);
  await r.call('disable a parent of an enabled child', 'PATCH', `/projects/${P}`, admin, {
    project: { enabled: false },
  });
  await r.call('disable the child', 'PATCH', `/projects/${C}`, admin, { project: { enabled: false } });
  await r.call('create below a disabled project', 'POST', '/projects', admin, {
    project: { name: 'gc', parent_id: C },
  });
  await r.call('enable the child', 'PATCH', `/projects/${C}`, admin, { project: { enabled: true } });
  let parent = C;
  for (const depth of [3, 4, 5, 6]) {
    const deeper = await r.call(`create at depth ${depth}`, 'POST', '/projects', admin, {
      project: { name: `depth-${depth}`, parent_id: parent },
    });
    parent = id(deeper, 'project') || parent;
  }
  await r.call('delete an unknown project', 'DELETE', '/projects/nope', admin);

  await r.call('rename user to a taken name', 'PATCH', `/users/${U}`, admin, { user: { name: 'uc' } });
  await r.call('rename user to a taken name in its domain', 'PATCH', `/users/${U}`, admin, {
    user: { name: 'uc', domain_id: 'default' },
  });
  await r.call('change user domain', 'PATCH', `/users/${U}`, admin, { user: { domain_id: 'x' } });
  await r.call('change user id', 'PATCH', `/users/${U}`, admin, { user: { id: 'x' } });
  await r.call('empty user update', 'PATCH', `/users/${U}`, admin, { user: {} });
  await r.call('update unknown user', 'PATCH', '/users/nope', admin, { user: { description: 'hi' } });
  await r.call('delete unknown user', 'DELETE', '/users/nope', admin);

  // Revocations: each ends the user's tokens (no token is issued after them: Keystone revokes by the second).
  await r.validates('new user token before revocation', admin, ub);
  await r.call('revoke grant', 'DELETE', grant, admin);
  await r.validates('new user token after revocation', admin, ub);
  await r.login('new user, scoped, without the role', 'ub', 'pw', 'tb2');
  await r.call('unset default project, add description', 'PATCH', `/users/${U}`, admin, {
    user: { description: 'hi', default_project_id: null },
  });
  await r.call('show updated user', 'GET', `/users/${U}`, admin);
  await r.call('disable user', 'PATCH', `/users/${U}`, admin, { user: { enabled: false } });
  await r.login('disabled user', 'ub', 'pw');
  await r.call('delete user', 'DELETE', `/users/${U}`, admin);
  await r.call('assignments of the deleted user', 'GET', `/role_assignments?user.id=${U}`, admin);
  await r.call('delete a project that has children', 'DELETE', `/projects/${C}`, admin);
  return r.entries;
}

let workDir = '';
let keystone: RunningProcess | undefined;
let cloud: SimulatedCloud | undefined;

needs(realKeystone).describe('the simulated Keystone against a real Keystone', () => {
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'cloud-sim-keystone-'));
    const started = await startRealKeystone({ workDir, adminPassword: 'admin-secret', timeoutMs: 60_000 });
    keystone = started.process;
    cloud = await createSimulatedCloud({ seed: { adminPassword: 'admin-secret' } });
  }, 130_000);

  afterAll(async () => {
    await cloud?.stop();
    await keystone?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('answers every call of the script with the real Keystone’s status and body', async () => {
    const realUrl = `${keystone?.ready[1]}/v3`;
    const real = normalize(
      await script({ keystoneUrl: realUrl, adminPassword: 'admin-secret' }),
      keystone?.ready[1] ?? '',
    );
    const simulated = normalize(
      await script({ keystoneUrl: cloud?.keystoneUrl ?? '', adminPassword: 'admin-secret' }),
      cloud?.url ?? '',
    );
    // The script does what it says on the real Keystone (not two identical failures).
    const status = (step: string) => real.find((e) => e.step === step)?.status;
    expect(
      [
        'admin token',
        'create project',
        'create user',
        'grant',
        'check grant (HEAD)',
        'member: create project',
      ].map(status),
    ).toEqual([201, 201, 201, 204, 204, 403]);
    expect(real.find((e) => e.step === 'new user, scoped')?.body).toEqual({
      project: 'tb',
      roles: ['member', 'reader'],
    });
    expect(simulated.map((e) => e.step)).toEqual(real.map((e) => e.step));
    for (const [i, want] of real.entries()) expect(simulated[i], want.step).toEqual(want);
  }, 120_000);
});
