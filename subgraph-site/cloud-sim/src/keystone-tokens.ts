/**
 * Keystone tokens as a real Keystone (fernet provider) issues and validates them, checked against
 * one by keystone-tokens-contract.test.ts: authentication by password, token (rescoping) or
 * application credential, with project, domain, system or no scope; validating, checking and
 * revoking a token; and turning a token into the caller context every other service sees.
 *
 * A token stores what a fernet token carries (user, methods, project, audit ids, issue and expiry
 * times, application credential): everything else (names, roles, the catalog) is read from the
 * current state each time it is validated, and the checks are Keystone's, in its order: the project
 * (gone, or disabled), the user (gone), the application credential (gone), the roles (none left),
 * expiry, then revocation events (keystone-model.ts).
 */
import { randomBytes } from 'node:crypto';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  type AuthContext,
  isRecord,
  type Route,
} from './http.js';
import { renderCatalog } from './keystone-catalog.js';
import {
  ALLOW_EXPIRED_WINDOW_MS,
  type AppCredentialDoc,
  assignedRoleIds,
  checkSecret,
  type DomainDoc,
  domainRef,
  effectiveRoles,
  type ProjectDoc,
  revocationEvents,
  revokeTokens,
  type UserDoc,
} from './keystone-model.js';
import { TOKEN_ISSUE, validateValue } from './keystone-schema.js';

const UNAUTHORIZED = 'The request you have made requires authentication.';
const unauthorized = () => new ApiError(401, UNAUTHORIZED);
/** Keystone's ValidationError: `Expecting to find <what> in <where>. ...` */
const expecting = (what: string, where: string) =>
  new ApiError(
    400,
    `Expecting to find ${what} in ${where}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
const forbiddenAction = (action: string) =>
  new ApiError(403, `You are not authorized to perform the requested action: ${action}.`);

/** Keystone's default `[auth] methods`; of them the simulator implements password, token and application_credential. */
const AUTH_METHODS = ['external', 'password', 'token', 'oauth1', 'mapped', 'application_credential'];
/** The methods Keystone counts as a user's own authentication; a token of another (an application credential) is a delegation. */
const PRIMARY_METHODS = new Set([
  'password',
  'totp',
  'mapped',
  'saml2',
  'openid',
  'external',
  'kerberos',
  'x509',
  'token',
]);

/** What a stored token carries, as a fernet token's payload does. Times in ms; `issued_at` in whole seconds. */
interface TokenPayload {
  user_id: string;
  methods: string[];
  project_id: string | null;
  audit_ids: string[];
  issued_at: number;
  expires_at: number;
  app_cred_id: string | null;
}

function asPayload(body: Record<string, unknown>): TokenPayload | undefined {
  return typeof body.user_id === 'string' &&
    Array.isArray(body.audit_ids) &&
    typeof body.issued_at === 'number'
    ? (body as unknown as TokenPayload)
    : undefined;
}

/** Keystone's token times: `2024-05-01T10:00:00.000000Z`. */
const tokenTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** Python's `datetime.isoformat()` of a naive UTC time: `2024-05-01T10:00:00`, a fraction only when there is one. */
const pyIsoformat = (ms: number) => {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.replace(/Z$/, '000');
};

/** A token as Keystone renders it, from its payload and the current state. */
interface MintedToken {
  payload: TokenPayload;
  user: UserDoc;
  project: ProjectDoc | undefined;
  appCredential: AppCredentialDoc | undefined;
  roles: { id: string; name: string }[];
}

/**
 * Keystone's `TokenModel.mint` checks: the project (gone: 404, disabled: 404), the user (gone: 404),
 * the application credential (gone: 404), then the roles: a project-scoped token without any left
 * is refused with an Unauthorized (401 when issuing, a 404 naming the token when validating).
 */
function mint(ctx: SimContext, payload: TokenPayload): MintedToken {
  let project: ProjectDoc | undefined;
  if (payload.project_id !== null) {
    project = ctx.store.get<ProjectDoc>('project', payload.project_id);
    if (!project) throw new ApiError(404, `Could not find project: ${payload.project_id}.`);
    if (!project.enabled) {
      throw new ApiError(404, `Unable to validate token because project ${project.id} is disabled`);
    }
  }
  const user = ctx.store.get<UserDoc>('user', payload.user_id);
  if (!user) throw new ApiError(404, `Could not find user: ${payload.user_id}.`);
  let appCredential: AppCredentialDoc | undefined;
  let roles: { id: string; name: string }[] = [];
  if (project) {
    const held = effectiveRoles(ctx, assignedRoleIds(ctx, user.id, project.id));
    if (payload.app_cred_id !== null) {
      appCredential = ctx.store.get<AppCredentialDoc>('app_credential', payload.app_cred_id);
      if (!appCredential) {
        throw new ApiError(404, `Could not find Application Credential: ${payload.app_cred_id}.`);
      }
      // The credential's own roles that the user still holds (implied roles are not added).
      const ids = new Set(held.map((r) => r.id));
      roles = effectiveRoles(ctx, appCredential.role_ids).filter(
        (r) => ids.has(r.id) && appCredential?.role_ids.includes(r.id),
      );
    } else roles = held;
    if (roles.length === 0) throw unauthorized();
  }
  return { payload, user, project, appCredential, roles };
}

function isRevoked(ctx: SimContext, payload: TokenPayload): boolean {
  return revocationEvents(ctx).some(
    (e) =>
      e.issued_before >= payload.issued_at &&
      (e.user_id === undefined || e.user_id === payload.user_id) &&
      (e.project_id === undefined || e.project_id === payload.project_id) &&
      (e.audit_id === undefined || e.audit_id === payload.audit_ids[0]),
  );
}

/**
 * Keystone's `validate_token`: no token is a 404, so is one it cannot read; then `mint`'s checks
 * (a refused one a 404 naming the token), then expiry (`windowMs` past it with `allow_expired`)
 * and revocation.
 */
function validateToken(ctx: SimContext, id: string | undefined, windowMs = 0): MintedToken {
  if (!id) throw new ApiError(404, 'No token in the request');
  const stored = ctx.store.getToken(id);
  const payload = stored && asPayload(stored.body);
  if (!payload) throw new ApiError(404, 'Could not recognize Fernet token');
  let minted: MintedToken;
  try {
    minted = mint(ctx, payload);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401)
      throw new ApiError(404, `Could not find token: ${id}.`);
    throw err;
  }
  if (ctx.now() >= payload.expires_at + windowMs || isRevoked(ctx, payload)) {
    throw new ApiError(404, 'Failed to validate token');
  }
  return minted;
}

/** The token body; `expiresAt` replaces the rendered expiry (an application credential's, when it ends the token). */
function renderToken(
  ctx: SimContext,
  req: ApiRequest,
  token: MintedToken,
  expiresAt?: string,
): Record<string, unknown> {
  const { payload, user, project, appCredential } = token;
  const body: Record<string, unknown> = {
    methods: payload.methods,
    user: {
      domain: domainRef(ctx, user.domain_id),
      id: user.id,
      name: user.name,
      password_expires_at: null,
    },
    audit_ids: payload.audit_ids,
    expires_at: expiresAt ?? tokenTime(payload.expires_at),
    issued_at: tokenTime(payload.issued_at),
  };
  if (project) {
    body.project = { domain: domainRef(ctx, project.domain_id), id: project.id, name: project.name };
    body.is_domain = false;
    body.roles = token.roles;
    if (appCredential) {
      body.application_credential = {
        id: appCredential.id,
        name: appCredential.name,
        restricted: !appCredential.unrestricted,
      };
    }
    // Keystone leaves the catalog out with `?nocatalog`, whatever its value.
    if (!req.query.has('nocatalog')) body.catalog = renderCatalog(ctx, req.baseUrl, project.id);
  }
  return { token: body };
}

/** Looks a token up and returns its caller context, or undefined when Keystone would not accept it. */
export function authenticateToken(ctx: SimContext, tokenId: string): AuthContext | undefined {
  // The services keep what a token was validated as, as keystonemiddleware's token cache does, until
  // it expires or anything that could change it does (a user, project, role, assignment, token or
  // revocation): every request of a recovery does not validate its token again.
  let cache = authCaches.get(ctx);
  if (!cache) {
    cache = new Map();
    authCaches.set(ctx, cache);
  }
  const hit = cache.get(tokenId);
  if (hit && hit.generation === ctx.store.identityGeneration && ctx.now() < hit.expiresAt) return hit.auth;
  const generation = ctx.store.identityGeneration;
  let token: MintedToken;
  try {
    token = validateToken(ctx, tokenId);
  } catch (err) {
    if (err instanceof ApiError) return undefined;
    throw err;
  }
  const roles = token.roles.map((r) => r.name);
  const auth: AuthContext = {
    tokenId,
    userId: token.user.id,
    userName: token.user.name,
    projectId: token.project?.id ?? null,
    roles,
    isAdmin: roles.includes('admin'),
  };
  if (cache.size >= AUTH_CACHE_SIZE) cache.clear();
  cache.set(tokenId, { auth, expiresAt: token.payload.expires_at, generation });
  return auth;
}

/** Tokens a simulated cloud's services remember at most (then they start over). */
const AUTH_CACHE_SIZE = 10_000;
const authCaches = new WeakMap<
  SimContext,
  Map<string, { auth: AuthContext; expiresAt: number; generation: number }>
>();

/** The methods of a caller's token and its application credential, for the checks only Keystone's token model allows. */
export function tokenMethods(
  ctx: SimContext,
  tokenId: string,
): { methods: string[]; appCredential: AppCredentialDoc | undefined } {
  const stored = ctx.store.getToken(tokenId);
  const payload = stored && asPayload(stored.body);
  if (!payload) return { methods: [], appCredential: undefined };
  const appCredential =
    payload.app_cred_id === null
      ? undefined
      : ctx.store.get<AppCredentialDoc>('app_credential', payload.app_cred_id);
  return { methods: payload.methods, appCredential };
}

/** Keystone's `_lookup_domain` of a scope or an application credential's user: unknown is a 401. */
function lookupDomain(ctx: SimContext, ref: Record<string, unknown>): DomainDoc {
  const domain =
    typeof ref.name === 'string' && ref.name
      ? ctx.store.list<DomainDoc>('domain', (d) => d.name === ref.name)[0]
      : ctx.store.get<DomainDoc>('domain', String(ref.id));
  if (!domain) throw unauthorized();
  return domain;
}

/** The user a password or application credential names: by name in a domain, or by id; unknown or disabled: 401. */
function lookupUser(ctx: SimContext, info: Record<string, unknown>): UserDoc {
  const { id, name } = info;
  if (!id && !name) throw expecting('id or name', 'user');
  let user: UserDoc | undefined;
  if (name) {
    if (!('domain' in info)) throw expecting('domain', 'user');
    const ref = isRecord(info.domain) ? info.domain : {};
    if (!ref.id && !ref.name) throw expecting('id or name', 'domain');
    const domain = lookupDomain(ctx, ref);
    user = ctx.store.list<UserDoc>('user', (u) => u.name === name && u.domain_id === domain.id)[0];
  } else user = ctx.store.get<UserDoc>('user', String(id));
  if (!user?.enabled) throw unauthorized();
  return user;
}

/** Keystone's `AuthInfo._lookup_app_cred`: the credential an authentication names, before its secret is checked. */
function lookupAppCredential(ctx: SimContext, info: Record<string, unknown>): AppCredentialDoc {
  if (info.id) {
    const credential = ctx.store.get<AppCredentialDoc>('app_credential', String(info.id));
    if (!credential) throw new ApiError(404, `Could not find Application Credential: ${String(info.id)}.`);
    return credential;
  }
  if (!info.name) throw expecting('name or ID', 'application credential');
  const user = info.user;
  if (!user) throw expecting('user', 'application credential');
  const ref = isRecord(user) ? user : {};
  let userId = ref.id as string | undefined;
  if (!userId) {
    if (!('domain' in ref)) throw expecting('domain', 'user');
    const domain = lookupDomain(ctx, isRecord(ref.domain) ? ref.domain : {});
    const found = ctx.store.list<UserDoc>('user', (u) => u.name === ref.name && u.domain_id === domain.id)[0];
    if (!found) throw new ApiError(404, `Could not find user: ${String(ref.name)}.`);
    userId = found.id;
  }
  const credentials = ctx.store.list<AppCredentialDoc>(
    'app_credential',
    (c) => c.user_id === userId && c.name === info.name,
  );
  if (credentials.length !== 1) throw unauthorized();
  return credentials[0] as AppCredentialDoc;
}

/** The scope a request asks for, as Keystone's `AuthInfo` resolves it before authenticating. */
type Scope =
  | { kind: 'none' }
  | { kind: 'unscoped' }
  | { kind: 'project'; project: ProjectDoc }
  | { kind: 'domain' | 'system' };

function lookupScope(ctx: SimContext, auth: Record<string, unknown>): Scope {
  if (!('scope' in auth)) return { kind: 'none' };
  const scope = auth.scope;
  // Keystone tests membership with Python's `in`: a string scope matches by substring ("unscoped").
  const has = (key: string) =>
    typeof scope === 'string' ? scope.includes(key) : isRecord(scope) && key in scope;
  const keys = ['project', 'domain', 'unscoped', 'system', 'OS-TRUST:trust'].filter(has);
  if (keys.length !== 1) throw expecting('system, project, domain, OS-TRUST:trust or unscoped', 'scope');
  const [key] = keys;
  const ref =
    isRecord(scope) && isRecord(scope[key as string])
      ? (scope[key as string] as Record<string, unknown>)
      : {};
  switch (key) {
    case 'system':
      return { kind: 'system' };
    case 'unscoped':
      return { kind: 'unscoped' };
    case 'domain':
      lookupDomain(ctx, ref);
      return { kind: 'domain' };
    case 'OS-TRUST:trust':
      if (!ref.id) throw expecting('trust_id', 'trust');
      // There are no trusts: Keystone answers an unknown one with its generic 401.
      throw unauthorized();
    default: {
      let project: ProjectDoc | undefined;
      if (ref.name) {
        if (!('domain' in ref)) throw expecting('domain', 'project');
        const domain = lookupDomain(ctx, isRecord(ref.domain) ? ref.domain : {});
        project = ctx.store.list<ProjectDoc>(
          'project',
          (p) => p.name === ref.name && p.domain_id === domain.id,
        )[0];
      } else project = ctx.store.get<ProjectDoc>('project', String(ref.id));
      // Unknown or disabled: the generic 401, naming neither.
      if (!project?.enabled) throw unauthorized();
      return { kind: 'project', project };
    }
  }
}

/** What the authentication methods established: the user, the methods that ran, and a rescoped token's expiry and audit chain. */
interface AuthResult {
  userId?: string;
  methods: string[];
  expiresAt?: number;
  parentAuditId?: string;
}

function authenticatePassword(ctx: SimContext, payload: Record<string, unknown>): string {
  // `None`: Keystone names the method from an attribute it has not set yet.
  if (!('user' in payload)) throw expecting('user', 'None');
  const info = isRecord(payload.user) ? payload.user : {};
  const user = lookupUser(ctx, info);
  const password = info.password;
  if (!user.password || typeof password !== 'string' || !checkSecret(user.password, password))
    throw unauthorized();
  return user.id;
}

function authenticateAppCredential(ctx: SimContext, payload: Record<string, unknown>): string {
  const credential = lookupAppCredential(ctx, payload);
  const user = ctx.store.get<UserDoc>('user', credential.user_id);
  if (!user?.enabled) throw unauthorized();
  const secret = payload.secret;
  const expired = credential.expires_at !== null && ctx.now() >= Date.parse(credential.expires_at);
  if (typeof secret !== 'string' || !checkSecret(credential.secret, secret) || expired) throw unauthorized();
  return user.id;
}

function authenticateByToken(ctx: SimContext, payload: Record<string, unknown>, result: AuthResult): string {
  if (!('id' in payload)) throw expecting('id', 'token');
  const token = validateToken(ctx, String(payload.id));
  if (!token.payload.methods.every((m) => PRIMARY_METHODS.has(m))) {
    throw forbiddenAction('Using a delegated token to create another token is not allowed.');
  }
  // The new token keeps the old one's expiry (no renewing forever) and its audit chain.
  result.expiresAt = token.payload.expires_at;
  result.parentAuditId = token.payload.audit_ids[1] ?? token.payload.audit_ids[0];
  result.methods.push(...token.payload.methods);
  return token.user.id;
}

/** Keystone's default scoping: no scope asked for, the user's default project when it is there, enabled and granted. */
function defaultProject(ctx: SimContext, userId: string): ProjectDoc | undefined {
  const user = ctx.store.get<UserDoc>('user', userId);
  if (!user) throw unauthorized();
  if (!user.default_project_id) return undefined;
  const home = ctx.store.get<ProjectDoc>('project', user.default_project_id);
  return home?.enabled && assignedRoleIds(ctx, user.id, home.id).length > 0 ? home : undefined;
}

function createToken(ctx: SimContext, req: ApiRequest): ApiResponse {
  const auth = isRecord(req.body) ? req.body.auth : undefined;
  if (auth !== undefined && auth !== null) validateValue(auth, TOKEN_ISSUE);
  validateIdOrName(auth);
  if (!isRecord(auth) || Object.keys(auth).length === 0) throw expecting('auth', 'request body');
  const identity = auth.identity as Record<string, unknown>;
  const methods = [...new Set(identity.methods as string[])];
  for (const method of methods) if (!(method in identity)) throw expecting(method, 'identity');
  if (methods.some((m) => !AUTH_METHODS.includes(m))) {
    return {
      status: 401,
      body: {
        error: {
          code: 401,
          title: 'Unauthorized',
          message: 'Attempted to authenticate with an unsupported method.',
          identity: { methods: AUTH_METHODS },
        },
      },
    };
  }
  let scope: Scope;
  let credential: AppCredentialDoc | undefined;
  if (methods.includes('application_credential')) {
    if ('scope' in auth) {
      return {
        status: 401,
        body: {
          error: {
            code: 401,
            title: 'Unauthorized',
            message:
              'Error authenticating with application credential: Application credentials cannot request a scope.',
            identity: {},
          },
        },
      };
    }
    credential = lookupAppCredential(ctx, identity.application_credential as Record<string, unknown>);
    const project =
      credential.project_id === null
        ? undefined
        : ctx.store.get<ProjectDoc>('project', credential.project_id);
    scope = project ? { kind: 'project', project } : { kind: 'none' };
  } else scope = lookupScope(ctx, auth);

  const result: AuthResult = { methods: [] };
  for (const method of methods) {
    const payload = identity[method] as Record<string, unknown>;
    let userId: string;
    if (method === 'password') userId = authenticatePassword(ctx, payload);
    else if (method === 'application_credential') userId = authenticateAppCredential(ctx, payload);
    else if (method === 'token') userId = authenticateByToken(ctx, payload, result);
    // external, oauth1, mapped: not simulated, they never establish a user.
    else throw unauthorized();
    if (result.userId !== undefined && result.userId !== userId) throw unauthorized();
    result.userId = userId;
    result.methods.unshift(method);
  }
  if (result.userId === undefined) throw unauthorized();
  const userId = result.userId;

  // The simulator has no domain or system role assignments: such a token has no roles, Keystone's 401.
  if (scope.kind === 'domain' || scope.kind === 'system') throw unauthorized();
  const project =
    scope.kind === 'project'
      ? scope.project
      : scope.kind === 'none'
        ? defaultProject(ctx, userId)
        : undefined;

  const now = ctx.now();
  const issuedAt = Math.floor(now / 1000) * 1000;
  let expiresAt = result.expiresAt ?? issuedAt + ctx.tokenLifetimeMs;
  let expiresText: string | undefined;
  if (credential?.expires_at) {
    // CVE-2022-2447: a token ends with its application credential, its expiry then rendered as Python's isoformat.
    const credentialExpiry = Date.parse(credential.expires_at);
    if (credentialExpiry < expiresAt) {
      expiresAt = credentialExpiry;
      expiresText = pyIsoformat(credentialExpiry);
    }
  }
  const payload: TokenPayload = {
    user_id: userId,
    methods: [...new Set(result.methods)],
    project_id: project?.id ?? null,
    audit_ids: [
      randomBytes(16).toString('base64url'),
      ...(result.parentAuditId === undefined ? [] : [result.parentAuditId]),
    ],
    issued_at: issuedAt,
    expires_at: expiresAt,
    app_cred_id: credential?.id ?? null,
  };
  const token = mint(ctx, payload);
  const id = randomBytes(48).toString('base64url');
  ctx.store.purgeTokens(now - ALLOW_EXPIRED_WINDOW_MS);
  ctx.store.putToken({ id, expiresAt, body: payload as unknown as Record<string, unknown> });
  return { status: 201, headers: { 'X-Subject-Token': id }, body: renderToken(ctx, req, token, expiresText) };
}

/** `validate_issue_token_auth`'s checks after the schema: a user, a user's domain, a project and a domain need an id or a name. */
function validateIdOrName(auth: unknown): void {
  if (!isRecord(auth)) return;
  const fail = (field: string) =>
    new ApiError(400, `Invalid input for field ${field}: id or name must be present.`);
  const identity = isRecord(auth.identity) ? auth.identity : {};
  const password = isRecord(identity.password) ? identity.password : {};
  const user = password.user;
  if (isRecord(user)) {
    if (!('id' in user) && !('name' in user)) throw fail('identity/password/user');
    if (isRecord(user.domain) && !('id' in user.domain) && !('name' in user.domain)) {
      throw fail('identity/password/user/domain');
    }
  }
  const scope = auth.scope;
  if (!isRecord(scope)) return;
  const project = scope.project;
  if (isRecord(project)) {
    if (!('id' in project) && !('name' in project)) throw fail('scope/project');
    if (isRecord(project.domain) && !('id' in project.domain) && !('name' in project.domain)) {
      throw fail('scope/project/domain');
    }
  }
  if (isRecord(scope.domain) && !('id' in scope.domain) && !('name' in scope.domain))
    throw fail('scope/domain');
}

/** Python's `strutils.bool_from_string` as `allow_expired` is read. */
const truthy = (value: string | null) =>
  value !== null && ['1', 't', 'true', 'on', 'y', 'yes'].includes(value.trim().toLowerCase());

/**
 * The subject token of a validate, check or revoke call, validated before the policy check (Keystone
 * reads it into the policy target), then the policy: the admin, the token's own user, and for
 * `validate_token` also the `service` role.
 */
function subjectToken(
  ctx: SimContext,
  req: ApiRequest,
  action: 'validate_token' | 'check_token' | 'revoke_token',
  windowMs: number,
): { id: string | undefined; token: MintedToken | undefined } {
  const header = req.headers['x-subject-token'];
  const id = typeof header === 'string' ? header : undefined;
  const token = id === undefined ? undefined : validateToken(ctx, id, windowMs);
  const { auth } = req;
  const allowed =
    auth.isAdmin ||
    (action === 'validate_token' && auth.roles.includes('service')) ||
    (token !== undefined && token.user.id === auth.userId);
  if (!allowed) throw forbiddenAction(`identity:${action}`);
  return { id, token: token ?? validateToken(ctx, id, windowMs) };
}

/** The token routes under `/v3/auth/tokens`. */
export function tokenRoutes(ctx: SimContext): Route[] {
  const windowOf = (req: ApiRequest) =>
    truthy(req.query.get('allow_expired')) ? ALLOW_EXPIRED_WINDOW_MS : 0;
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
        const { id, token } = subjectToken(ctx, req, 'validate_token', windowOf(req));
        return {
          status: 200,
          headers: { 'X-Subject-Token': id ?? '' },
          body: renderToken(ctx, req, token as MintedToken),
        };
      },
    },
    {
      method: 'HEAD',
      path: '/v3/auth/tokens',
      op: 'check_token',
      handler: (req) => {
        const { id } = subjectToken(ctx, req, 'check_token', windowOf(req));
        return { status: 200, headers: { 'X-Subject-Token': id ?? '' } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/auth/tokens',
      op: 'revoke_token',
      handler: (req) => {
        const { token } = subjectToken(ctx, req, 'revoke_token', 0);
        revokeTokens(ctx, { auditId: token?.payload.audit_ids[0] });
        return { status: 204 };
      },
    },
  ];
}
