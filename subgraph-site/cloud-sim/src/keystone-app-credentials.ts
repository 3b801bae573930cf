/** Keystone application credentials of a user: create (with a generated or given secret), list, delete. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import { ApiError, isRecord, optionalString, type Route, requireObject } from './http.js';
import {
  type AppCredentialDoc,
  assignedRoleIds,
  effectiveRoles,
  hashSecret,
  type RoleDoc,
  requireSelfOrAdmin,
} from './keystone-model.js';

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

/** The application credential routes under `/v3/users/:id/application_credentials`. */
export function appCredentialRoutes(ctx: SimContext): Route[] {
  return [
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
  ];
}
