/**
 * The security suite's lab: one two-site lab with the product's default introspection policy, two
 * tenants (the demo project `demo` as tenant A, and `tenant-b` as tenant B, each mapped to itself on
 * both sites), the admin, and tenant A's objects the matrix acts on: the group `sec-matrix` (one
 * member VM, a policy, mappings, replicated every 2 s), a second VM that is not a member, and an
 * operation of A's. Every identity of the matrix is a set of headers (HTTP) and a `connection_init`
 * payload (graphql-ws).
 */
import type { Json } from '@protector/schema';
import { fetch } from 'undici';
import { bootVm, cloudCall, keystoneToken, type Lab, type LabSite, startLab } from './lab.js';
import { type HttpAnswer, openWs, post, type WsOpen } from './security-http.js';
import type { IdentityKey } from './security-table.js';

export const TENANT_B = { project: 'tenant-b', user: 'tenant-b', password: 'tenant-b-secret' } as const;

/** Tenant A's objects and the values the rows' variables are built from. */
export interface Targets {
  /** Tenant A's group the matrix acts on. */
  readonly group: { readonly id: string; readonly name: string };
  /** Tenant A's group replicating the other way (seattle to boston), so boston has events of A's. */
  readonly reverseGroup: { readonly id: string; readonly name: string };
  /** Tenant A's demo group (seeded by the lab). */
  readonly demoGroup: { readonly id: string; readonly name: string };
  /** A finished operation of tenant A's group. */
  readonly operationId: string;
  /** A VM of tenant A on boston that is not a member of the group; the group's one member. */
  readonly candidateVm: string;
  readonly memberVm: string;
  /** Project ids per site. */
  readonly projects: { readonly tenant: Record<string, string>; readonly other: Record<string, string> };
  /** The tenant mappings as set (both tenants). */
  readonly tenantMappings: readonly Json[];
  /** The group's resource mappings as set. */
  readonly resourceMappings: readonly Json[];
  /** Registered sites as the lab registered them. */
  readonly sites: Readonly<Record<string, { readonly url: string; readonly authUrl: string }>>;
}

export interface Fixture {
  readonly lab: Lab;
  readonly url: string;
  readonly tokens: {
    readonly tenant: Record<string, string>;
    readonly other: Record<string, string>;
    readonly admin: Record<string, string>;
  };
  readonly targets: Targets;
  /** The headers an identity sends. */
  headers(who: IdentityKey): Record<string, string>;
  /** The `connection_init` payload an identity sends (null: none). */
  connectionParams(who: IdentityKey): Json | null;
  /** A GraphQL request to the gateway as `who`. */
  request(who: IdentityKey, query: string, variables?: Json): Promise<HttpAnswer>;
  /** Like `request`, failing on any error; returns `data`. */
  ok<T = Json>(who: IdentityKey, query: string, variables?: Json): Promise<T>;
  /** A graphql-ws connection as `who`. */
  ws(who: IdentityKey): Promise<WsOpen>;
  /** What a refused call must leave as it was, read as the admin. */
  state(): Promise<Json>;
  /** Waits until operation `id` finished (read as the admin); its final record. */
  waitOperation(id: string): Promise<Json>;
  stop(): Promise<void>;
}

const TERMINAL = ['SUCCEEDED', 'FAILED', 'PARTIAL', 'CANCELLED', 'ROLLED_BACK'];

export const GARBAGE_TOKEN = 'gAAAAABnot-a-keystone-token-0123456789abcdef';

const siteTokenHeaders = (tokens: Record<string, string>) =>
  Object.fromEntries(Object.entries(tokens).map(([k, v]) => [`x-site-token-${k}`, v]));

/** The project a token is scoped to, as its Keystone says. */
export async function projectOf(site: LabSite, token: string): Promise<string> {
  const res = await fetch(`${site.keystoneUrl}/auth/tokens`, {
    headers: { 'x-auth-token': token, 'x-subject-token': token },
  });
  return ((await res.json()) as { token: { project: { id: string } } }).token.project.id;
}

/**
 * Creates project, user and member role assignment of `TENANT_B` on a lab site over the Keystone v3
 * API, as an admin does against a real cloud (`POST /v3/projects`, `POST /v3/users`,
 * `PUT /v3/projects/{p}/users/{u}/roles/{r}`), and, as for the demo project, gives the DR service user
 * (`protector`) the admin role in it: the service acts in a tenant's project to recover its VMs there.
 * Any refusal fails the lab.
 */
async function createTenantB(site: LabSite, adminToken: string): Promise<void> {
  const api = async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    want = 200,
  ) => {
    const res = await fetch(`${site.keystoneUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-auth-token': adminToken },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== want)
      throw new Error(`${method} ${site.keystoneUrl}${path} at ${site.name}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
  const { project } = await api<{ project: { id: string } }>(
    'POST',
    '/projects',
    { project: { name: TENANT_B.project, domain_id: 'default', enabled: true, description: 'Tenant B' } },
    201,
  );
  const { user } = await api<{ user: { id: string } }>(
    'POST',
    '/users',
    {
      user: {
        name: TENANT_B.user,
        password: TENANT_B.password,
        domain_id: 'default',
        default_project_id: project.id,
      },
    },
    201,
  );
  const roleId = async (name: string) =>
    (await api<{ roles: { id: string }[] }>('GET', `/roles?name=${name}`)).roles[0]!.id;
  const serviceUser = async () =>
    (await api<{ users: { id: string }[] }>('GET', '/users?name=protector')).users[0]!.id;
  const grant = (userId: string, role: string) =>
    api('PUT', `/projects/${project.id}/users/${userId}/roles/${role}`, undefined, 204);
  await grant(user.id, await roleId('member'));
  await grant(await serviceUser(), await roleId('admin'));
}

export async function startSecurityLab(dir: string): Promise<Fixture> {
  const lab = await startLab({
    dir,
    gatewayPort: 0,
    transferMs: 300,
    bootSeconds: 1,
    replicationIntervalSeconds: 2,
    healthIntervalSeconds: 1,
    introspection: 'authenticated',
  });
  try {
    return await prepare(lab);
  } catch (err) {
    await lab.stop();
    throw err;
  }
}

async function prepare(lab: Lab): Promise<Fixture> {
  const url = lab.gatewayUrl;
  const admin = await lab.adminTokens();
  const tenant = await lab.tenantTokens();
  const sites = Object.values(lab.sites);
  for (const s of sites) await createTenantB(s, admin[s.name]!);
  const other: Record<string, string> = {};
  for (const s of sites)
    other[s.name] = await keystoneToken(s.keystoneUrl, TENANT_B.user, TENANT_B.password, TENANT_B.project);
  const projects = { tenant: {} as Record<string, string>, other: {} as Record<string, string> };
  for (const s of sites) {
    projects.tenant[s.name] = await projectOf(s, tenant[s.name]!);
    projects.other[s.name] = await projectOf(s, other[s.name]!);
  }

  const tokens = { tenant, other, admin };
  const headers = (who: IdentityKey): Record<string, string> => {
    switch (who) {
      case 'anonymous':
        return {};
      case 'garbage':
        return siteTokenHeaders({ boston: GARBAGE_TOKEN, seattle: GARBAGE_TOKEN });
      case 'otherTenant':
        return siteTokenHeaders(other);
      case 'oneSite':
        return siteTokenHeaders({ boston: tenant.boston! });
      case 'tenant':
        return siteTokenHeaders(tenant);
      case 'admin':
        return siteTokenHeaders(admin);
    }
  };
  const connectionParams = (who: IdentityKey): Json | null => {
    const h = headers(who);
    if (!Object.keys(h).length) return null;
    return {
      siteTokens: Object.fromEntries(Object.entries(h).map(([k, v]) => [k.slice('x-site-token-'.length), v])),
    };
  };
  const request = (who: IdentityKey, query: string, variables: Json = {}) =>
    post(url, headers(who), { query, variables });
  const ok = async <T = Json>(who: IdentityKey, query: string, variables: Json = {}): Promise<T> => {
    const res = await request(who, query, variables);
    if (res.body?.errors?.length || !res.body?.data)
      throw new Error(`${who}: HTTP ${res.status} ${res.text.slice(0, 600)}`);
    return res.body.data as T;
  };

  // Both tenants mapped to themselves across the sites.
  const tenantMappings = [
    {
      sourceSite: 'boston',
      sourceProjectId: projects.tenant.boston,
      targetSite: 'seattle',
      targetProjectId: projects.tenant.seattle,
    },
    {
      sourceSite: 'boston',
      sourceProjectId: projects.other.boston,
      targetSite: 'seattle',
      targetProjectId: projects.other.seattle,
    },
  ];
  await ok(
    'admin',
    'mutation($m: [TenantMappingInput!]!) { setTenantMappings(input: { mappings: $m }) { sourceProjectId } }',
    {
      m: tenantMappings,
    },
  );

  // Tenant A's group of the matrix: one member, a second VM that is not one, a policy, mappings.
  const boston = lab.sites.boston!;
  const seattle = lab.sites.seattle!;
  const memberVm = 'sec-vm-1';
  const candidateVm = 'sec-vm-2';
  await Promise.all([bootVm(boston, tenant.boston!, memberVm), bootVm(boston, tenant.boston!, candidateVm)]);
  const policy = (storageGroupName: string) => ({
    primaryArrayUrl: 'https://mock-array-a.lab',
    primaryArrayToken: 'T-lab-a',
    secondaryArrayUrl: 'https://mock-array-b.lab',
    secondaryArrayToken: 'T-lab-b',
    purePgName: storageGroupName,
    replicationIntervalSeconds: 2,
    rpoMinutes: 5,
  });
  const createGroup = async (name: string, primary: string, secondary: string) => {
    const { createProtectionGroup: g } = await ok<{
      createProtectionGroup: { id: string; storageGroupName: string };
    }>(
      'tenant',
      `mutation($i: CreateProtectionGroupInput!) { createProtectionGroup(input: $i) { id storageGroupName } }`,
      {
        i: {
          name,
          replicationType: 'ASYNC',
          primarySite: primary,
          secondarySite: secondary,
          volumeType: 'replicated-ssd',
        },
      },
    );
    await ok(
      'tenant',
      'mutation($pg: ID!, $p: ReplicationPolicyInput!) { createReplicationPolicy(input: { protectionGroup: $pg, policy: $p }) { id } }',
      { pg: g.id, p: policy(g.storageGroupName) },
    );
    return { id: g.id, name };
  };
  const group = await createGroup('sec-matrix', 'boston', 'seattle');
  const reverseGroup = await createGroup('sec-reverse', 'seattle', 'boston');
  const idOf = async (site: LabSite, kind: 'network' | 'flavor') =>
    kind === 'network'
      ? String(
          (
            (await cloudCall(site, tenant[site.name]!, 'network', 'GET', '/networks?name=private'))
              .networks as Json[]
          )[0]!.id,
        )
      : String(
          ((await cloudCall(site, tenant[site.name]!, 'compute', 'GET', '/flavors')).flavors as Json[]).find(
            (f) => f.name === 'm1.small',
          )!.id,
        );
  const resourceMappings = [];
  for (const kind of ['network', 'flavor'] as const)
    resourceMappings.push({
      kind: kind.toUpperCase(),
      sourceSite: 'boston',
      sourceId: await idOf(boston, kind),
      targetSite: 'seattle',
      targetId: await idOf(seattle, kind),
    });
  await ok(
    'tenant',
    'mutation($pg: ID!, $m: [ResourceMappingInput!]!) { setResourceMappings(input: { protectionGroup: $pg, mappings: $m }) { id } }',
    {
      pg: group.id,
      m: resourceMappings,
    },
  );
  // The member joins, then a point taken after that completes on seattle: a drill can recover it.
  const events = await openWs(url, connectionParams('tenant'));
  if (!events.ok) throw new Error(`tenant A's graphql-ws connection was closed: ${events.code}`);
  try {
    const points = events.connection.subscribe(
      'subscription($pg: ID) { seattle(filter: { protectionGroupId: $pg, kinds: [REPLICATION_COMPLETED] }) { recoveryPoint { createdAt } } }',
      { pg: group.id },
    );
    const joined = Date.now();
    await ok(
      'tenant',
      'mutation($pg: ID!, $s: ID!) { addMember(input: { protectionGroup: $pg, server: $s }) { id } }',
      {
        pg: group.id,
        s: memberVm,
      },
    );
    for (;;) {
      const m = await points.next(60_000);
      if (m.type !== 'next' || m.payload.errors?.length)
        throw new Error(`seattle's events: ${JSON.stringify(m)}`);
      const point = ((m.payload.data as Json).seattle as Json).recoveryPoint as Json | null;
      if (point && Date.parse(String(point.createdAt)) > joined) break;
    }
  } finally {
    await events.connection.close();
  }
  const demo = await ok<{ protectionGroup: { id: string } }>(
    'tenant',
    '{ protectionGroup(name: "prod-web-app") { id } }',
  );

  // An operation's end, from its progress subscription (the current state first, then every event).
  const waitOperation = async (id: string): Promise<Json> => {
    const open = await openWs(url, connectionParams('admin'));
    if (!open.ok)
      throw new Error(`the admin's graphql-ws connection was closed: ${open.code} ${open.reason}`);
    try {
      const sub = open.connection.subscribe(
        'subscription($id: ID!) { operationProgress(id: $id) { status } }',
        { id },
      );
      for (;;) {
        const m = await sub.next(120_000);
        if (m.type === 'complete') break;
        if (m.type !== 'next' || m.payload.errors?.length)
          throw new Error(`operation ${id}: ${JSON.stringify(m)}`);
        const status = String(((m.payload.data as Json).operationProgress as Json).status);
        if (TERMINAL.includes(status)) break;
      }
    } finally {
      await open.connection.close();
    }
    const { operation } = await ok<{ operation: Json }>(
      'admin',
      'query($id: ID!) { operation(id: $id) { id type status error { code message } } }',
      { id },
    );
    return operation;
  };
  // A finished operation of tenant A's.
  const sync = await ok<{ syncProtectionGroup: { id: string } }>(
    'tenant',
    'mutation($pg: ID!) { syncProtectionGroup(input: { protectionGroup: $pg, force: true }) { id } }',
    { pg: group.id },
  );
  await waitOperation(sync.syncProtectionGroup.id);

  const state = async () =>
    ok(
      'admin',
      `{ protectionGroups(first: 200) { totalCount nodes { id name projectId status metadataVersion
        storageGroupName members { name } policy { rpoMinutes replicationIntervalSeconds purePgName } } }
      operations(first: 1) { totalCount } sites { name key url authUrl }
      tenantMappings { sourceSite { name } sourceProjectId targetSite { name } targetProjectId } }`,
    );

  return {
    lab,
    url,
    tokens,
    targets: {
      group,
      reverseGroup,
      demoGroup: { id: demo.protectionGroup.id, name: 'prod-web-app' },
      operationId: sync.syncProtectionGroup.id,
      candidateVm,
      memberVm,
      projects,
      tenantMappings,
      resourceMappings,
      sites: Object.fromEntries(sites.map((s) => [s.name, { url: s.url, authUrl: s.keystoneUrl }])),
    },
    headers,
    connectionParams,
    request,
    ok,
    ws: (who) => openWs(url, connectionParams(who)),
    state,
    waitOperation,
    stop: () => lab.stop(),
  };
}
