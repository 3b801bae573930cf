/**
 * Keystone application credentials of a user: create (with a generated or given secret, the token's
 * roles or some of them, an expiry), list, show, delete, as a real Keystone answers (checked by
 * keystone-tokens-contract.test.ts). Authenticating with one is keystone-tokens.ts's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, isRecord, type Route } from './http.js';
import { roleRef } from './keystone-assignments.js';
import {
  type AppCredentialDoc,
  collectionLinks,
  hashSecret,
  type RoleDoc,
  requireSelfOrAdmin,
} from './keystone-model.js';
import { APP_CREDENTIAL_CREATE, validateValue } from './keystone-schema.js';
import { tokenMethods } from './keystone-tokens.js';

/** Keystone's time of a stored datetime: `2024-05-01T10:00:00.000000`, UTC without a zone. */
const storedTime = (iso: string) => new Date(iso).toISOString().replace(/\.(\d{3})Z$/, '.$1000');

function appCredentialView(ctx: SimContext, c: AppCredentialDoc, baseUrl: string): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    user_id: c.user_id,
    project_id: c.project_id,
    system: null,
    roles: c.role_ids.flatMap((id) => {
      const role = ctx.store.get<RoleDoc>('role', id);
      return role ? [roleRef(role)] : [];
    }),
    expires_at: c.expires_at === null ? null : storedTime(c.expires_at),
    unrestricted: c.unrestricted,
    links: { self: `${baseUrl}/v3/application_credentials/${c.id}` },
  };
}

const badRequest = (message: string) =>
  new ApiError(
    400,
    `${message} The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );

/** A restricted application credential's token may not manage application credentials. */
function refuseRestricted(ctx: SimContext, req: ApiRequest): void {
  const { methods, appCredential } = tokenMethods(ctx, req.auth.tokenId);
  if (methods.includes('application_credential') && !appCredential?.unrestricted) {
    throw new ApiError(
      403,
      "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional application credentials..",
    );
  }
}

/** The roles a new credential gets: the ones asked for (each must be among the token's), else all the token's. */
function credentialRoles(ctx: SimContext, req: ApiRequest, body: Record<string, unknown>): string[] {
  const held = ctx.store
    .list<RoleDoc>('role')
    .filter((r) => req.auth.roles.includes(r.name))
    .map((r) => r.id);
  if (!Array.isArray(body.roles) || body.roles.length === 0) return held;
  const ids = body.roles.map((r) => {
    const ref = isRecord(r) ? r : {};
    if (ref.id) return String(ref.id);
    const role = ctx.store.list<RoleDoc>('role', (x) => x.name === ref.name)[0];
    if (!role) throw new ApiError(404, `Role ${String(ref.name)} is not defined`);
    return role.id;
  });
  if (ids.some((id) => !held.includes(id))) {
    // Keystone's ApplicationCredentialValidationError has no "The server could not comply" tail.
    throw new ApiError(
      400,
      'Invalid application credential: Cannot create an application credential with unassigned role',
    );
  }
  return ids;
}

function createAppCredential(ctx: SimContext, req: ApiRequest): Record<string, unknown> {
  if (req.auth.userId !== req.params.id) {
    throw new ApiError(
      403,
      'You are not authorized to perform the requested action: identity:create_application_credential.',
    );
  }
  const body =
    isRecord(req.body) && isRecord(req.body.application_credential) ? req.body.application_credential : {};
  validateValue(body, APP_CREDENTIAL_CREATE);
  refuseRestricted(ctx, req);
  const secret = (body.secret as string | null | undefined) || randomBytes(64).toString('base64url');
  const roleIds = credentialRoles(ctx, req, body);
  let expiresAt: string | null = null;
  if (body.expires_at) {
    const text = String(body.expires_at);
    const ms = Date.parse(text.endsWith('Z') ? text : `${text}Z`);
    if (Number.isNaN(ms)) throw badRequest('Timestamp not in expected format.');
    if (ms <= ctx.now()) throw badRequest("The 'expires_at' must not be before now.");
    expiresAt = new Date(ms).toISOString();
  }
  const name = body.name as string;
  if (
    ctx.store.list<AppCredentialDoc>(
      'app_credential',
      (c) => c.user_id === req.auth.userId && c.name === name,
    ).length > 0
  ) {
    throw new ApiError(
      409,
      `Conflict occurred attempting to store application_credential - Duplicate entry found with name ${name}.`,
    );
  }
  const credential: AppCredentialDoc = {
    id: randomUUID().replaceAll('-', ''),
    name,
    description: (body.description as string | null | undefined) ?? null,
    user_id: req.auth.userId,
    // An unscoped token makes a credential of no project (and no roles), as Keystone lets it.
    project_id: req.auth.projectId,
    role_ids: roleIds,
    secret: hashSecret(secret),
    expires_at: expiresAt,
    unrestricted: (body.unrestricted as boolean | null | undefined) ?? null,
  };
  ctx.store.put('app_credential', credential);
  return { application_credential: { ...appCredentialView(ctx, credential, req.baseUrl), secret } };
}

/**
 * The credential a path names. Keystone checks its owner, not the path's user (a known credential
 * is found under any user's path); an unknown one is checked against the path's user, then a 404.
 */
function findCredential(ctx: SimContext, req: ApiRequest, action: string): AppCredentialDoc {
  const id = req.params.credential_id ?? '';
  const credential = ctx.store.get<AppCredentialDoc>('app_credential', id);
  requireSelfOrAdmin(req, credential?.user_id ?? req.params.id, action);
  if (!credential) throw new ApiError(404, `Could not find Application Credential: ${id}.`);
  return credential;
}

/** The application credential routes under `/v3/users/:id/application_credentials`. */
export function appCredentialRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'POST',
      path: '/v3/users/:id/application_credentials',
      op: 'create_application_credential',
      handler: (req) => ({ status: 201, body: ctx.store.transaction(() => createAppCredential(ctx, req)) }),
    },
    {
      method: 'GET',
      path: '/v3/users/:id/application_credentials',
      op: 'list_application_credentials',
      handler: (req) => {
        requireSelfOrAdmin(req, req.params.id, 'list_application_credentials');
        const name = req.query.get('name');
        const credentials = ctx.store.list<AppCredentialDoc>(
          'app_credential',
          (c) => c.user_id === req.params.id && (name === null || c.name === name),
        );
        return {
          status: 200,
          body: {
            application_credentials: credentials.map((c) => appCredentialView(ctx, c, req.baseUrl)),
            links: collectionLinks(req),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/users/:id/application_credentials/:credential_id',
      op: 'get_application_credential',
      handler: (req) => {
        const credential = findCredential(ctx, req, 'get_application_credential');
        return {
          status: 200,
          body: { application_credential: appCredentialView(ctx, credential, req.baseUrl) },
        };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/users/:id/application_credentials/:credential_id',
      op: 'delete_application_credential',
      handler: (req) => {
        const credential = findCredential(ctx, req, 'delete_application_credential');
        refuseRestricted(ctx, req);
        ctx.store.delete('app_credential', credential.id);
        return { status: 204 };
      },
    },
  ];
}
