/** Keystone users: list, show, create (password stored hashed), update, delete. */
import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, isRecord, type Route } from './http.js';
import {
  type AppCredentialDoc,
  type AssignmentDoc,
  collectionLinks,
  type DomainDoc,
  extrasOf,
  hashSecret,
  matchesFilters,
  notImplemented,
  requireAdmin,
  requireSelfOrAdmin,
  revokeTokens,
  type UserDoc,
} from './keystone-model.js';
import { USER_CREATE, USER_UPDATE, validateBody } from './keystone-schema.js';

/** Keystone's own user attributes; any other key (`description`, `email`, ...) is kept as an extra attribute. */
const USER_ATTRIBUTES = new Set([
  'id',
  'name',
  'domain_id',
  'enabled',
  'default_project_id',
  'password',
  'password_expires_at',
  'options',
  'federated',
  'links',
]);

/** A user as Keystone renders it (never its password); an update's answer also carries `extra`. */
export function userView(u: UserDoc, baseUrl: string, withExtra = false): Record<string, unknown> {
  return {
    ...u.extra,
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    ...(u.default_project_id ? { default_project_id: u.default_project_id } : {}),
    password_expires_at: null,
    ...(withExtra ? { extra: u.extra ?? {} } : {}),
    options: {},
    links: { self: `${baseUrl}/v3/users/${u.id}` },
  };
}

/** Options (MFA rules, lockout exemptions) and federated identities are not simulated: Keystone's 501. */
function refuseUnsimulated(body: Record<string, unknown>): void {
  const options = body.options;
  const federated = body.federated;
  if (
    (isRecord(options) && Object.keys(options).length > 0) ||
    (Array.isArray(federated) && federated.length > 0)
  ) {
    throw notImplemented();
  }
}

/** Keystone refuses a domain as a user's default project; an unknown project is accepted as it is. */
function assertDefaultProject(ctx: SimContext, projectId: unknown): void {
  if (typeof projectId === 'string' && ctx.store.get<DomainDoc>('domain', projectId)) {
    throw new ApiError(400, `User's default project ID cannot be a domain ID: ${projectId}`);
  }
}

function assertNameFree(ctx: SimContext, name: string, domainId: string, self?: string, inBody = true): void {
  const taken = ctx.store.list<UserDoc>(
    'user',
    (u) => u.name === name && u.domain_id === domainId && u.id !== self,
  );
  if (taken.length > 0) {
    // Keystone names the domain only when the request body did.
    const where = inBody ? ` at domain ID ${domainId}` : '';
    throw new ApiError(
      409,
      `Conflict occurred attempting to store user - Duplicate entry found with name ${name}${where}.`,
    );
  }
}

function createUser(ctx: SimContext, req: ApiRequest): Record<string, unknown> {
  requireAdmin(req, 'create_user');
  const body = validateBody(req.body, 'user', USER_CREATE);
  refuseUnsimulated(body);
  const domainId = (body.domain_id as string | undefined) || 'default';
  const name = (body.name as string).trim();
  if (!ctx.store.get<DomainDoc>('domain', domainId))
    throw new ApiError(404, `Could not find domain: ${domainId}.`);
  assertDefaultProject(ctx, body.default_project_id);
  assertNameFree(ctx, name, domainId);
  const password = body.password as string | null | undefined;
  const defaultProject = body.default_project_id as string | null | undefined;
  const user: UserDoc = {
    id: randomUUID().replaceAll('-', ''),
    name,
    domain_id: domainId,
    enabled: body.enabled !== false,
    ...(defaultProject ? { default_project_id: defaultProject } : {}),
    password: typeof password === 'string' ? hashSecret(password) : null,
    extra: extrasOf(body, USER_ATTRIBUTES),
  };
  ctx.store.put('user', user);
  return { user: userView(user, req.baseUrl) };
}

/** Drops a user's application credentials (Keystone does when the user is disabled or deleted). */
function dropAppCredentials(ctx: SimContext, userId: string): void {
  for (const c of ctx.store.list<AppCredentialDoc>('app_credential', (x) => x.user_id === userId))
    ctx.store.delete('app_credential', c.id);
}

function updateUser(ctx: SimContext, req: ApiRequest): Record<string, unknown> {
  requireAdmin(req, 'update_user');
  const id = req.params.id ?? '';
  const user = ctx.store.get<UserDoc>('user', id);
  if (!user) throw new ApiError(404, `Could not find user: ${id}.`);
  const body = validateBody(req.body, 'user', USER_UPDATE);
  if (body.id !== undefined && body.id !== null && body.id !== id)
    throw new ApiError(400, 'Cannot change ID');
  if ('domain_id' in body && body.domain_id !== user.domain_id)
    throw new ApiError(400, 'Cannot change Domain ID');
  refuseUnsimulated(body);
  assertDefaultProject(ctx, body.default_project_id);
  const name = typeof body.name === 'string' ? body.name.trim() : user.name;
  if ('name' in body) assertNameFree(ctx, name, user.domain_id, id, 'domain_id' in body);
  const { default_project_id: _previous, ...rest } = user;
  const defaultProject =
    'default_project_id' in body ? (body.default_project_id as string | null) : user.default_project_id;
  const updated: UserDoc = {
    ...rest,
    name,
    enabled: typeof body.enabled === 'boolean' ? body.enabled : user.enabled,
    ...(defaultProject ? { default_project_id: defaultProject } : {}),
    ...('password' in body
      ? { password: typeof body.password === 'string' ? hashSecret(body.password) : null }
      : {}),
    extra: { ...user.extra, ...extrasOf(body, USER_ATTRIBUTES) },
  };
  ctx.store.put('user', updated);
  const disabled = user.enabled && !updated.enabled;
  if (disabled) dropAppCredentials(ctx, id);
  if (disabled || typeof body.password === 'string') revokeTokens(ctx, { userId: id });
  return { user: userView(updated, req.baseUrl, true) };
}

/** The user routes under `/v3/users` (application credentials: keystone-app-credentials.ts). */
export function userRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v3/users',
      op: 'list_users',
      handler: (req) => {
        requireAdmin(req, 'list_users');
        const users = ctx.store
          .list<UserDoc>('user')
          .map((u) => userView(u, req.baseUrl))
          .filter((u) => matchesFilters(req, u, ['name', 'domain_id', 'enabled']));
        return { status: 200, body: { users, links: collectionLinks(req) } };
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
      method: 'POST',
      path: '/v3/users',
      op: 'create_user',
      handler: (req) => ({ status: 201, body: ctx.store.transaction(() => createUser(ctx, req)) }),
    },
    {
      method: 'PATCH',
      path: '/v3/users/:id',
      op: 'update_user',
      handler: (req) => ({ status: 200, body: ctx.store.transaction(() => updateUser(ctx, req)) }),
    },
    {
      method: 'DELETE',
      path: '/v3/users/:id',
      op: 'delete_user',
      handler: (req) => {
        requireAdmin(req, 'delete_user');
        const id = req.params.id ?? '';
        if (!ctx.store.get<UserDoc>('user', id)) throw new ApiError(404, `Could not find user: ${id}.`);
        ctx.store.transaction(() => {
          ctx.store.delete('user', id);
          for (const a of ctx.store.list<AssignmentDoc>('assignment', (x) => x.user_id === id))
            ctx.store.delete('assignment', a.id);
          dropAppCredentials(ctx, id);
          revokeTokens(ctx, { userId: id });
        });
        return { status: 204 };
      },
    },
  ];
}
