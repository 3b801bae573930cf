/**
 * Keystone tokens: authentication by password or application credential, issuing a token (with
 * its catalog when project-scoped), validating, checking and revoking it, and turning a token into
 * the caller context every other service sees.
 */
import { randomBytes } from 'node:crypto';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  type AuthContext,
  isRecord,
  optionalString,
  type Route,
  requireObject,
} from './http.js';
import { renderCatalog } from './keystone-catalog.js';
import {
  type AppCredentialDoc,
  assignedRoleIds,
  checkSecret,
  domainRef,
  effectiveRoles,
  findProject,
  findUser,
  type ProjectDoc,
  type UserDoc,
} from './keystone-model.js';

const UNAUTHORIZED = 'The request you have made requires authentication.';

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
  if (!user?.enabled || !user.password || !checkSecret(user.password, secret)) {
    throw new ApiError(401, UNAUTHORIZED);
  }
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
    if (!user?.enabled || !project?.enabled) throw new ApiError(401, UNAUTHORIZED);
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
    // An unknown or disabled project: Keystone's generic 401, which names neither.
    if (!project?.enabled) throw new ApiError(401, UNAUTHORIZED);
  } else if (auth.scope !== 'unscoped' && user.default_project_id) {
    // As Keystone: a default project that is gone, disabled or without a role gives an unscoped token.
    const home = ctx.store.get<ProjectDoc>('project', user.default_project_id);
    if (home?.enabled && assignedRoleIds(ctx, user.id, home.id).length > 0) project = home;
  }
  const roleIds = project ? assignedRoleIds(ctx, user.id, project.id) : [];
  // No role on the project: the same generic 401 (Keystone says which only in its log).
  if (project && roleIds.length === 0) throw new ApiError(401, UNAUTHORIZED);
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

/** The token routes under `/v3/auth/tokens`. */
export function tokenRoutes(ctx: SimContext): Route[] {
  return [
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
  ];
}
