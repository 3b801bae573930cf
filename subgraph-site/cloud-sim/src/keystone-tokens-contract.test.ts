/**
 * The simulated Keystone's tokens, service catalog and application credentials answer as a real
 * Keystone's: one script (password auth unscoped, scoped by project name or id, by domain or system,
 * and refused; validate, check, revoke and rescope tokens; the catalog, services, endpoints and
 * regions; application credentials created, used, listed and deleted; the project and user listings
 * the `openstack` CLI reads) runs against the simulator and against a REAL Keystone (Debian's
 * python3-keystone under gunicorn, as the test kit's startRealKeystone starts it), and every answer's
 * status, body and X-Subject-Token must be the same, ids, tokens, secrets, times and base URLs aside
 * (keystone-contract-kit.ts records and normalises).
 *
 * The real Keystone first gets the simulator's seed (its roles, projects, users, grants, and its
 * catalog's services and endpoints, at the real Keystone's own base URL), so that both hold the same.
 * Orders Keystone leaves to Python sets and to its SQL backend are sorted before comparing
 * (sortUnordered).
 *
 * Needs `apt-get install -y --no-install-recommends python3-keystone python3-gunicorn` (CI's .ci/run does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { needs, type RunningProcess, realKeystone, startRealKeystone } from '@protector/test-kit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSimulatedCloud, type SimulatedCloud } from './index.js';
import {
  type Entry,
  first,
  id,
  normalize,
  passwordAuth,
  Recorder,
  type Target,
} from './keystone-contract-kit.js';
import type { AssignmentDoc, CatalogServiceDoc, ProjectDoc, RoleDoc, UserDoc } from './keystone-model.js';

const ADMIN_PASSWORD = 'admin-secret';

/** A call that must succeed (the seeding of the real Keystone). */
async function must(
  url: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(token ? { 'X-Auth-Token': token } : {}),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * Gives the real Keystone the simulator's seed: its roles, projects, users (with the seeded passwords
 * and default projects: the bootstrap admin has none, the seeded one has `admin`), grants, and its
 * catalog's services with a public, internal and admin endpoint each, at the real Keystone's base URL.
 * `keystone-manage bootstrap` also grants the admin the admin role on the system; the simulator has no
 * system (or domain) role assignments, so that grant is revoked, and both answer a system-scope
 * request as Keystone does for a user without a system role (401).
 */
async function mirrorSeed(url: string, base: string, cloud: SimulatedCloud): Promise<void> {
  const seed = cloud.seed;
  if (!seed) throw new Error('the simulator is not seeded');
  const passwords = new Map([seed.admin, seed.service, seed.tenant].map((u) => [u.name, u.password]));
  const login = await fetch(`${url}/auth/tokens?nocatalog`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(passwordAuth('admin', ADMIN_PASSWORD, 'admin')),
  });
  await login.body?.cancel();
  const admin = login.headers.get('x-subject-token') ?? '';
  const realId = async (collection: string, name: string) =>
    (
      (await must(url, 'GET', `/${collection}?name=${encodeURIComponent(name)}`, admin))[collection] as {
        id: string;
      }[]
    )[0]?.id;
  const store = cloud.store;

  const roles = new Map<string, string>();
  for (const role of store.list<RoleDoc>('role')) {
    const existing = await realId('roles', role.name);
    roles.set(
      role.id,
      existing ??
        ((await must(url, 'POST', '/roles', admin, { role: { name: role.name } })).role as { id: string }).id,
    );
  }
  const projects = new Map<string, string>();
  for (const project of store.list<ProjectDoc>('project')) {
    const existing = await realId('projects', project.name);
    const body = { name: project.name, description: project.description, domain_id: project.domain_id };
    projects.set(
      project.id,
      existing ??
        ((await must(url, 'POST', '/projects', admin, { project: body })).project as { id: string }).id,
    );
  }
  const users = new Map<string, string>();
  for (const user of store.list<UserDoc>('user')) {
    const existing = await realId('users', user.name);
    const defaultProject = user.default_project_id ? projects.get(user.default_project_id) : undefined;
    if (existing) {
      await must(url, 'PATCH', `/users/${existing}`, admin, {
        user: { default_project_id: defaultProject ?? null },
      });
      users.set(user.id, existing);
    } else {
      const body = {
        name: user.name,
        domain_id: user.domain_id,
        password: passwords.get(user.name),
        ...(defaultProject ? { default_project_id: defaultProject } : {}),
      };
      users.set(
        user.id,
        ((await must(url, 'POST', '/users', admin, { user: body })).user as { id: string }).id,
      );
    }
  }
  for (const a of store.list<AssignmentDoc>('assignment')) {
    await must(
      url,
      'PUT',
      `/projects/${projects.get(a.project_id)}/users/${users.get(a.user_id)}/roles/${roles.get(a.role_id)}`,
      admin,
    );
  }
  const adminId = (await realId('users', 'admin')) ?? '';
  const adminRole = (await realId('roles', 'admin')) ?? '';
  await must(url, 'DELETE', `/system/users/${adminId}/roles/${adminRole}`, admin);

  for (const service of store.list<CatalogServiceDoc>('catalog_service')) {
    const created = await must(url, 'POST', '/services', admin, {
      service: { type: service.type, name: service.name },
    });
    const serviceId = (created.service as { id: string }).id;
    for (const iface of ['public', 'internal', 'admin']) {
      await must(url, 'POST', '/endpoints', admin, {
        endpoint: {
          service_id: serviceId,
          interface: iface,
          url: base + service.path,
          region_id: cloud.region,
        },
      });
    }
  }
}

/**
 * A token answer's `expires_at - issued_at` in seconds (a time without a zone read as UTC, as
 * Keystone writes it).
 */
function lifetime(e: Entry): number | null {
  const token = (e.body as { token?: { issued_at: string; expires_at: string } } | null)?.token;
  const utc = (t: string) => Date.parse(/Z$/.test(t) ? t : `${t}Z`);
  return token ? (utc(token.expires_at) - utc(token.issued_at)) / 1000 : null;
}

/**
 * Orders Keystone leaves unspecified, made the same before ids are numbered: a token's and an
 * application credential's roles and a token's methods come from Python sets, whose order changes
 * with each process's string-hash seed; listings come in whatever order the SQL backend returns
 * (SQLite: insertion order, or name order when an index serves a filter; MySQL: primary-key order,
 * i.e. by random id). Each such array is sorted (by name, type, interface, URL).
 */
const LISTS = new Set([
  'roles',
  'projects',
  'users',
  'services',
  'endpoints',
  'regions',
  'domains',
  'catalog',
  'application_credentials',
]);
function sortUnordered(value: unknown): void {
  if (Array.isArray(value)) value.forEach(sortUnordered);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      sortUnordered(v);
      if (!Array.isArray(v)) continue;
      if (key === 'methods') v.sort();
      else if (LISTS.has(key)) {
        const sortKey = (item: Record<string, unknown>) =>
          [item['name'], item['type'], item['url'], item['interface'], item['id']].map(String).join(' ');
        v.sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
      }
    }
  }
}

/** The script: the same calls, in the same order, against either Keystone. */
async function script(target: Target, seed: { service: string; servicePassword: string }): Promise<Recorder> {
  const r = new Recorder(target);
  const auth = (
    user: Record<string, unknown>,
    scope?: unknown,
    methods: string[] = ['password'],
  ): Record<string, unknown> => ({
    auth: {
      identity: { methods, password: { user } },
      ...(scope === undefined ? {} : { scope }),
    },
  });
  const byName = (name: string, password: string) => ({ name, domain: { id: 'default' }, password });
  const adminUser = byName('admin', target.adminPassword);
  const project = (name: string) => ({ project: { name, domain: { id: 'default' } } });

  // ---- password authentication ----
  const admin = await r.authenticate(
    'admin, scoped by project name and domain id',
    auth(adminUser, project('admin')),
  );
  const adminToken = r.entries.at(-1) as Entry;
  r.note('admin token lifetime, in minutes', Math.round((lifetime(adminToken) ?? 0) / 60));
  const adminProject = (adminToken.body as { token: { project: { id: string } } }).token.project.id;
  const adminId = (adminToken.body as { token: { user: { id: string } } }).token.user.id;
  await r.authenticate(
    'admin, scoped by project name and domain name',
    auth(adminUser, { project: { name: 'admin', domain: { name: 'Default' } } }),
    '?nocatalog',
  );
  await r.authenticate(
    'admin, scoped by project id',
    auth(adminUser, { project: { id: adminProject } }),
    '?nocatalog',
  );
  await r.authenticate(
    'admin by user id',
    auth({ id: adminId, password: target.adminPassword }, project('admin')),
    '?nocatalog',
  );
  await r.authenticate('admin, its default project', auth(adminUser), '?nocatalog=1');
  await r.authenticate('admin, explicitly unscoped', auth(adminUser, 'unscoped'));
  await r.authenticate(
    'admin, scoped to the default domain by id',
    auth(adminUser, { domain: { id: 'default' } }),
  );
  await r.authenticate(
    'admin, scoped to the default domain by name',
    auth(adminUser, { domain: { name: 'Default' } }),
  );
  await r.authenticate('admin, scoped to the system', auth(adminUser, { system: { all: true } }));
  await r.authenticate(
    'admin, scoped to a project and a domain',
    auth(adminUser, { ...project('admin'), domain: { id: 'default' } }),
  );
  await r.authenticate('admin, scoped to an unknown domain', auth(adminUser, { domain: { id: 'nope' } }));

  const tk = id(
    await r.call('create project tk', 'POST', '/projects', admin, { project: { name: 'tk' } }),
    'project',
  );
  const tx = id(
    await r.call('create project tx', 'POST', '/projects', admin, { project: { name: 'tx' } }),
    'project',
  );
  const tm = id(
    await r.call('create project tm', 'POST', '/projects', admin, { project: { name: 'tm' } }),
    'project',
  );
  const uk = id(
    await r.call('create user uk', 'POST', '/users', admin, { user: { name: 'uk', password: 'pw' } }),
    'user',
  );
  await r.call('create user un', 'POST', '/users', admin, { user: { name: 'un', password: 'pw' } });
  await r.call('create user ud, disabled', 'POST', '/users', admin, {
    user: { name: 'ud', password: 'pw', enabled: false },
  });
  const member = first(await r.call('role member', 'GET', '/roles?name=member', admin), 'roles');
  const reader = first(await r.call('role reader', 'GET', '/roles?name=reader', admin), 'roles');
  await r.call('grant uk member on tk', 'PUT', `/projects/${tk}/users/${uk}/roles/${member}`, admin);
  await r.call('grant uk member on tx', 'PUT', `/projects/${tx}/users/${uk}/roles/${member}`, admin);
  await r.call('grant uk reader on tm', 'PUT', `/projects/${tm}/users/${uk}/roles/${reader}`, admin);
  await r.call('disable tx', 'PATCH', `/projects/${tx}`, admin, { project: { enabled: false } });

  const ukUnscoped = await r.authenticate('uk, unscoped', auth(byName('uk', 'pw')));
  await r.authenticate('uk, unscoped, nocatalog', auth(byName('uk', 'pw')), '?nocatalog');
  const ukScoped = await r.authenticate('uk, scoped to tk', auth(byName('uk', 'pw'), project('tk')));
  await r.authenticate('uk, wrong password', auth(byName('uk', 'nope')));
  await r.authenticate('unknown user name', auth(byName('nobody', 'pw')));
  await r.authenticate('unknown user id', auth({ id: 'nope', password: 'pw' }));
  await r.authenticate(
    'user in an unknown domain',
    auth({ name: 'uk', domain: { id: 'nope' }, password: 'pw' }),
  );
  await r.authenticate('disabled user', auth(byName('ud', 'pw')));
  await r.authenticate('uk, scoped to a disabled project', auth(byName('uk', 'pw'), project('tx')));
  await r.authenticate('un, scoped to a project it has no role on', auth(byName('un', 'pw'), project('tk')));
  await r.authenticate('uk, scoped to an unknown project name', auth(byName('uk', 'pw'), project('nope')));
  await r.authenticate(
    'uk, scoped to an unknown project id',
    auth(byName('uk', 'pw'), { project: { id: 'nope' } }),
  );
  await r.authenticate('user name without a domain', auth({ name: 'uk', password: 'pw' }));
  await r.authenticate(
    'project name without a domain',
    auth(byName('uk', 'pw'), { project: { name: 'tk' } }),
  );
  await r.authenticate('no password', auth({ name: 'uk', domain: { id: 'default' } }));
  await r.authenticate('password not a string', auth(byName('uk', 5 as unknown as string)));
  await r.authenticate('user without id or name', auth({ password: 'pw' }));
  await r.authenticate('user domain without id or name', auth({ name: 'uk', domain: {}, password: 'pw' }));
  await r.authenticate('no methods', auth(byName('uk', 'pw'), undefined, []));
  await r.authenticate('method without its payload', auth(byName('uk', 'pw'), undefined, ['totp']));
  await r.authenticate('unsupported method', {
    auth: { identity: { methods: ['totp'], totp: { user: { id: 'x', passcode: '1' } } } },
  });
  await r.authenticate('methods not a list', { auth: { identity: { methods: 'password' } } });
  await r.authenticate('empty scope', auth(byName('uk', 'pw'), {}));
  await r.authenticate('scope a number', auth(byName('uk', 'pw'), 5));
  await r.authenticate('scope to a project without id or name', auth(byName('uk', 'pw'), { project: {} }));
  await r.authenticate('scope to a trust', auth(byName('uk', 'pw'), { 'OS-TRUST:trust': { id: 'nope' } }));
  await r.authenticate('no identity', { auth: {} });
  await r.authenticate('no auth', {});
  await r.authenticate('not JSON', 'notjson');

  // ---- validate, check, revoke ----
  const subject = (token: string) => ({ headers: { 'X-Subject-Token': token }, keep: ['x-subject-token'] });
  await r.call('validate a scoped token', 'GET', '/auth/tokens', admin, undefined, subject(ukScoped));
  await r.call('validate, nocatalog', 'GET', '/auth/tokens?nocatalog', admin, undefined, subject(ukScoped));
  await r.call('validate an unscoped token', 'GET', '/auth/tokens', admin, undefined, subject(ukUnscoped));
  await r.call('check a token', 'HEAD', '/auth/tokens', admin, undefined, subject(ukScoped));
  await r.call(
    'validate its own token',
    'GET',
    '/auth/tokens?nocatalog',
    ukScoped,
    undefined,
    subject(ukScoped),
  );
  await r.call(
    'validate, allow_expired',
    'GET',
    '/auth/tokens?allow_expired=1&nocatalog',
    admin,
    undefined,
    subject(ukScoped),
  );
  await r.call(
    'member validates the admin token',
    'GET',
    '/auth/tokens',
    ukScoped,
    undefined,
    subject(admin),
  );
  await r.call('member checks the admin token', 'HEAD', '/auth/tokens', ukScoped, undefined, subject(admin));
  await r.call(
    'member revokes the admin token',
    'DELETE',
    '/auth/tokens',
    ukScoped,
    undefined,
    subject(admin),
  );
  const service = await r.authenticate(
    'service user, scoped to service',
    auth(byName(seed.service, seed.servicePassword), project('service')),
    '?nocatalog',
  );
  await r.call(
    'service user validates a member token',
    'GET',
    '/auth/tokens?nocatalog',
    service,
    undefined,
    subject(ukScoped),
  );
  await r.call(
    'member validates a garbage token',
    'GET',
    '/auth/tokens',
    ukScoped,
    undefined,
    subject('garbage'),
  );
  await r.call('member validates without X-Subject-Token', 'GET', '/auth/tokens', ukScoped);
  await r.call(
    'service user checks a member token',
    'HEAD',
    '/auth/tokens',
    service,
    undefined,
    subject(ukScoped),
  );
  await r.call('validate without X-Subject-Token', 'GET', '/auth/tokens', admin);
  await r.call('check without X-Subject-Token', 'HEAD', '/auth/tokens', admin);
  await r.call('validate a garbage token', 'GET', '/auth/tokens', admin, undefined, subject('garbage'));
  await r.call('validate without X-Auth-Token', 'GET', '/auth/tokens', '', undefined, subject(ukScoped));
  await r.call(
    'validate with a garbage X-Auth-Token',
    'GET',
    '/auth/tokens',
    'garbage',
    undefined,
    subject(ukScoped),
  );

  // ---- token auth: rescope ----
  const tokenAuth = (token: string, scope?: unknown) => ({
    auth: {
      identity: { methods: ['token'], token: { id: token } },
      ...(scope === undefined ? {} : { scope }),
    },
  });
  const rescoped = await r.authenticate(
    'rescope an unscoped token to tk',
    tokenAuth(ukUnscoped, project('tk')),
  );
  await r.authenticate(
    'rescope a scoped token to another project',
    tokenAuth(ukScoped, project('tm')),
    '?nocatalog',
  );
  await r.authenticate(
    'rescope a scoped token to a disabled project',
    tokenAuth(ukScoped, project('tx')),
    '?nocatalog',
  );
  await r.authenticate(
    'rescope a scoped token to its project',
    tokenAuth(ukScoped, project('tk')),
    '?nocatalog',
  );
  await r.authenticate('renew a scoped token (no scope)', tokenAuth(ukScoped), '?nocatalog');
  await r.authenticate('renew an unscoped token', tokenAuth(ukUnscoped), '?nocatalog');
  await r.authenticate(
    'rescope to a project without a role',
    tokenAuth(ukUnscoped, project('admin')),
    '?nocatalog',
  );
  await r.authenticate('token auth with a garbage token', tokenAuth('garbage', project('tk')));
  await r.authenticate('token auth without a token', { auth: { identity: { methods: ['token'] } } });
  await r.call(
    'validate the rescoped token',
    'GET',
    '/auth/tokens?nocatalog',
    admin,
    undefined,
    subject(rescoped),
  );

  await r.call('revoke a token', 'DELETE', '/auth/tokens', admin, undefined, subject(ukScoped));
  await r.call('validate a revoked token', 'GET', '/auth/tokens', admin, undefined, subject(ukScoped));
  await r.call('check a revoked token', 'HEAD', '/auth/tokens', admin, undefined, subject(ukScoped));
  await r.call(
    'validate a revoked token, allow_expired',
    'GET',
    '/auth/tokens?allow_expired=1',
    admin,
    undefined,
    subject(ukScoped),
  );
  await r.call('revoke it again', 'DELETE', '/auth/tokens', admin, undefined, subject(ukScoped));
  await r.call('call with a revoked token', 'GET', '/auth/projects', ukScoped);
  await r.authenticate('rescope a revoked token', tokenAuth(ukScoped, project('tk')));
  await r.call('revoke its own token', 'DELETE', '/auth/tokens', ukUnscoped, undefined, subject(ukUnscoped));
  await r.call(
    'validate a token rescoped from a revoked one',
    'GET',
    '/auth/tokens?nocatalog',
    admin,
    undefined,
    subject(rescoped),
  );

  // ---- the catalog ----
  const uk2 = await r.authenticate(
    'uk, scoped to tk again',
    auth(byName('uk', 'pw'), project('tk')),
    '?nocatalog',
  );
  const ukBare = await r.authenticate('uk, unscoped again', auth(byName('uk', 'pw')), '?nocatalog');
  await r.call('catalog', 'GET', '/auth/catalog', admin);
  await r.call('catalog of a member', 'GET', '/auth/catalog', uk2);
  await r.call('catalog of an unscoped token', 'GET', '/auth/catalog', ukBare);
  const services = await r.call('services', 'GET', '/services', admin);
  const compute = (services.body as { services: { id: string; type: string }[] }).services.find(
    (s) => s.type === 'compute',
  )?.id;
  await r.call('services by type', 'GET', '/services?type=volumev3', admin);
  await r.call('services by name', 'GET', '/services?name=nova', admin);
  await r.call('show a service', 'GET', `/services/${compute}`, admin);
  await r.call('show an unknown service', 'GET', '/services/nope', admin);
  await r.call('services, as a member', 'GET', '/services', uk2);
  const endpoints = await r.call('endpoints', 'GET', '/endpoints', admin);
  await r.call('endpoints, public', 'GET', '/endpoints?interface=public', admin);
  await r.call('endpoints of compute', 'GET', `/endpoints?service_id=${compute}`, admin);
  await r.call(
    'endpoints of compute, internal',
    'GET',
    `/endpoints?service_id=${compute}&interface=internal`,
    admin,
  );
  await r.call('endpoints in a region', 'GET', '/endpoints?region_id=RegionOne', admin);
  await r.call('endpoints, unknown interface', 'GET', '/endpoints?interface=nope', admin);
  await r.call('show an endpoint', 'GET', `/endpoints/${first(endpoints, 'endpoints')}`, admin);
  await r.call('show an unknown endpoint', 'GET', '/endpoints/nope', admin);
  await r.call('endpoints, as a member', 'GET', '/endpoints', uk2);
  await r.call('regions', 'GET', '/regions', admin);
  await r.call('show a region', 'GET', '/regions/RegionOne', admin);
  await r.call('show an unknown region', 'GET', '/regions/nope', admin);
  await r.call('regions, as a member', 'GET', '/regions', uk2);

  // ---- application credentials ----
  const credentials = `/users/${uk}/application_credentials`;
  const created = await r.call('create an application credential', 'POST', credentials, uk2, {
    application_credential: { name: 'ac1' },
  });
  const ac1 = id(created, 'application_credential');
  const secret1 = (created.body as { application_credential?: { secret?: string } }).application_credential
    ?.secret;
  if (secret1) r.secrets.push(secret1);
  const ac2 = id(
    await r.call('create one with a secret, roles, expiry', 'POST', credentials, uk2, {
      application_credential: {
        name: 'ac2',
        secret: 'given-secret',
        description: 'd',
        roles: [{ name: 'reader' }],
        expires_at: '2099-01-01T00:00:00',
        unrestricted: true,
      },
    }),
    'application_credential',
  );
  await r.call('create a duplicate', 'POST', credentials, uk2, { application_credential: { name: 'ac1' } });
  await r.call('create without a name', 'POST', credentials, uk2, { application_credential: {} });
  await r.call('create with a role it lacks', 'POST', credentials, uk2, {
    application_credential: { name: 'ac3', roles: [{ name: 'admin' }] },
  });
  await r.call('create with an unknown role', 'POST', credentials, uk2, {
    application_credential: { name: 'ac3', roles: [{ name: 'nope' }] },
  });
  await r.call('create with an expiry in the past', 'POST', credentials, uk2, {
    application_credential: { name: 'ac3', expires_at: '2000-01-01T00:00:00' },
  });
  await r.call('create for another user', 'POST', `/users/${adminId}/application_credentials`, uk2, {
    application_credential: { name: 'ac3' },
  });
  await r.call('create with an unscoped token', 'POST', credentials, ukBare, {
    application_credential: { name: 'ac3' },
  });
  await r.call('list its application credentials', 'GET', credentials, uk2);
  await r.call('list them by name', 'GET', `${credentials}?name=ac2`, uk2);
  await r.call('admin lists them', 'GET', credentials, admin);
  await r.call('show one', 'GET', `${credentials}/${ac1}`, uk2);
  await r.call('show an unknown one', 'GET', `${credentials}/nope`, uk2);
  const appAuth = (credential: Record<string, unknown>, scope?: unknown) => ({
    auth: {
      identity: { methods: ['application_credential'], application_credential: credential },
      ...(scope === undefined ? {} : { scope }),
    },
  });
  const acToken = await r.authenticate(
    'auth by application credential id',
    appAuth({ id: ac1, secret: secret1 }),
  );
  await r.authenticate(
    'auth by application credential name and user',
    appAuth({ name: 'ac2', user: { name: 'uk', domain: { id: 'default' } }, secret: 'given-secret' }),
    '?nocatalog',
  );
  await r.authenticate(
    'auth by application credential name and user id',
    appAuth({ name: 'ac2', user: { id: uk }, secret: 'given-secret' }),
    '?nocatalog',
  );
  await r.authenticate('application credential, wrong secret', appAuth({ id: ac1, secret: 'nope' }));
  await r.authenticate('application credential, unknown id', appAuth({ id: 'nope', secret: 'x' }));
  await r.authenticate('application credential, no secret', appAuth({ id: ac1 }));
  await r.authenticate(
    'application credential with a scope',
    appAuth({ id: ac1, secret: secret1 }, project('tk')),
  );
  await r.call(
    'validate an application credential token',
    'GET',
    '/auth/tokens?nocatalog',
    admin,
    undefined,
    subject(acToken),
  );
  await r.authenticate(
    'rescope an application credential token',
    tokenAuth(acToken, project('tk')),
    '?nocatalog',
  );
  await r.call('restricted credential creates another', 'POST', credentials, acToken, {
    application_credential: { name: 'ac4' },
  });
  await r.call('restricted credential lists them', 'GET', credentials, acToken);
  await r.call(
    'delete as another user',
    'DELETE',
    `${credentials}/${ac2}`,
    await r.authenticate('un, unscoped', auth(byName('un', 'pw')), '?nocatalog'),
  );
  await r.call('delete an application credential', 'DELETE', `${credentials}/${ac1}`, uk2);
  await r.call('delete it again', 'DELETE', `${credentials}/${ac1}`, uk2);
  await r.authenticate('auth with a deleted application credential', appAuth({ id: ac1, secret: secret1 }));
  await r.call(
    'validate a token of a deleted application credential',
    'GET',
    '/auth/tokens?nocatalog',
    admin,
    undefined,
    subject(acToken),
  );

  // A token of an application credential ends with it (CVE-2022-2447); expired, it validates only with
  // allow_expired. The credential expires within 5 s (whole seconds), long enough to authenticate once.
  const expiry = Math.floor(Date.now() / 1000) * 1000 + 5_000;
  const ac5 = await r.call('create one expiring in 5 s', 'POST', credentials, uk2, {
    application_credential: {
      name: 'ac5',
      secret: 'expiring-secret',
      expires_at: new Date(expiry).toISOString().replace(/\.\d+Z$/, ''),
    },
  });
  const shortLived = await r.authenticate(
    'auth with it',
    appAuth({ id: id(ac5, 'application_credential'), secret: 'expiring-secret' }),
    '?nocatalog',
  );
  r.note('its token expires with it', (lifetime(r.entries.at(-1) as Entry) ?? 3600) <= 5);
  await delay(Math.max(0, expiry - Date.now()) + 1_000);
  await r.call(
    'validate an expired token',
    'GET',
    '/auth/tokens?nocatalog',
    admin,
    undefined,
    subject(shortLived),
  );
  await r.call(
    'validate an expired token, allow_expired',
    'GET',
    '/auth/tokens?nocatalog&allow_expired=1',
    admin,
    undefined,
    subject(shortLived),
  );
  await r.call(
    'check an expired token, allow_expired',
    'HEAD',
    '/auth/tokens?allow_expired=true',
    admin,
    undefined,
    subject(shortLived),
  );
  await r.authenticate(
    'auth with an expired application credential',
    appAuth({ id: id(ac5, 'application_credential'), secret: 'expiring-secret' }),
  );

  // ---- projects and users as the CLI lists them ----
  await r.call('list projects', 'GET', '/projects', admin);
  await r.call('list projects of the default domain', 'GET', '/projects?domain_id=default', admin);
  await r.call('list disabled projects', 'GET', '/projects?enabled=false', admin);
  await r.call('list users', 'GET', '/users', admin);
  await r.call('list disabled users', 'GET', '/users?enabled=false', admin);
  await r.call('show a user', 'GET', `/users/${uk}`, admin);
  await r.call('show an unknown user', 'GET', '/users/nope', admin);
  await r.call('show a project', 'GET', `/projects/${tk}`, admin);
  await r.call('show an unknown project', 'GET', '/projects/nope', admin);
  await r.call('projects of a user', 'GET', `/users/${uk}/projects`, admin);
  await r.call('its own projects', 'GET', `/users/${uk}/projects`, uk2);
  await r.call('projects of another user, as a member', 'GET', `/users/${adminId}/projects`, uk2);
  await r.call('its projects (auth)', 'GET', '/auth/projects', ukBare);
  await r.call('domains', 'GET', '/domains', admin);
  await r.call('show the default domain', 'GET', '/domains/default', admin);
  await r.call('show an unknown domain', 'GET', '/domains/nope', admin);
  await r.call('domains, as a member', 'GET', '/domains', uk2);
  await r.call('show the default domain, as a member', 'GET', '/domains/default', uk2);
  await r.call('roles', 'GET', '/roles', admin);

  // ---- what ends tokens ----
  const un = await r.authenticate('un, unscoped again', auth(byName('un', 'pw')), '?nocatalog');
  const validate = (step: string, token: string) =>
    r.call(step, 'GET', '/auth/tokens?nocatalog', admin, undefined, subject(token));
  await validate('validate uk’s token before its project is disabled', uk2);
  await r.call('disable tk', 'PATCH', `/projects/${tk}`, admin, { project: { enabled: false } });
  await validate('validate uk’s token after', uk2);
  await validate('validate uk’s unscoped token after', ukBare);
  await r.call('enable tk again', 'PATCH', `/projects/${tk}`, admin, { project: { enabled: true } });
  await validate('validate uk’s token once tk is enabled again', uk2);
  await r.call('revoke uk’s role on tk', 'DELETE', `/projects/${tk}/users/${uk}/roles/${member}`, admin);
  await validate('validate uk’s token without a role on tk', uk2);
  await r.call('uk’s application credentials after', 'GET', credentials, admin);
  await r.call('change uk’s password', 'PATCH', `/users/${uk}`, admin, { user: { password: 'pw2' } });
  await validate('validate uk’s unscoped token after a password change', ukBare);
  await r.authenticate('uk, old password', auth(byName('uk', 'pw')), '?nocatalog');
  await r.authenticate('uk, new password', auth(byName('uk', 'pw2')), '?nocatalog');
  const unId = first(await r.call('user un', 'GET', '/users?name=un', admin), 'users');
  await r.call('delete user un', 'DELETE', `/users/${unId}`, admin);
  await validate('validate a deleted user’s token', un);
  // The secrets Keystone generated, replaced when normalised.
  for (const e of r.entries) {
    const secret = (e.body as { application_credential?: { secret?: string } } | null)?.application_credential
      ?.secret;
    if (secret) r.secrets.push(secret);
  }
  return r;
}

let workDir = '';
let keystone: RunningProcess | undefined;
let cloud: SimulatedCloud | undefined;

needs(realKeystone).describe('the simulated Keystone’s tokens and catalog against a real Keystone', () => {
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'cloud-sim-keystone-tokens-'));
    const started = await startRealKeystone({ workDir, adminPassword: ADMIN_PASSWORD, timeoutMs: 60_000 });
    keystone = started.process;
    cloud = await createSimulatedCloud({ seed: { adminPassword: ADMIN_PASSWORD } });
    await mirrorSeed(started.url, keystone.ready[1] ?? '', cloud);
  }, 130_000);

  afterAll(async () => {
    await cloud?.stop();
    await keystone?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('answers every call of the script with the real Keystone’s status, body and subject token', async () => {
    const realBase = keystone?.ready[1] ?? '';
    const seed = {
      service: cloud?.seed?.service.name ?? '',
      servicePassword: cloud?.seed?.service.password ?? '',
    };
    const realRun = await script({ keystoneUrl: `${realBase}/v3`, adminPassword: ADMIN_PASSWORD }, seed);
    const simRun = await script(
      { keystoneUrl: cloud?.keystoneUrl ?? '', adminPassword: ADMIN_PASSWORD },
      seed,
    );
    for (const run of [realRun, simRun]) sortUnordered(run.entries);
    const real = normalize(realRun.entries, realBase, realRun);
    const simulated = normalize(simRun.entries, cloud?.url ?? '', simRun);
    // The script does what it says on the real Keystone (not two identical failures).
    const status = (step: string) => real.find((e) => e.step === step)?.status;
    expect(
      [
        'admin, scoped by project name and domain id',
        'uk, scoped to tk',
        'validate a scoped token',
        'rescope an unscoped token to tk',
        'rescope a scoped token to another project',
        'revoke a token',
        'validate a revoked token',
        'services',
        'endpoints',
        'create an application credential',
        'auth by application credential id',
        'validate an expired token',
        'validate an expired token, allow_expired',
      ].map(status),
    ).toEqual([201, 201, 200, 201, 201, 204, 404, 200, 200, 201, 201, 404, 200]);
    expect(simulated.map((e) => e.step)).toEqual(real.map((e) => e.step));
    // Every differing step is reported, not only the first.
    for (const [i, want] of real.entries()) expect.soft(simulated[i], want.step).toEqual(want);
  }, 180_000);
});
