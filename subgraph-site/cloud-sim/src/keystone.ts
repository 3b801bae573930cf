import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  type AuthContext,
  isRecord,
  matchesQuery,
  optionalString,
  type Route,
  requireObject,
} from './http.js';

/** A salted SHA-256 of a password or application-credential secret. */
export interface StoredSecret {
  salt: string;
  hash: string;
}

/** A stored Keystone domain. */
export interface DomainDoc {
  id: string;
  name: string;
}

/** A stored Keystone project. */
export interface ProjectDoc {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: boolean;
}

/** A stored Keystone user with its hashed password. */
export interface UserDoc {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id?: string;
  password: StoredSecret;
}

/** A stored Keystone role. */
export interface RoleDoc {
  id: string;
  name: string;
}

/** A role of a user on a project. */
export interface AssignmentDoc {
  id: string;
  user_id: string;
  project_id: string;
  role_id: string;
}

/** A stored application credential with its hashed secret. */
export interface AppCredentialDoc {
  id: string;
  name: string;
  description: string;
  user_id: string;
  project_id: string;
  role_ids: string[];
  secret: StoredSecret;
  expires_at: string | null;
  unrestricted: boolean;
}

/** A catalog entry; `path` is appended to the cloud's base URL, `$(project_id)s` substituted. */
export interface CatalogServiceDoc {
  id: string;
  type: string;
  name: string;
  path: string;
}

/** Roles implied by a role, as Keystone's default implied-role rules (admin > member > reader). */
const IMPLIED_ROLES: Record<string, string[]> = { admin: ['member', 'reader'], member: ['reader'] };

const UNAUTHORIZED = 'The request you have made requires authentication.';

/** Hashes a secret with a fresh salt. */
export function hashSecret(secret: string): StoredSecret {
  const salt = randomBytes(16).toString('hex');
  return { salt, hash: createHash('sha256').update(salt).update(secret).digest('hex') };
}

function checkSecret(stored: StoredSecret, secret: string): boolean {
  const hash = createHash('sha256').update(stored.salt).update(secret).digest();
  return timingSafeEqual(hash, Buffer.from(stored.hash, 'hex'));
}

/** The role names a user holds on a project, implied roles included. */
function effectiveRoles(ctx: SimContext, roleIds: readonly string[]): { id: string; name: string }[] {
  const roles = ctx.store.list<RoleDoc>('role');
  const names = new Set<string>();
  for (const id of roleIds) {
    const role = roles.find((r) => r.id === id);
    if (!role) continue;
    names.add(role.name);
    for (const implied of IMPLIED_ROLES[role.name] ?? []) names.add(implied);
  }
  return roles.filter((r) => names.has(r.name)).map((r) => ({ id: r.id, name: r.name }));
}

function assignedRoleIds(ctx: SimContext, userId: string, projectId: string): string[] {
  return ctx.store
    .list<AssignmentDoc>('assignment', (a) => a.user_id === userId && a.project_id === projectId)
    .map((a) => a.role_id);
}

function domainRef(ctx: SimContext, id: string): DomainDoc {
  const domain = ctx.store.get<DomainDoc>('domain', id);
  return { id, name: domain?.name ?? id };
}

/** Resolves `{id}` or `{name}` of a domain. */
function findDomainId(ctx: SimContext, ref: unknown): string | undefined {
  if (!isRecord(ref)) return 'default';
  if (typeof ref.id === 'string') return ref.id;
  if (typeof ref.name === 'string') {
    return ctx.store.list<DomainDoc>('domain', (d) => d.name === ref.name)[0]?.id;
  }
  return undefined;
}

function findUser(ctx: SimContext, ref: Record<string, unknown>): UserDoc | undefined {
  if (typeof ref.id === 'string') return ctx.store.get<UserDoc>('user', ref.id);
  const domainId = findDomainId(ctx, ref.domain);
  return ctx.store.list<UserDoc>('user', (u) => u.name === ref.name && u.domain_id === domainId)[0];
}

function findProject(ctx: SimContext, ref: Record<string, unknown>): ProjectDoc | undefined {
  if (typeof ref.id === 'string') return ctx.store.get<ProjectDoc>('project', ref.id);
  const domainId = findDomainId(ctx, ref.domain);
  return ctx.store.list<ProjectDoc>('project', (p) => p.name === ref.name && p.domain_id === domainId)[0];
}

/** The service catalog as a project-scoped token carries it. */
export function renderCatalog(ctx: SimContext, baseUrl: string, projectId: string): unknown[] {
  return ctx.store.list<CatalogServiceDoc>('catalog_service').map((service) => ({
    id: service.id,
    type: service.type,
    name: service.name,
    endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
      id: `${service.id}-${iface}`,
      interface: iface,
      region: ctx.region,
      region_id: ctx.region,
      url: baseUrl + service.path.replace('$(project_id)s', projectId),
    })),
  }));
}

interface TokenGrant {
  user: UserDoc;
  project: ProjectDoc | undefined;
  method: 'password' | 'application_credential';
  roleIds: string[];
  appCredential?: AppCredentialDoc;
}

function issueToken(ctx: SimContext, grant: TokenGrant): { id: string; body: Record<string, unknown> } {
  const now = ctx.now();
  const expiresAt = now + ctx.tokenLifetimeMs;
  const { user, project, appCredential } = grant;
  const token: Record<string, unknown> = {
    methods: [grant.method],
    user: {
      id: user.id,
      name: user.name,
      domain: domainRef(ctx, user.domain_id),
      password_expires_at: null,
    },
    audit_ids: [randomBytes(16).toString('base64url').slice(0, 22)],
    issued_at: new Date(now).toISOString().replace('Z', '000Z'),
    expires_at: new Date(expiresAt).toISOString().replace('Z', '000Z'),
  };
  if (project) {
    token.project = { id: project.id, name: project.name, domain: domainRef(ctx, project.domain_id) };
    token.is_domain = false;
    token.roles = effectiveRoles(ctx, grant.roleIds);
  }
  if (appCredential) {
    token.application_credential = {
      id: appCredential.id,
      name: appCredential.name,
      restricted: !appCredential.unrestricted,
    };
  }
  const id = randomBytes(32).toString('base64url');
  ctx.store.purgeTokens(now);
  ctx.store.putToken({ id, expiresAt, body: token });
  return { id, body: token };
}

function tokenResponse(
  ctx: SimContext,
  req: ApiRequest,
  status: number,
  id: string,
  token: Record<string, unknown>,
): ApiResponse {
  const project = token.project as { id: string } | undefined;
  const withCatalog = project && !req.query.has('nocatalog');
  return {
    status,
    headers: { 'X-Subject-Token': id },
    body: { token: withCatalog ? { ...token, catalog: renderCatalog(ctx, req.baseUrl, project.id) } : token },
  };
}

/** Looks a token up and returns its caller context, or undefined when unknown or expired. */
export function authenticateToken(ctx: SimContext, tokenId: string): AuthContext | undefined {
  const stored = ctx.store.getToken(tokenId);
  if (!stored || stored.expiresAt <= ctx.now()) return undefined;
  const body = stored.body as {
    user: { id: string; name: string };
    project?: { id: string };
    roles?: { name: string }[];
  };
  const roles = (body.roles ?? []).map((r) => r.name);
  return {
    tokenId,
    userId: body.user.id,
    userName: body.user.name,
    projectId: body.project?.id ?? null,
    roles,
    isAdmin: roles.includes('admin'),
  };
}

function authenticatePassword(ctx: SimContext, identity: Record<string, unknown>): UserDoc {
  const password = requireObject(identity, 'password');
  const userRef = requireObject(password, 'user');
  const user = findUser(ctx, userRef);
  const secret = optionalString(userRef, 'password') ?? '';
  if (!user || !user.enabled || !checkSecret(user.password, secret)) throw new ApiError(401, UNAUTHORIZED);
  return user;
}

function authenticateAppCredential(ctx: SimContext, identity: Record<string, unknown>): AppCredentialDoc {
  const ref = requireObject(identity, 'application_credential');
  const secret = optionalString(ref, 'secret') ?? '';
  let credential: AppCredentialDoc | undefined;
  if (typeof ref.id === 'string') credential = ctx.store.get<AppCredentialDoc>('app_credential', ref.id);
  else if (isRecord(ref.user)) {
    const user = findUser(ctx, ref.user);
    credential = ctx.store.list<AppCredentialDoc>(
      'app_credential',
      (c) => c.name === ref.name && c.user_id === user?.id,
    )[0];
  }
  const expired = credential?.expires_at && Date.parse(credential.expires_at) <= ctx.now();
  if (!credential || expired || !checkSecret(credential.secret, secret))
    throw new ApiError(401, UNAUTHORIZED);
  return credential;
}

function createToken(ctx: SimContext, req: ApiRequest): ApiResponse {
  const auth = requireObject(req.body, 'auth');
  const identity = requireObject(auth, 'identity');
  const methods = Array.isArray(identity.methods) ? identity.methods : [];
  if (methods.includes('application_credential')) {
    const credential = authenticateAppCredential(ctx, identity);
    const user = ctx.store.get<UserDoc>('user', credential.user_id);
    const project = ctx.store.get<ProjectDoc>('project', credential.project_id);
    if (!user || !project) throw new ApiError(401, UNAUTHORIZED);
    if (isRecord(auth.scope)) {
      throw new ApiError(401, 'Application credentials cannot request a scope.');
    }
    const { id, body } = issueToken(ctx, {
      user,
      project,
      method: 'application_credential',
      roleIds: credential.role_ids,
      appCredential: credential,
    });
    return tokenResponse(ctx, req, 201, id, body);
  }
  if (!methods.includes('password')) {
    throw new ApiError(400, `Unsupported authentication method(s): ${methods.join(', ') || 'none'}.`);
  }
  const user = authenticatePassword(ctx, identity);
  let project: ProjectDoc | undefined;
  if (isRecord(auth.scope)) {
    if (!isRecord(auth.scope.project)) throw new ApiError(400, 'Only project scope is supported.');
    project = findProject(ctx, auth.scope.project);
    const ref = auth.scope.project;
    if (!project) throw new ApiError(401, `Could not find project: ${String(ref.id ?? ref.name)}.`);
  } else if (auth.scope !== 'unscoped' && user.default_project_id) {
    project = ctx.store.get<ProjectDoc>('project', user.default_project_id);
  }
  const roleIds = project ? assignedRoleIds(ctx, user.id, project.id) : [];
  if (project && roleIds.length === 0) {
    throw new ApiError(401, `User ${user.id} has no access to project ${project.id}.`);
  }
  const { id, body } = issueToken(ctx, { user, project, method: 'password', roleIds });
  return tokenResponse(ctx, req, 201, id, body);
}

function subjectToken(ctx: SimContext, req: ApiRequest): { id: string; body: Record<string, unknown> } {
  const id = req.headers['x-subject-token'];
  if (typeof id !== 'string' || !id)
    throw new ApiError(400, 'Expecting to find X-Subject-Token in the request.');
  const stored = ctx.store.getToken(id);
  if (!stored || stored.expiresAt <= ctx.now()) throw new ApiError(404, `Could not find token: ${id}.`);
  const subjectUser = (stored.body.user as { id: string }).id;
  const { auth } = req;
  if (!auth.isAdmin && !auth.roles.includes('service') && auth.userId !== subjectUser) {
    throw new ApiError(
      403,
      'You are not authorized to perform the requested action: identity:validate_token.',
    );
  }
  return { id, body: stored.body };
}

const requireAdmin = (req: ApiRequest, action: string): void => {
  if (!req.auth.isAdmin) {
    throw new ApiError(403, `You are not authorized to perform the requested action: identity:${action}.`);
  }
};

const requireSelfOrAdmin = (req: ApiRequest, userId: string | undefined, action: string): void => {
  if (req.auth.userId !== userId) requireAdmin(req, action);
};

function projectView(p: ProjectDoc, baseUrl: string): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    is_domain: false,
    parent_id: p.domain_id,
    tags: [],
    options: {},
    links: { self: `${baseUrl}/v3/projects/${p.id}` },
  };
}

function userView(u: UserDoc, baseUrl: string): Record<string, unknown> {
  return {
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    ...(u.default_project_id ? { default_project_id: u.default_project_id } : {}),
    password_expires_at: null,
    options: {},
    links: { self: `${baseUrl}/v3/users/${u.id}` },
  };
}

function appCredentialView(c: AppCredentialDoc, ctx: SimContext): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    user_id: c.user_id,
    project_id: c.project_id,
    roles: effectiveRoles(ctx, c.role_ids).filter((r) => c.role_ids.includes(r.id)),
    expires_at: c.expires_at,
    unrestricted: c.unrestricted,
    access_rules: [],
  };
}

const versionDoc = (baseUrl: string): Record<string, unknown> => ({
  id: 'v3.14',
  status: 'stable',
  updated: '2020-04-07T00:00:00Z',
  links: [{ rel: 'self', href: `${baseUrl}/v3/` }],
  'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
});

/** Keystone v3: token issue/validate/revoke, projects, users, roles, assignments, app credentials, catalog. */
export function keystoneRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      op: 'versions',
      public: true,
      handler: (req) => ({ status: 300, body: { versions: { values: [versionDoc(req.baseUrl)] } } }),
    },
    {
      method: 'GET',
      path: '/v3',
      op: 'version',
      public: true,
      handler: (req) => ({ status: 200, body: { version: versionDoc(req.baseUrl) } }),
    },
    {
      method: 'POST',
      path: '/v3/auth/tokens',
      op: 'authenticate',
      public: true,
      handler: (req) => createToken(ctx, req),
    },
    {
      method: 'GET',
      path: '/v3/auth/tokens',
      op: 'validate_token',
      handler: (req) => {
        const { id, body } = subjectToken(ctx, req);
        return tokenResponse(ctx, req, 200, id, body);
      },
    },
    {
      method: 'HEAD',
      path: '/v3/auth/tokens',
      op: 'check_token',
      handler: (req) => {
        subjectToken(ctx, req);
        return { status: 200 };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/auth/tokens',
      op: 'revoke_token',
      handler: (req) => {
        ctx.store.deleteToken(subjectToken(ctx, req).id);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v3/auth/catalog',
      op: 'get_catalog',
      handler: (req) => {
        if (!req.auth.projectId)
          throw new ApiError(403, 'A project-scoped token is required to produce a service catalog.');
        return { status: 200, body: { catalog: renderCatalog(ctx, req.baseUrl, req.auth.projectId) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/auth/projects',
      op: 'list_auth_projects',
      handler: (req) => {
        const ids = new Set(
          ctx.store
            .list<AssignmentDoc>('assignment', (a) => a.user_id === req.auth.userId)
            .map((a) => a.project_id),
        );
        const projects = ctx.store.list<ProjectDoc>('project', (p) => ids.has(p.id));
        return { status: 200, body: { projects: projects.map((p) => projectView(p, req.baseUrl)) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/projects',
      op: 'list_projects',
      handler: (req) => {
        requireAdmin(req, 'list_projects');
        const projects = ctx.store.list<ProjectDoc>('project').map((p) => projectView(p, req.baseUrl));
        return {
          status: 200,
          body: { projects: projects.filter((p) => matchesQuery(req.query, p, ['name', 'domain_id'])) },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/projects/:id',
      op: 'get_project',
      handler: (req) => {
        const project = ctx.store.get<ProjectDoc>('project', req.params.id ?? '');
        if (req.auth.projectId !== project?.id) requireAdmin(req, 'get_project');
        if (!project) throw new ApiError(404, `Could not find project: ${req.params.id}.`);
        return { status: 200, body: { project: projectView(project, req.baseUrl) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/users',
      op: 'list_users',
      handler: (req) => {
        requireAdmin(req, 'list_users');
        const users = ctx.store.list<UserDoc>('user').map((u) => userView(u, req.baseUrl));
        return {
          status: 200,
          body: { users: users.filter((u) => matchesQuery(req.query, u, ['name', 'domain_id'])) },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/users/:id',
      op: 'get_user',
      handler: (req) => {
        requireSelfOrAdmin(req, req.params.id, 'get_user');
        const user = ctx.store.get<UserDoc>('user', req.params.id ?? '');
        if (!user) throw new ApiError(404, `Could not find user: ${req.params.id}.`);
        return { status: 200, body: { user: userView(user, req.baseUrl) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/roles',
      op: 'list_roles',
      handler: (req) => {
        const roles = ctx.store
          .list<RoleDoc>('role')
          .map((r) => ({ ...r, domain_id: null, description: null }));
        return { status: 200, body: { roles: roles.filter((r) => matchesQuery(req.query, r, ['name'])) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/role_assignments',
      op: 'list_role_assignments',
      handler: (req) => {
        if (req.query.get('user.id') !== req.auth.userId) requireAdmin(req, 'list_role_assignments');
        const names = req.query.has('include_names');
        const assignments = ctx.store
          .list<AssignmentDoc>('assignment')
          .filter(
            (a) =>
              (!req.query.has('user.id') || a.user_id === req.query.get('user.id')) &&
              (!req.query.has('scope.project.id') || a.project_id === req.query.get('scope.project.id')) &&
              (!req.query.has('role.id') || a.role_id === req.query.get('role.id')),
          )
          .map((a) => ({
            role: {
              id: a.role_id,
              ...(names ? { name: ctx.store.get<RoleDoc>('role', a.role_id)?.name } : {}),
            },
            user: {
              id: a.user_id,
              ...(names ? { name: ctx.store.get<UserDoc>('user', a.user_id)?.name } : {}),
            },
            scope: {
              project: {
                id: a.project_id,
                ...(names ? { name: ctx.store.get<ProjectDoc>('project', a.project_id)?.name } : {}),
              },
            },
            links: {
              assignment: `${req.baseUrl}/v3/projects/${a.project_id}/users/${a.user_id}/roles/${a.role_id}`,
            },
          }));
        return { status: 200, body: { role_assignments: assignments } };
      },
    },
    {
      method: 'POST',
      path: '/v3/users/:id/application_credentials',
      op: 'create_application_credential',
      handler: (req) => {
        if (req.auth.userId !== req.params.id) {
          throw new ApiError(
            403,
            'You are not authorized to perform the requested action: identity:create_application_credential.',
          );
        }
        const projectId = req.auth.projectId;
        if (!projectId)
          throw new ApiError(403, 'A project-scoped token is required to create an application credential.');
        const body = requireObject(req.body, 'application_credential');
        const name = optionalString(body, 'name');
        if (!name) throw new ApiError(400, "Invalid input for field 'name': a name is required.");
        const secret = optionalString(body, 'secret') ?? randomBytes(32).toString('base64url');
        const granted = assignedRoleIds(ctx, req.auth.userId, projectId);
        const requested = Array.isArray(body.roles)
          ? body.roles.map((r) => {
              const ref = isRecord(r) ? r : {};
              const role = ctx.store.list<RoleDoc>('role', (x) => x.id === ref.id || x.name === ref.name)[0];
              if (!role) throw new ApiError(404, `Could not find role: ${String(ref.id ?? ref.name)}.`);
              return role.id;
            })
          : granted;
        const credential: AppCredentialDoc = {
          id: randomUUID().replaceAll('-', ''),
          name,
          description: optionalString(body, 'description') ?? '',
          user_id: req.auth.userId,
          project_id: projectId,
          role_ids: requested,
          secret: hashSecret(secret),
          expires_at: optionalString(body, 'expires_at') ?? null,
          unrestricted: body.unrestricted === true,
        };
        ctx.store.put('app_credential', credential);
        return {
          status: 201,
          body: { application_credential: { ...appCredentialView(credential, ctx), secret } },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/users/:id/application_credentials',
      op: 'list_application_credentials',
      handler: (req) => {
        requireSelfOrAdmin(req, req.params.id, 'list_application_credentials');
        const credentials = ctx.store.list<AppCredentialDoc>(
          'app_credential',
          (c) => c.user_id === req.params.id,
        );
        return {
          status: 200,
          body: { application_credentials: credentials.map((c) => appCredentialView(c, ctx)) },
        };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/users/:id/application_credentials/:credential_id',
      op: 'delete_application_credential',
      handler: (req) => {
        requireSelfOrAdmin(req, req.params.id, 'delete_application_credential');
        const credential = ctx.store.get<AppCredentialDoc>('app_credential', req.params.credential_id ?? '');
        if (!credential || credential.user_id !== req.params.id) {
          throw new ApiError(404, `Could not find application credential: ${req.params.credential_id}.`);
        }
        ctx.store.delete('app_credential', credential.id);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v3/services',
      op: 'list_services',
      handler: (req) => {
        requireAdmin(req, 'list_services');
        const services = ctx.store
          .list<CatalogServiceDoc>('catalog_service')
          .map((s) => ({ id: s.id, type: s.type, name: s.name, enabled: true, description: '' }));
        return {
          status: 200,
          body: { services: services.filter((s) => matchesQuery(req.query, s, ['type', 'name'])) },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/endpoints',
      op: 'list_endpoints',
      handler: (req) => {
        requireAdmin(req, 'list_endpoints');
        const endpoints = ctx.store.list<CatalogServiceDoc>('catalog_service').flatMap((s) =>
          (['public', 'internal', 'admin'] as const).map((iface) => ({
            id: `${s.id}-${iface}`,
            service_id: s.id,
            interface: iface,
            region: ctx.region,
            region_id: ctx.region,
            url: req.baseUrl + s.path,
            enabled: true,
          })),
        );
        return {
          status: 200,
          body: {
            endpoints: endpoints.filter((e) =>
              matchesQuery(req.query, e, ['interface', 'service_id', 'region_id']),
            ),
          },
        };
      },
    },
  ];
}
